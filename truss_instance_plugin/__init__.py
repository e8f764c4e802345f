"""truss-instance-plugin: validate, resolve, explain and lock a Truss model's instance type."""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: the automatic check's start-up imports nothing more

if TYPE_CHECKING:
    from truss_instance_plugin.hookspecs import hookimpl

__version__ = "0.3.0"
__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> object:
    """`hookimpl` is imported on first use, so the .pth start-up path stays free of pluggy."""
    if name == "hookimpl":
        from truss_instance_plugin.hookspecs import hookimpl  # noqa: PLC0415 (pluggy: the .pth start-up path imports this package without it)

        return hookimpl
    raise AttributeError(f"module 'truss_instance_plugin' has no attribute {name!r}")
