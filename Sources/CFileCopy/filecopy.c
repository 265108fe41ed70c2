#define _GNU_SOURCE
#include "filecopy.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int meridian_sealed_copy(const char *path, long long max_size) {
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    struct stat info;
    if (fstat(in, &info) != 0) { int e = errno; close(in); return -e; }
    if (S_ISDIR(info.st_mode)) { close(in); return -EISDIR; }
    if (!S_ISREG(info.st_mode)) { close(in); return -ENODEV; }
    if (info.st_size > max_size) { close(in); return -EFBIG; }
    int out = memfd_create("meridian-copy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (out < 0) { int e = errno; close(in); return -e; }
    // read to the end whatever the size said: a file rewritten meanwhile is copied as read, once
    char buffer[1 << 16];
    long long total = 0;
    for (;;) {
        ssize_t n = read(in, buffer, sizeof buffer);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno; close(in); close(out); return -e;
        }
        total += n;
        if (total > max_size) { close(in); close(out); return -EFBIG; }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buffer + done, (size_t)(n - done));
            if (w < 0) {
                if (errno == EINTR) continue;
                int e = errno; close(in); close(out); return -e;
            }
            done += w;
        }
    }
    close(in);
    if (fcntl(out, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        int e = errno; close(out); return -e;
    }
    return out;
}
