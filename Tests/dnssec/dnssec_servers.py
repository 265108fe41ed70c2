"""The throw-away peers of the DNSSEC tests: configuration text for Unbound (a validating resolver with
stub zones) and Knot (a secondary or a signed parent), each confined to its own directory."""


def unbound_config(port, directory, anchor, stubs, modules="validator iterator", extra=()):
    """Unbound on 127.0.0.1:port, validating from `anchor` (a trust-anchor line, or a file path), with
    `stubs` [(zone, port)] served on 127.0.0.1; `extra` server: lines."""
    anchor_line = f'trust-anchor-file: "{anchor}"' if anchor.startswith("/") else f'trust-anchor: "{anchor}"'
    lines = [
        "server:", "  interface: 127.0.0.1", f"  port: {port}", "  do-daemonize: no", "  use-syslog: no",
        f'  logfile: "{directory}/unbound.log"', '  username: ""', '  chroot: ""', f'  directory: "{directory}"',
        f'  pidfile: "{directory}/unbound.pid"', f'  module-config: "{modules}"', f"  {anchor_line}",
        "  do-not-query-localhost: no", "  qname-minimisation: no", '  local-zone: "test." nodefault', "  val-log-level: 2",
    ] + [f"  {x}" for x in extra]
    for zone, stub_port in stubs:
        lines += ["stub-zone:", f'  name: "{zone}"', f"  stub-addr: 127.0.0.1@{stub_port}"]
    return "\n".join(lines) + "\n"


def knot_config(port, directory, body):
    """knotd on 127.0.0.1:port keeping everything in `directory`, logging to stderr; `body` adds the
    keys, remotes, ACLs, templates and zones."""
    return f"""server:
    listen: 127.0.0.1@{port}
    rundir: {directory}
    user: root:root
log:
  - target: stderr
    any: info
database:
    storage: {directory}
""" + body
