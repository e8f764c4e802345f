"""Helpers for plugin authors' tests: register a plugin in-process, no package needed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from truss_instance_plugin.plugins import Host, get_host


@contextlib.contextmanager
def register_plugin(plugin: object, name: str = "test-plugin") -> Iterator[Host]:
    """Register `plugin` (a module, class or instance with hookimpls) for the duration of a with-block.

    Example::

        with register_plugin(NoH100()):
            assert main(["check", "models/llm"]) == 1
    """
    host = get_host()
    host.register(plugin, name)
    try:
        yield host
    finally:
        host.unregister(name)
