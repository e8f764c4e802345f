"""Helpers for plugin authors' tests: register a plugin in-process, no package needed.

```python
from truss_instance_plugin import hookimpl
from truss_instance_plugin.cli import main
from truss_instance_plugin.testing import register_plugin

@hookimpl
def truss_instance_validate(model):
    ...

def test_my_rule():
    with register_plugin(truss_instance_validate):
        assert main(["check", "--no-lock", "models/llm"]) == 1
```
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator

from truss_instance_plugin.hookspecs import PROJECT
from truss_instance_plugin.plugins import Host, get_host

__all__ = ["register_plugin"]

_IMPL_MARK = PROJECT + "_impl"  # the attribute pluggy's HookimplMarker sets on a function


def _as_plugin(plugin: object) -> object:
    """A bare @hookimpl function becomes a namespace holding it (pluggy registers objects)."""
    if isinstance(plugin, types.FunctionType) and hasattr(plugin, _IMPL_MARK):
        return types.SimpleNamespace(**{plugin.__name__: plugin})
    return plugin


@contextlib.contextmanager
def register_plugin(plugin: object, name: str = "test-plugin", *, host: Host | None = None) -> Iterator[Host]:
    """Register `plugin` for the duration of a with-block and yield the host.

    `plugin` is a module, a class, an instance with @hookimpl methods, or a single @hookimpl
    function. It is registered on `host` (default: the process-wide host that the CLI uses),
    so it runs before the built-in implementations, exactly as an installed plugin would, and
    is removed on exit even when the block raises. A name already registered, or an impl that
    matches no hook spec (a misspelt hook name or argument), raises PluginError.

    Example::

        with register_plugin(NoH100()):
            assert main(["check", "models/llm"]) == 1
    """
    target = get_host() if host is None else host
    target.register(_as_plugin(plugin), name)
    try:
        yield target
    finally:
        target.unregister(name)
