"""The pluggy host: built-ins first (trylast), then entry points of group `truss_instance`."""

from __future__ import annotations

import os
import sys
import types
from typing import NamedTuple

import pluggy

from truss_instance_plugin import hookspecs

GROUP = hookspecs.PROJECT
BUILTIN = "truss_instance.builtin"
DISABLE_ENV = "TRUSS_INSTANCE_DISABLE_PLUGINS"


class PluginError(Exception):
    """A plugin failed to load or raised: exit 2, naming the plugin and its distribution."""


class EntryPoint(NamedTuple):
    """An entry point of our group, found without importing importlib.metadata."""

    name: str
    value: str
    dist: str
    version: str


class PluginInfo(NamedTuple):
    """What `truss-instance plugins` lists."""

    name: str
    dist: str
    version: str
    hooks: tuple[str, ...]


def _parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def scan_entry_points(group: str = GROUP, path: list[str] | None = None) -> list[EntryPoint]:
    """Entry points of `group` in every distribution on sys.path (first distribution of a name wins)."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for d in sys.path if path is None else path:
        try:
            names = sorted(os.listdir(d or "."))
        except OSError:
            continue
        for entry in names:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            stem = entry.rsplit(".", 1)[0]
            dist, _, version = stem.partition("-")
            key = dist.lower().replace("-", "_").replace(".", "_")
            if key in seen:
                continue
            seen.add(key)
            try:
                with open(os.path.join(d or ".", entry, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if f"[{group}]" in text:
                found += [EntryPoint(n, v, dist, version) for n, v in _parse_entry_points(text, group)]
    return found


def _load(ep: EntryPoint) -> object:
    import importlib

    module, _, attr = ep.value.partition(":")
    obj: object = importlib.import_module(module.strip())
    for part in attr.split(".") if attr.strip() else []:
        obj = getattr(obj, part.strip())
    return obj


class Host:
    """The plugin manager plus the distribution each plugin came from."""

    def __init__(self, load_entry_points: bool = True) -> None:
        from truss_instance_plugin import builtin

        self.pm = pluggy.PluginManager(GROUP)
        self.catalog_cache: object = None  # the merged catalog (pipeline.host_catalog)
        self.pm.add_hookspecs(hookspecs)
        self.origins: dict[str, tuple[str, str]] = {}
        self.pm.register(builtin.Builtin(), name=BUILTIN)
        self.origins[BUILTIN] = ("truss-instance-plugin", _own_version())
        for name in filter(None, (n.strip() for n in os.environ.get(DISABLE_ENV, "").split(","))):
            self.pm.set_blocked(name)
        if load_entry_points:
            for ep in scan_entry_points():
                self._register_entry_point(ep)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as e:
            raise PluginError(f"plugin {self._describe(e.plugin)} is invalid: {e}") from None

    def _register_entry_point(self, ep: EntryPoint) -> None:
        if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
            return
        where = f"{ep.name!r} (distribution {ep.dist} {ep.version})"
        try:
            plugin = _load(ep)
        except Exception as e:
            raise PluginError(f"plugin {where} failed to load: {type(e).__name__}: {e}") from None
        try:
            self.pm.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as e:
            raise PluginError(f"plugin {where} is invalid: {e}") from None
        self.origins[ep.name] = (ep.dist, ep.version)

    def _describe(self, plugin: object) -> str:
        name = self.pm.get_name(plugin) or repr(plugin)
        dist, version = self.origins.get(name, ("unknown distribution", ""))
        return f"{name!r} (distribution {dist} {version})".replace(" )", ")")

    def register(self, plugin: object, name: str, dist: str = "(test)", version: str = "") -> None:
        """Register an in-process plugin object (used by tests and `testing.register_plugin`)."""
        self.pm.register(plugin, name=name)
        self.origins[name] = (dist, version)
        self.catalog_cache = None
        self.pm.check_pending()

    def unregister(self, name: str) -> None:
        """Remove a plugin registered with `register`."""
        self.pm.unregister(name=name)
        self.origins.pop(name, None)
        self.catalog_cache = None

    def call(self, hook: str, **kwargs: object) -> object:
        """Call a hook; a plugin that raises becomes a PluginError naming it."""
        caller = getattr(self.pm.hook, hook)
        try:
            return caller(**kwargs)
        except Exception as e:
            culprit = _culprit(caller, e)
            if culprit is None or self.pm.get_name(culprit) == BUILTIN:
                raise
            name = self._describe(culprit)
            raise PluginError(f"plugin {name} raised in {hook}: {type(e).__name__}: {e}") from None

    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and hooks."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np: np[0]):
            if plugin is None:
                continue
            hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or ()))
            dist, version = self.origins.get(name, ("", ""))
            out.append(PluginInfo(name, dist, version, hooks))
        return out


def _culprit(caller: pluggy.HookCaller, exc: BaseException) -> object | None:
    codes = set()
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        codes.add(tb.tb_frame.f_code)
        tb = tb.tb_next
    for impl in caller.get_hookimpls():
        if getattr(impl.function, "__code__", None) in codes:
            return impl.plugin
    return None


def _own_version() -> str:
    from truss_instance_plugin import __version__

    return __version__


_HOST: Host | None = None


def get_host() -> Host:
    """The process-wide plugin host, built on first use."""
    global _HOST
    if _HOST is None:
        _HOST = Host()
    return _HOST


def reset_host(host: Host | None = None) -> None:
    """Drop (or replace) the process-wide host, so the next call rebuilds it."""
    global _HOST
    _HOST = host
