"""The errors that end a command with exit 2 (one line, no traceback), and the signals that end it as Ctrl-C does; a
leaf module every stage can import."""

from __future__ import annotations

from truss_instance_plugin._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import signal as _signal
else:
    import _signal  # what signal.py wraps in enums; building them would cost a check ~2 ms


class PathError(Exception):
    """A PATH argument that names nothing we can check (exit 2)."""


class UsageError(Exception):
    """Bad arguments: exit 2."""


class PolicyError(Exception):
    """A malformed policy table or an unreadable pyproject.toml (exit 2)."""


class PluginError(Exception):
    """A plugin failed to load or raised: exit 2, naming the plugin and its distribution."""


class CatalogError(Exception):
    """A catalog snapshot that cannot be used, or a Baseten account that cannot be asked: exit 2."""


class OutputError(Exception):
    """Standard output cannot be written (a full disk): exit 2."""


class GuardError(Exception):
    """truss changed its push options in a way we cannot read: fail closed."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a CI timeout, `timeout`, a closed terminal): the command ends as on Ctrl-C, exit 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


STOPPING = tuple(getattr(_signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(_signal, name))  # no SIGHUP on Windows


def stop(signum: int, frame: object) -> None:
    """Signal handler: end the command as Ctrl-C does (KeyboardInterrupt, or Terminated), and ignore these signals from
    then on, so that nothing interrupts the way out (workers stopped, temp files removed)."""
    for s in STOPPING:
        _signal.signal(s, _signal.SIG_IGN)
    raise KeyboardInterrupt if signum == _signal.SIGINT else Terminated(signum)


def stop_on_signals(on: bool = True) -> None:
    """From now on, SIGINT, SIGTERM and SIGHUP end the command through `stop`; with `on` false, they kill the process
    (once its command has returned: there is nothing left to clean up, and no traceback to print)."""
    for s in STOPPING:
        _signal.signal(s, stop if on else _signal.SIG_DFL)
