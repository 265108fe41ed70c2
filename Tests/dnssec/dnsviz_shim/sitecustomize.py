"""Lets Debian 12's dnsviz (0.9.4) run with its pygraphviz (1.10): dnsviz checks the version through
`pygraphviz.release`, a module pygraphviz no longer has. Put this directory on PYTHONPATH for dnsviz
only; it gives the module back with the installed version."""
import sys
import types

try:
    import pygraphviz

    if not hasattr(pygraphviz, "release"):
        release = types.ModuleType("pygraphviz.release")
        release.version = pygraphviz.__version__
        sys.modules["pygraphviz.release"] = release
        pygraphviz.release = release
except ImportError:
    pass
