"""The pluggy host: built-ins first (trylast), then entry points of group `truss_instance`."""

from __future__ import annotations

import os
import re
import sys
import types
from collections.abc import Mapping, Sequence

from truss_instance_plugin import __version__
from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import InstanceType
from truss_instance_plugin.core import builtin
from truss_instance_plugin.diagnostics import Diagnostic
from truss_instance_plugin.errors import PluginError

if TYPE_CHECKING:
    import pluggy

    from truss_instance_plugin.model import Model, PushContext, PushResult
    from truss_instance_plugin.request import Request

GROUP = "truss_instance"  # = hookspecs.PROJECT; hookspecs (and pluggy) load only when needed
BUILTIN = "truss_instance.builtin"
DISABLE_ENV = "TRUSS_INSTANCE_DISABLE_PLUGINS"


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
            value = value.split("[", 1)[0].strip()  # `module:attr [extra]`: extras are not part of the object reference
            out.append((name.strip(), value))
    return out


def _metadata(folder: str) -> tuple[str, str]:
    """Name and Version from a dist-info's METADATA (an egg-info's PKG-INFO); ("", "") if unreadable.

    Read only for the few distributions that declare our group, and only up to the headers' end.
    """
    for fname in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, fname), encoding="utf-8", errors="replace") as f:
                name = version = ""
                for line in f:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and key.lower() == "name":
                        name = value.strip()
                    elif sep and key.lower() == "version":
                        version = value.strip()
                return name, version
        except OSError:
            continue
    return "", ""


def normalize(name: str) -> str:
    """A distribution or plugin name for comparisons: lower case, runs of -_. as one underscore."""
    return re.sub(r"[-_.]+", "_", name).lower()


def scan_entry_points(group: str = GROUP, path: list[str] | None = None) -> list[EntryPoint]:
    """Entry points of `group` in every distribution on sys.path (first distribution of a name wins).

    Reads `*.dist-info/entry_points.txt` (and `*.egg-info/`) directly: importing importlib.metadata
    and building Distribution objects costs more than the whole check of a model.
    """
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
            key = normalize(dist)
            if key in seen:
                continue
            seen.add(key)
            folder = os.path.join(d or ".", entry)
            try:
                with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError):
                continue
            if f"[{group}]" not in text:
                continue
            eps = _parse_entry_points(text, group)
            if eps:
                name, real_version = _metadata(folder)
                dist, version = name or dist, real_version or version.partition("-")[0]
                found += [EntryPoint(n, v, dist, version) for n, v in eps]
    return found


def _load(ep: EntryPoint) -> object:
    import importlib  # noqa: PLC0415 (only to load a plugin entry point)

    module, _, attr = ep.value.partition(":")
    obj: object = importlib.import_module(module.strip())
    for part in attr.split(".") if attr.strip() else []:
        obj = getattr(obj, part.strip())
    return obj


def disabled_names(environ: Mapping[str, str] | None = None) -> set[str]:
    """The normalized names in TRUSS_INSTANCE_DISABLE_PLUGINS (entry-point or distribution names)."""
    value = (os.environ if environ is None else environ).get(DISABLE_ENV, "")
    return {normalize(n.strip()) for n in value.split(",") if n.strip()}


class Host:
    """The plugin manager plus the distribution each plugin came from.

    Order (pluggy calls the last registered first): the built-in plugin is registered first with
    every impl ``trylast=True``, then the entry points of group ``truss_instance``, then
    ``check_pending()`` rejects impls of hooks that do not exist (a misspelt hook name).
    """

    def __init__(self, load_entry_points: bool = True) -> None:
        self.catalog_cache: object = None  # the merged catalogs (pipeline.host_catalog)
        self.catalog_file: str | None = None  # `--catalog FILE`: a catalog snapshot instead of the embedded catalog
        self.origins: dict[str, tuple[str, str]] = {BUILTIN: ("truss-instance-plugin", _own_version())}
        # The built-in is not a plugin one can disable: blocking it would leave no catalog at all.
        self.disabled = disabled_names() - {normalize(BUILTIN)}
        self._pm: pluggy.PluginManager | None = None
        entry_points = scan_entry_points() if load_entry_points else []
        if entry_points:  # only then is pluggy imported: with the built-in alone, hooks are called directly
            import pluggy  # noqa: PLC0415 (pluggy: only when a plugin is installed or listed)

            for ep in entry_points:
                self._register_entry_point(ep)
            try:
                self.pm.check_pending()
            except pluggy.PluginValidationError as e:
                raise PluginError(f"plugin {self._describe(e.plugin)} is invalid: {e}") from None

    @property
    def pm(self) -> pluggy.PluginManager:
        """The pluggy manager, built on first use with the built-in plugin registered first."""
        if self._pm is None:
            import pluggy  # noqa: PLC0415 (pluggy: only when a plugin is installed or listed)

            from truss_instance_plugin import hookspecs  # noqa: PLC0415 (hookspecs imports pluggy: only when a plugin is installed)

            pm = pluggy.PluginManager(GROUP)
            pm.add_hookspecs(hookspecs)
            pm.register(_builtin_plugin(), name=BUILTIN)
            self._pm = pm
        return self._pm

    def _register_entry_point(self, ep: EntryPoint) -> None:
        import pluggy  # noqa: PLC0415 (pluggy: only when a plugin is installed or listed)

        if normalize(ep.name) in self.disabled or normalize(ep.dist) in self.disabled:
            self.pm.set_blocked(ep.name)  # listed by pluggy as blocked; never imported
            return
        if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
            return  # the same name from a later distribution on sys.path: the first one wins
        where = f"{ep.name!r} (distribution {ep.dist} {ep.version})".replace(" )", ")")
        try:
            plugin = _load(ep)
        except (Exception, SystemExit) as e:
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
        """Register an in-process plugin object (used by tests and `testing.register_plugin`).

        Raises PluginError (and registers nothing) when the name is taken or an impl does not
        match a hook spec.
        """
        import pluggy  # noqa: PLC0415 (pluggy: only when a plugin is installed or listed)

        if self.pm.has_plugin(name):
            raise PluginError(f"a plugin named {name!r} is already registered")
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as e:
            raise PluginError(f"plugin {name!r} is invalid: {e}") from None
        self.origins[name] = (dist, version)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as e:
            self.unregister(name)
            raise PluginError(f"plugin {name!r} is invalid: {e}") from None
        self.catalog_cache = None

    def unregister(self, name: str) -> None:
        """Remove a plugin registered with `register`."""
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.origins.pop(name, None)
        self.catalog_cache = None

    def has_plugins(self) -> bool:
        """Whether anything but the built-in may answer a hook (pluggy is in use)."""
        return self._pm is not None

    # One method per hook. Without installed plugins the built-in is called directly (pluggy is never imported);
    # the result is exactly what pluggy would return with the built-in as the only plugin.

    def catalog_entries(self) -> list[Sequence[InstanceType]]:
        """truss_instance_catalog_entries: every plugin's instance types (the built-in's last)."""
        if self._pm is None:
            return [builtin.catalog_entries()]
        return self._call("truss_instance_catalog_entries")  # type: ignore[return-value]

    def validate(self, model: Model) -> list[Sequence[Diagnostic]]:
        """truss_instance_validate: every plugin's findings on a model."""
        if self._pm is None:
            return [builtin.validate(model)]
        return self._call("truss_instance_validate", model=model)  # type: ignore[return-value]

    def choose_instance(self, request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
        """truss_instance_choose_instance: the first plugin's choice among the fitting types (firstresult)."""
        if self._pm is None:
            return builtin.choose_instance(request, candidates)
        return self._call("truss_instance_choose_instance", request=request, candidates=candidates)  # type: ignore[return-value]

    def before_push(self, model: Model, push: PushContext) -> list[Sequence[Diagnostic]]:
        """truss_instance_before_push: findings that block a push (the built-in has none)."""
        if self._pm is None:
            return []
        return self._call("truss_instance_before_push", model=model, push=push)  # type: ignore[return-value]

    def after_push(self, model: Model, push: PushContext, result: PushResult) -> None:
        """truss_instance_after_push: tell every plugin what Baseten reported."""
        if self._pm is not None:
            self._call("truss_instance_after_push", model=model, push=push, result=result)

    def _call(self, hook: str, **kwargs: object) -> object:
        """Call a hook through pluggy; a plugin that raises, or returns the wrong type, becomes a PluginError naming it."""
        caller = getattr(self.pm.hook, hook)
        try:
            result = caller(**kwargs)
        except Exception as e:
            culprit = _culprit(caller, e)
            if culprit is None or self.pm.get_name(culprit) == BUILTIN:
                raise
            name = self._describe(culprit)
            raise PluginError(f"plugin {name} raised in {hook}: {type(e).__name__}: {e}") from None
        wrong = _wrong_result(hook, result)
        if wrong is not None:
            suspects = [self._describe(i.plugin) for i in reversed(caller.get_hookimpls()) if i.plugin_name != BUILTIN]
            who = f"plugin {suspects[0]}" if len(suspects) == 1 else f"one of the plugins {', '.join(suspects)}"
            raise PluginError(f"{who} returned {wrong} from {hook}")
        return result

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


def _builtin_plugin() -> object:
    """The built-in behaviour as a pluggy plugin: every impl trylast, so any third-party one runs first."""
    from truss_instance_plugin.hookspecs import hookimpl  # noqa: PLC0415 (hookspecs imports pluggy: only when a plugin is installed)

    class Builtin:
        """Registered first and marked trylast."""

        @hookimpl(trylast=True)
        def truss_instance_catalog_entries(self) -> Sequence[InstanceType]:
            """The embedded catalog (Baseten's published instance types)."""
            return builtin.catalog_entries()

        @hookimpl(trylast=True)
        def truss_instance_validate(self, model: Model) -> Sequence[Diagnostic]:
            """The built-in resources rules and the project's [tool.truss-instance] policy."""
            return builtin.validate(model)

        @hookimpl(trylast=True)
        def truss_instance_choose_instance(self, request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
            """Cheapest wins (Baseten's rule)."""
            return builtin.choose_instance(request, candidates)

    return Builtin()


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


def _wrong_result(hook: str, result: object) -> str | None:
    """What is wrong with a hook's result (None when it has the documented type)."""
    item: type = {"truss_instance_catalog_entries": InstanceType}.get(hook, Diagnostic)
    if hook == "truss_instance_choose_instance":
        ok = result is None or isinstance(result, InstanceType)
        return None if ok else f"{type(result).__name__} {result!r:.80}, not an InstanceType"
    if hook == "truss_instance_after_push" or not isinstance(result, list):
        return None
    for batch in result:
        if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence):
            return f"{type(batch).__name__} {batch!r:.80}, not a list of {item.__name__}"
        for x in batch:
            if not isinstance(x, item):
                return f"a list holding {type(x).__name__} {x!r:.80}, not {item.__name__}"
    return None


def _own_version() -> str:
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
