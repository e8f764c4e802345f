"""The `truss push` guard: check before any network call, record the deployment after.

Both modes use it: `truss-instance push ...` (explicit wrapper) and plain `truss push` (the
automatic hook installed by the .pth file, see _autopush.py). truss is an optional dependency: the
guard only runs inside truss, and run_truss says in one line (exit 2) when truss is not installed.
Importing this module and install() cost about a millisecond: the checker itself is imported only
when `push` runs, so other truss commands (`truss --help`, `truss predict`, ...) do not pay for it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.diagnostics import err, write_lines
from truss_instance_plugin.errors import GuardError, PluginError

if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, NoReturn

_MARK = "__truss_instance_guarded__"
NO_TRUSS = "truss is not installed: install truss, or truss-instance-plugin[truss]"


def _checks() -> ModuleType:
    """The checker (push_checks), imported only when a push runs: other truss commands never pay for it."""
    from truss_instance_plugin.integrations import push_checks  # noqa: PLC0415 (only when `push` runs)

    return push_checks


def _stop(params: dict[str, Any], message: str) -> NoReturn:
    """The check itself could not run: fail closed (exit 2), saying how to push anyway."""
    if params.get("output_format") == "json":
        _checks().json_error(f"truss-instance: {message}")
    err(f"{message}; push stopped. Set TRUSS_INSTANCE_DISABLE=1 to push without the check.")
    raise SystemExit(2)


def guard(callback: Callable[..., Any], check: str = "before_push") -> Callable[..., Any]:
    """Wrap truss's push callback with the check before (push_checks.`check`: before_push, or before_chain_push) and the
    record after."""
    if getattr(callback, _MARK, False):
        return callback

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            checks = _checks()
            checked = getattr(checks, check)(kwargs)
        except (GuardError, PluginError) as e:
            _stop(kwargs, str(e))
        except Exception as e:  # a bug in the check must not become a traceback out of `truss push`
            if os.environ.get("TRUSS_INSTANCE_DEBUG"):
                raise
            _stop(kwargs, f"internal error: {type(e).__name__}: {e} (set TRUSS_INSTANCE_DEBUG=1 for the traceback)")
        if checked is None:
            return callback(*args, **kwargs)
        if isinstance(checked, checks.ChainPush):
            with checks.capture_deployment() as seen:
                done = callback(*args, **kwargs)
            try:
                checks.after_chain_push(checked, seen)
            except Exception as e:  # the push itself succeeded; never turn it into a failure
                err(f"could not record the deployment: {type(e).__name__}: {e}")
            return done
        model, push = checked
        with checks.capture_deployment() as seen:
            try:
                return callback(*args, **kwargs)
            finally:
                # Baseten created the deployment as soon as create_truss_service returned: record it even
                # when truss fails or is interrupted afterwards (--wait timing out, Ctrl-C during --watch).
                try:
                    checks.after_push(model, push, seen)
                except Exception as e:  # the push itself succeeded; never turn it into a failure
                    err(f"could not record the deployment: {type(e).__name__}: {e}")

    setattr(guarded, _MARK, True)
    return guarded


def install(truss_cli: Any) -> None:
    """Guard the `push` and `chains push` commands of truss's click group (idempotent)."""
    cmd = getattr(truss_cli, "commands", {}).get("push")
    if cmd is None or not callable(getattr(cmd, "callback", None)):
        raise GuardError("truss has no `push` command to guard")
    cmd.callback = guard(cmd.callback)
    chains = getattr(getattr(truss_cli, "commands", {}).get("chains"), "commands", {}).get("push")
    if chains is not None and callable(getattr(chains, "callback", None)):  # a truss without it cannot push a chain
        chains.callback = guard(chains.callback, "before_chain_push")


def run_truss(argv: list[str], prog_name: str = "truss", guarded: bool = True) -> int:
    """Run truss's own CLI in-process (with push guarded unless not `guarded`); returns its exit code."""
    try:
        from truss.cli.cli import truss_cli  # noqa: PLC0415 (truss is an extra, and takes about a second to import)
    except Exception as e:  # no truss at all (it is an extra), or a broken truss install
        missing = isinstance(e, ModuleNotFoundError) and e.name == "truss"
        err(NO_TRUSS if missing else f"cannot import truss: {type(e).__name__}: {e}")
        return 2
    try:
        if guarded:
            install(truss_cli)
        truss_cli.main(argv, prog_name=prog_name, standalone_mode=True)
    except GuardError as e:
        err(str(e))
        return 2
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        _print_exit(e.code)  # sys.exit("message"): the interpreter would have printed it
        return 1
    return 0


def _print_exit(message: object) -> None:
    write_lines(sys.stderr, str(message).split("\n"))  # the lines truss meant, each through the choke point


# Chain files: `truss chains push FILE [ENTRYPOINT]` and `truss push FILE.py` ----------------------------
