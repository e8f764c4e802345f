"""The pipeline for one model: load → request → catalog → resolve → validate."""

from __future__ import annotations

import os
from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import SNAPSHOT_NAME, Catalog, InstanceType, embedded_types, make_catalog, read_snapshot, stale_snapshot
from truss_instance_plugin.config import MAX_CHAIN_BYTES, LoadedConfig, dirname, exists, join, load_config, read_unlinked
from truss_instance_plugin.core.policy import catalog_setting, clear_cache
from truss_instance_plugin.core.resolve import Chooser, Resolution, Where, resolve
from truss_instance_plugin.core.resources import parse_resources
from truss_instance_plugin.diagnostics import ERROR, Diagnostic, clip, sort_diagnostics
from truss_instance_plugin.errors import PluginError
from truss_instance_plugin.model import Model
from truss_instance_plugin.request import Parsed, Request

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Read = Callable[[str, int], bytes]

    from truss_instance_plugin.plugins import Host


def begin(host: Host, catalog_file: str | None = None) -> Host:
    """Start a command on `host`: forget what the last one remembered (catalogs, resolutions, pyproject.toml files)."""
    host.catalog_file = catalog_file
    host.catalog_cache = None
    clear_cache()
    return host


def host_catalog(host: Host, config_path: str = "") -> Catalog:
    """The catalog merged from every plugin (a plugin's entry replaces a built-in one by name).

    The built-in table is the embedded catalog, or a snapshot: `--catalog FILE`, else `catalog` in the
    [tool.truss-instance] nearest to the config (to the working directory without one).
    """
    cache: dict[object, Any] = host.catalog_cache if isinstance(host.catalog_cache, dict) else {}
    host.catalog_cache = cache
    folder = ("folder", dirname(config_path))  # one pyproject search per folder (as given: no getcwd per model)
    if not host.catalog_file and folder not in cache:
        cache[folder] = catalog_setting(config_path or "pyproject.toml")
    snapshot: tuple[str, str] | None = (host.catalog_file, "") if host.catalog_file else cache[folder]
    key = os.path.abspath(snapshot[0]) if snapshot else ""
    if key in cache:
        cached: Catalog = cache[key]
        return cached
    merged: dict[str, InstanceType] = {}
    results = host.catalog_entries()
    snap = read_snapshot(*snapshot) if snapshot else None
    embedded = embedded_types() if snap else ()
    for entries in results:
        for t in snap.types if snap and tuple(entries) == embedded else entries:  # a snapshot replaces the embedded table
            merged.setdefault(t.name, t)
    types = tuple(sorted(merged.values(), key=InstanceType.sort_key))
    catalog = make_catalog(types, SNAPSHOT_NAME, snapshot[0], snap.as_of) if snap and snapshot else make_catalog(types)
    cache[key] = catalog
    return catalog


def analyze_loaded(config: LoadedConfig, host: Host, read: Read = read_unlinked) -> Model:
    """Run the pipeline on an already loaded config (`read`: how its other files are read, e.g. at a git revision)."""
    catalog = host_catalog(host, config.path)
    parsed = parse_resources(config.resources, config.trt_llm)
    model = Model(config.path, config, parsed, catalog, None, ())
    fatal = any(d.fatal for d in config.diagnostics)
    if parsed.request is not None and not fatal:

        def choose(req: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
            got = host.choose_instance(req, candidates)
            if got is not None and got not in candidates:
                raise PluginError(f"truss_instance_choose_instance returned {getattr(got, 'name', got)!r}, which is not a candidate")
            return got if isinstance(got, InstanceType) else None

        where = model.position if config.path else lambda key: (0, 0)  # a what-if has no file positions
        model = model._replace(resolution=_resolve(host, parsed.request, catalog, choose, where))
    resolution = model.resolution
    diags = list(config.diagnostics) + list(resolution.diagnostics if resolution else ()) + stale_snapshot(catalog)
    if not fatal and config.path and (config.model is not None or _loads_pretrained(config, parsed.request, read)):
        from truss_instance_plugin.core.fit import assess  # noqa: PLC0415 (only for a config that names a model: keeps the check path lean)

        fit, found = assess(model, read)
        model = model._replace(fit=fit)
        diags += found
    if not fatal:
        results = host.validate(model)
        for batch in results:
            diags.extend(batch)
    return model._replace(diagnostics=sort_diagnostics(diags))


def _loads_pretrained(config: LoadedConfig, req: Request | None, read: Read) -> bool:
    """A GPU model whose config names no model, and whose model/model.py calls from_pretrained (a byte test)."""
    if req is None or req.gpu_type is None or not config.path.endswith((".yaml", ".yml")):
        return False
    path = join(dirname(config.path), "model/model.py")
    if not exists(path):  # most trusses: one access() call, no exception built
        return False
    try:
        return b"from_pretrained" in read(path, MAX_CHAIN_BYTES)
    except OSError:
        return False


def _resolve(host: Host, req: Request, catalog: Catalog, choose: Chooser, where: Where) -> Resolution:
    """resolve(), remembered per request for the command when only the built-in chooses (a plugin may not be pure).

    Only a resolution without findings is remembered: findings carry this config's positions."""
    if host.has_plugins():
        return resolve(req, catalog, choose, where)
    cache = host.catalog_cache
    assert isinstance(cache, dict)  # host_catalog made it
    key = ("resolution", req, id(catalog))  # the catalog stays in the same cache, so its id is not reused
    got: Resolution | None = cache.get(key)
    if got is None:
        got = resolve(req, catalog, choose, where)
        if not got.diagnostics:
            cache[key] = got
    return got


def failed_model(path: str, error: BaseException) -> Model:
    """A model whose analysis failed unexpectedly: one TI099 error, no request, no instance."""
    message = f"unexpected failure while checking this model: {type(error).__name__}: {clip(str(error), 200)}"
    hint = "the other models were checked; set TRUSS_INSTANCE_DEBUG=1 for the traceback and please report it"
    config = LoadedConfig(path, None, None, [])
    parsed = Parsed(None, [], {}, {})
    empty = make_catalog(())
    return Model(path, config, parsed, empty, None, (Diagnostic("TI099", ERROR, message, hint, 1, 1),))


def analyze(path: str, host: Host) -> Model:
    """Load one config file and run the pipeline on it."""
    return analyze_loaded(load_config(path), host)
