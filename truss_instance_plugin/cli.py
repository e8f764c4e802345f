"""The `truss-instance` command line: argv → the chosen `commands.<name>` → exit code. Nothing else lives here."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Callable, Sequence

from truss_instance_plugin import __version__
from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.core.pipeline import begin
from truss_instance_plugin.diagnostics import err, write_text
from truss_instance_plugin.errors import OutputError, Terminated, TrussInstanceError, UsageError, stop_on_signals
from truss_instance_plugin.plugins import Host, get_host

if TYPE_CHECKING:
    from types import ModuleType
    from typing import NoReturn

# truss 0.18.36's commands (forwarded unchanged); kept here so did-you-mean never shadows one.
TRUSS_COMMANDS = frozenset(
    {"auth", "chains", "cleanup", "configure", "container", "download", "image", "init", "login", "loops", "migrate",
     "model-config", "model-logs", "predict", "push", "run-python", "ssh", "train", "upgrade", "watch", "whoami"}
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")

    def _print_message(self, message: str, file: object = None) -> None:
        """--help and --version as argparse prints them, but a full disk is exit 2 (argparse ignores a failed write)."""
        if message and id(file) == id(sys.stdout):  # `is` would narrow sys.stdout to `object` for mypy
            write_text(sys.stdout, message)
        else:
            super()._print_message(message, file)  # type: ignore[arg-type]


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter without its `shutil` import (terminal width from COLUMNS, else 100)."""

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "")) - 2
        except ValueError:
            width = 98
        super().__init__(prog, width=max(width, 40))


# Our commands, in --help order: each is the module commands.<name>, imported only when it runs (or for --help).
COMMANDS = ("check", "explain", "lock", "adopt", "catalog", "plugins", "diff", "fit")


def _command(name: str) -> ModuleType:
    """The module of one of COMMANDS (`add_parser`, `run`, `HELP`)."""
    module: ModuleType = __import__(f"truss_instance_plugin.commands.{name}", fromlist=["run"])
    return module


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's (argparse setup is a visible part of a check)."""
    p = _Parser(
        prog="truss-instance",
        description="Validate, resolve, explain and lock Truss resources.",
        epilog="Any other COMMAND is truss's own and runs unchanged: " + ", ".join(sorted(TRUSS_COMMANDS - {"push"})) + ".",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"truss-instance {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        if only is None or name == only:
            command = _command(name)
            command.add_parser(sub.add_parser(name, help=command.HELP, description=command.HELP, formatter_class=_Formatter))
    if only is None:  # listed for --help; main() hands `push` (and every truss command) to truss itself
        sub.add_parser("push", help="truss's own `truss push` behind the check (same options; needs truss)")
    return p


def _unknown_command(argv: list[str]) -> int | None:
    """Did-you-mean for a misspelt command of ours; None lets truss take the command."""
    import difflib  # noqa: PLC0415 (difflib: only for a misspelt command)

    word = argv[0]
    if word in TRUSS_COMMANDS:
        return None
    guess = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.75)
    if guess:
        err(f"unknown command {word!r}; did you mean {guess[0]!r}?")
        return 2
    return None


def main(argv: Sequence[str] | None = None, *, signals: bool = False) -> int:
    """Run the CLI; returns the exit code (never raises for bad input).

    With `signals` (the command itself, not a caller in this process), SIGTERM and SIGHUP end one of our commands as
    Ctrl-C does: its workers stopped, its temp files removed, exit 128 + the signal's number (130, 143, 129).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    handling = False
    for stream in (sys.stdout, sys.stderr):  # a config may hold "\udc00" (truss loads it): print it escaped
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        if args_list and not args_list[0].startswith("-") and args_list[0] not in COMMANDS:
            code = _unknown_command(args_list)
            if code is not None:
                return code
            from truss_instance_plugin._autopush import disabled  # noqa: PLC0415 (truss commands only)
            from truss_instance_plugin.integrations.push import run_truss  # noqa: PLC0415 (truss commands only)

            # `push` and every other truss command; TRUSS_INSTANCE_DISABLE=1 is the escape hatch, as for plain `truss push`
            return run_truss(args_list, prog_name="truss-instance", guarded=not disabled())
        parser = _build_parser(args_list[0] if args_list and args_list[0] in COMMANDS else None)
        try:
            args = parser.parse_args(args_list)
        except SystemExit as e:  # --help, --version
            return e.code if isinstance(e.code, int) else 0
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        func: Callable[[argparse.Namespace, Host], int] = args.func
        if signals:  # only for our commands: truss's handle signals their own way
            stop_on_signals()
            handling = True
        return func(args, begin(get_host(), getattr(args, "catalog_file", None)))
    except TrussInstanceError as e:  # bad input, usage, a plugin, git, a lockfile, Baseten: one line
        if isinstance(e, OutputError):
            _drop_output()
        err(str(e))
        return 2
    except BrokenPipeError:
        _drop_output()
        return 1
    except Terminated as e:
        return 128 + e.signum
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        err(f"internal error: {type(e).__name__}: {e} (set TRUSS_INSTANCE_DEBUG=1 for the traceback and please report it)")
        return 2
    finally:
        if handling:  # returned: a signal now has nothing to clean up
            stop_on_signals(False)


def run() -> NoReturn:
    """Run the command line and exit with its code (the console script enters through __main__.run)."""
    exit_now(_flushed(main(signals=True)))


def _flushed(code: int) -> int:
    """The exit code once standard output is flushed: 2 with one line when it cannot be (a full disk), 1 when its reader
    left (`| head`). What is left of it is then dropped, so that no later flush fails again."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_output()
        return code or 1
    except OSError as e:
        _drop_output()
        err(f"cannot write to standard output: {e.strerror or e}")
        return 2
    return code


def _drop_output() -> None:
    """Point standard output at /dev/null: what it still buffers is lost anyway, and flushing it again must not fail."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # ValueError: no file descriptor (stdout replaced or closed)
        pass


def exit_now(code: int) -> NoReturn:
    """sys.exit(code), skipping the interpreter's teardown when only this package's code ran (mypy exits so too).

    Teardown frees every object one by one after a last full collection: a tenth of a second after 10,000 models,
    for nothing. atexit handlers still run. Not with `threading` imported (a thread may still be running) nor with
    `pluggy` (a plugin may rely on teardown, e.g. to flush a file it never closed); truss imports both.
    """
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or "threading" in sys.modules or "pluggy" in sys.modules:
        sys.exit(_flushed(code))
    run_exitfuncs()
    code = _flushed(code)
    try:  # noqa: SIM105 (contextlib.suppress would import contextlib on every exit)
        sys.stderr.flush()
    except OSError:  # nowhere left to say it
        pass
    os._exit(code)
