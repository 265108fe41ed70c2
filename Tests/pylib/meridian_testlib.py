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


class Tally:
    """Prints PASS:/FAIL:/XFAIL: lines and counts them. `detail` is printed with failures, and with
    passes too when `detail_on_pass` (for tests whose passing details are worth reading)."""

    def __init__(self, detail_on_pass=False):
        self.passed = self.failed = self.skipped = 0
        self.detail_on_pass = detail_on_pass

    def result(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        show = detail and (not ok or self.detail_on_pass)
        print(("PASS: " if ok else "FAIL: ") + what + (f" ({detail})" if show else ""), flush=True)
        return ok

    def xfail(self, what, detail):
        """A check of a reported bug that still fails, counted as skipped."""
        self.skipped += 1
        print(f"XFAIL: {what} (known bug: {detail})", flush=True)
        return False
