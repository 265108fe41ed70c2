#ifndef MERIDIAN_SCRIPTSPAWN_H
#define MERIDIAN_SCRIPTSPAWN_H
#include <sys/types.h>

/// Starts a `script` health check: `argv[0]` (a path, not searched in PATH) with `argv`, a NULL-ended
/// list, in a new process group of its own (so a timeout can signal everything it started), with
/// stdin, stdout and stderr on /dev/null, no descriptor of the server's but those three, every signal
/// at its default disposition and none blocked (the server blocks SIGHUP/SIGTERM for its signal loop),
/// and the server's environment. Returns the child's pid, or -errno when it could not be started.
pid_t mprobe_spawn(char *const argv[]);

/// Reaps the child `pid` if it has ended, without waiting: 0 while it runs, 1 when it exited (status in
/// *exit_code), 2 when a signal ended it (the signal in *exit_code), -errno on failure.
int mprobe_reap(pid_t pid, int *exit_code);

#endif
