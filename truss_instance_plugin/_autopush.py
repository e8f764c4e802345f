"""Automatic mode: guard plain `truss push` when truss.cli.cli is imported (loaded from a .pth).

Everything here must be cheap and must never raise: it runs during Python start-up, and only
does anything when the running program is `truss` (the .pth line checks argv[0] first). truss is
an optional dependency: where it is missing nothing imports truss.cli.cli, so the finder stays
silent (tests/test_packaging.py).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `from typing import ...`: nothing more is imported at start-up
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

TARGET = "truss.cli.cli"
DISABLE_ENV = "TRUSS_INSTANCE_DISABLE"
_PROGRAMS = ("truss", "truss.exe", "truss-script.py")
# What truss says when the guard cannot be installed; the .pth line (hooks/) says the same when this module is missing,
# and sets the same flag on sys (once per process).
_SAID = "_truss_instance_unguarded"
DISABLED = (
    "truss-instance: automatic check disabled: {kind}: {why}; truss runs unguarded "
    "(reinstall truss-instance-plugin, or delete truss_instance_plugin.pth)\n"
)


def is_truss(argv: Sequence[str]) -> bool:
    """True when argv[0] is the truss console script."""
    if not argv:
        return False
    return os.path.basename(argv[0]) in _PROGRAMS


def disabled() -> bool:
    """TRUSS_INSTANCE_DISABLE=1 (or true/yes) turns the automatic mode off."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _Finder:
    """A meta-path finder that lets the real finder load truss.cli.cli, then guards `push`."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: ModuleSpec | None = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader)  # type: ignore[assignment]
                return spec
            if spec is not None:
                return spec
        return None


class _Loader:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self.inner, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _remove_finder()
        try:
            from truss_instance_plugin.integrations.push import install  # noqa: PLC0415 (runs in every truss process: the guard loads only with truss.cli.cli)

            install(module.truss_cli)
        except Exception as e:  # never break truss itself; say why the check is off
            say_disabled(e)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def say_disabled(e: BaseException) -> None:
    """One stderr line, once per process: the guard is off, why, and how to mend the install. Never raises.

    The .pth line may run twice (a venv's lib64 is often a link to lib, and site reads both); it sets the same flag."""
    try:
        if not getattr(sys, _SAID, False):
            setattr(sys, _SAID, True)
            why = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(str(e).split()))  # nothing of ours
            sys.stderr.write(DISABLED.format(kind=type(e).__name__, why=why))  # to import: the package may be gone
    except Exception:  # stderr may be gone
        pass


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def activate() -> None:
    """Install the finder once, only for the truss program and only when not disabled."""
    try:
        if disabled() or not is_truss(sys.argv) or any(isinstance(f, _Finder) for f in sys.meta_path):
            return
        module = sys.modules.get(TARGET)
        if module is not None:  # already imported: guard it directly
            from truss_instance_plugin.integrations.push import install  # noqa: PLC0415 (runs in every truss process: the guard loads only with truss.cli.cli)

            install(module.truss_cli)
            return
        sys.meta_path.insert(0, _Finder())
    except Exception as e:  # start-up must never break; truss runs unguarded, and says so
        say_disabled(e)
