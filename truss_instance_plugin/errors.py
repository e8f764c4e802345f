"""The errors that end a command with exit 2 (one line, no traceback; all TrussInstanceError), and the signals that end
it as Ctrl-C does; a leaf module every stage can import."""

from __future__ import annotations

from truss_instance_plugin._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import signal as _signal
else:
    import _signal  # what signal.py wraps in enums; building them would cost a check ~2 ms


class TrussInstanceError(Exception):
    """Everything that ends a command with exit 2 and one line saying what to do: bad input or usage, a plugin, git,
    a lockfile, Baseten. Not a bug: an unexpected exception is reported differently ("internal error ... please
    report it")."""


class UsageError(TrussInstanceError):
    """Bad arguments."""


class PathError(TrussInstanceError):
    """A PATH argument that names nothing we can check."""


class PolicyError(TrussInstanceError):
    """A malformed policy table or an unreadable pyproject.toml."""


class PluginError(TrussInstanceError):
    """A plugin failed to load or raised; the message names the plugin and its distribution."""


class CatalogError(TrussInstanceError):
    """A catalog snapshot that cannot be used, or a Baseten account that cannot be asked."""


class OnlineError(CatalogError):
    """Baseten could not be asked, or answered something unusable (the text never holds the API key)."""


class NotFound(OnlineError):
    """HTTP 404 from Baseten's REST API."""


class GitError(TrussInstanceError):
    """A repository or revision git cannot give us."""


class LockError(TrussInstanceError):
    """A lockfile we cannot trust: never rewritten (it may hold a deployment record)."""

    def __init__(self, message: str, line: int = 0, col: int = 0, hint: str = "") -> None:
        super().__init__(message)
        self.line, self.col, self.hint = line, col, hint  # hint: how to recover, when not the usual restore-or-regenerate


class OutputError(TrussInstanceError):
    """Standard output cannot be written (a full disk)."""


class GuardError(TrussInstanceError):
    """truss changed its push options in a way we cannot read: fail closed."""


# What stops the whole command even in the middle of one model (anything else there is that model's TI099 finding).
ABORTS_COMMAND = (PluginError, PolicyError, CatalogError)


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
