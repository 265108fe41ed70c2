"""Helpers shared by the Python tests (Tests/gslb, Tests/health, Tests/ops)."""
import socket


def free_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on `host` (Meridian listens on both)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind((host, 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")
