"""Pricing one unit at one revision: its lock when current, else its config (or chain file) resolved."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.chains.files import Files
from truss_instance_plugin.config import (
    LoadedConfig,
    load_config,
    load_config_bytes,
)
from truss_instance_plugin.core.fit import assess, sources_of
from truss_instance_plugin.core.pipeline import analyze_loaded, host_catalog
from truss_instance_plugin.core.resolve import resolve
from truss_instance_plugin.core.resources import parse_resources
from truss_instance_plugin.diagnostics import ERROR, Diagnostic
from truss_instance_plugin.discover import posix
from truss_instance_plugin.errors import LockError
from truss_instance_plugin.lock.format import ChainLock, Lock, parse_lock, request_hash
from truss_instance_plugin.model import Model
from truss_instance_plugin.request import Request
from truss_instance_plugin.review.revisions import Content
from truss_instance_plugin.review.units import Priced, Side

if TYPE_CHECKING:
    from truss_instance_plugin.core.fit import Fit
    from truss_instance_plugin.plugins import Host


# Pricing ------------------------------------------------------------------------------------


def _parse_lock(data: bytes) -> Lock | ChainLock | None:
    """The lock in `data`, None when it cannot be used (the unit is then priced from its config)."""
    try:
        return parse_lock(data)
    except LockError:
        return None


def _from_lock(lock: Lock, req: Request) -> Priced | None:
    """The lock's recorded type and price when the lock is current for `req`."""
    if lock.request_hash != request_hash(req):
        return None
    nodes = lock.resolved.get("nodes", 1)
    try:
        price = Decimal(str(lock.resolved.get("price_usd_per_min")))
    except InvalidOperation:
        return None
    if not isinstance(nodes, int) or isinstance(nodes, bool) or nodes < 1 or not price.is_finite() or price < 0:
        return None
    return Priced(lock.instance_type, nodes, price, req, True, lock.deployment)


def price_side(root: str, path: str, content: Content, lock_data: bytes | None, host: Host, files: Files | None = None) -> Side:
    """Price one unit at one revision: its lock when current, else its config resolved with the catalog in use (its other
    files read from `files`: the revision's)."""
    full = os.path.join(root, path)
    loaded: LoadedConfig = load_config(full) if isinstance(content, OSError) else load_config_bytes(full, content)
    data = content if isinstance(content, bytes) else None
    got = _parse_lock(lock_data) if lock_data is not None else None
    lock = got if isinstance(got, Lock) else None
    req = None if any(d.fatal for d in loaded.diagnostics) else parse_resources(loaded.resources).request
    if req is not None and lock is not None and (priced := _from_lock(lock, req)) is not None:
        return Side(path, data, priced, ())  # the lock decides: no need to resolve

    model = analyze_loaded(loaded, host, files.read) if files is not None else analyze_loaded(loaded, host)
    return _side(path, data, model, lock)


def _side(path: str, data: bytes | None, model: Model, lock: Lock | None, chainlet: str = "") -> Side:
    """An analysed unit priced: its lock's recorded type when the lock is current, else the resolution, else its errors."""
    req, res = model.request, model.resolution
    if req is not None and lock is not None and (priced := _from_lock(lock, req)) is not None:
        return Side(path, data, priced, (), chainlet)
    if req is None or res is None or res.chosen is None:
        errors = tuple(d for d in model.diagnostics if d.severity == ERROR)
        return Side(path, data, None, errors or (Diagnostic("TI030", ERROR, "no instance type was chosen"),), chainlet)
    price = res.chosen.price_per_min * res.nodes
    return Side(path, data, Priced(res.chosen.name, res.nodes, price, req, False, lock.deployment if lock else None), (), chainlet)


def price_chain(root: str, path: str, content: Content, lock_data: bytes | None, host: Host, files: Files) -> list[Side]:
    """Price each chainlet of the chain file `path` (repository-relative) of the repository `root`, its files read from
    `files` (the work tree, or a commit's blobs), like a model: its entry in the chain's lock when current, else its
    compute resolved; one Side with the errors when the file cannot be read. Findings name repository paths."""
    from truss_instance_plugin.chains.load import analyze_chain  # noqa: PLC0415 (ast and the chain reader: only for chain files)

    data = content if isinstance(content, bytes) else None
    got = _parse_lock(lock_data) if lock_data is not None else None
    entries = got.chainlets if isinstance(got, ChainLock) else {}

    prefix = os.path.join(root, "")

    def clean(d: Diagnostic) -> Diagnostic:
        where = posix(os.path.relpath(d.file, root)) if d.file else ""
        return d._replace(message=d.message.replace(prefix, ""), hint=d.hint.replace(prefix, ""), file=where)

    sides: list[Side] = []
    # walked: a file that defines no chainlet (a helper that imports truss_chains) is no unit, as in check's walk
    for model, chainlet in analyze_chain(os.path.join(root, *path.split("/")), host, walked=True, files=files):
        name = chainlet.name if chainlet is not None else ""
        side = _side(path, data, model, entries.get(name), name)
        sides.append(side._replace(errors=tuple(clean(d) for d in side.errors)))
    return sides


def fit_at(root: str, side: Side, host: Host, files: Files) -> Fit | None:
    """Whether the unit's model fits on its instance type at this revision, from the config and the sizes snapshot read
    from `files` (the commit's blobs, or the work tree); None when its config names no model. Plugins are not asked
    again: the type is the one the unit was priced with."""
    if side.data is None or side.priced is None or side.chainlet or side.config.endswith(".py"):
        return None
    full = os.path.join(root, side.config)
    loaded = load_config_bytes(full, side.data)
    parsed = parse_resources(loaded.resources, loaded.trt_llm)
    if parsed.request is None or sources_of(loaded, files.read) is None:
        return None
    catalog = host_catalog(host, full)
    res = resolve(parsed.request, catalog)
    chosen = catalog.get(side.priced.instance_type) or res.chosen
    model = Model(full, loaded, parsed, catalog, res._replace(chosen=chosen), ())
    return assess(model, files.read)[0]
