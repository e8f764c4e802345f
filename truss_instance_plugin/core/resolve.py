"""Baseten's placement rule, offline: filter the catalog, then take the cheapest."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.catalog import LEGACY_NAMES, Catalog, InstanceType, fmt_bytes, fmt_cpu, fmt_int, index
from truss_instance_plugin.diagnostics import ERROR, WARNING, Diagnostic, clip
from truss_instance_plugin.request import Request, did_you_mean

Chooser = Callable[[Request, Sequence[InstanceType]], "InstanceType | None"]
Where = Callable[[str], "tuple[int, int]"]  # resources key -> (line, col) of its value


def _nowhere(key: str) -> tuple[int, int]:
    return (0, 0)


def _at(d: Diagnostic, where: Where, key: str) -> Diagnostic:
    line, col = where(key)
    return d._replace(line=line, col=col)


CLIFF_MARGIN = 4  # a request within 1/4 above a cheaper type's size sits "just past" it


class Step(NamedTuple):
    """One filter of the elimination funnel and how many types survive it."""

    label: str
    survivors: int


class Resolution(NamedTuple):
    """The chosen type (None when nothing fits) and how it was found."""

    chosen: InstanceType | None
    candidates: tuple[InstanceType, ...]  # every type that fits, cheapest first
    funnel: tuple[Step, ...]
    diagnostics: tuple[Diagnostic, ...]
    pinned: bool = False
    nodes: int = 1  # >1 when a multi-node request is priced per node


def cheapest(request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
    """Baseten's rule: the least expensive type, ties broken by the total key."""
    return min(candidates, key=InstanceType.sort_key, default=None)


def _scope(gpu_type: str | None) -> str:
    return gpu_type if gpu_type else "CPU-only"


def rejection(t: InstanceType, req: Request) -> str | None:
    """Why `t` does not satisfy `req`, or None when it does."""
    if t.node_count != req.node_count and t.node_count != 1:
        return f"it has {t.node_count} nodes, not {req.node_count}"
    if t.gpu_type != req.gpu_type:
        if req.gpu_type is None:
            return f"it has {t.gpu_type} GPUs and a CPU-only request never gets a GPU type"
        return f"its GPU type is {_scope(t.gpu_type)}, not {req.gpu_type}"
    if t.gpu_count < req.gpu_count:
        return f"it has {t.gpu_count} GPU{'s' if t.gpu_count != 1 else ''} < {req.gpu_count} requested"
    if t.millicores < req.millicores:
        return f"it has {fmt_cpu(t.millicores)} vCPU < {fmt_cpu(req.millicores)} requested"
    if t.memory_bytes < req.memory_bytes:
        return f"it has {fmt_bytes(t.memory_bytes)} < {fmt_bytes(req.memory_bytes)} requested"
    return None


def misfit(t: InstanceType, req: Request, catalog: Catalog) -> str | None:
    """Why resolution could not give `t` for `req` (None when it could): a pinned request takes only its pin."""
    if req.instance_type is None:
        return rejection(t, req)
    pinned = catalog.get(req.instance_type) or catalog.get(req.instance_type.strip())
    return None if pinned is not None and pinned.name == t.name else f'the request pins instance_type "{clip(req.instance_type)}"'


class _Filter(NamedTuple):
    label: str
    attr: str  # the InstanceType attribute compared
    want: object


def _filters(req: Request) -> list[_Filter]:
    steps = [_Filter(f"with {req.gpu_type}" if req.gpu_type else "CPU-only", "gpu_type", req.gpu_type)]
    if req.gpu_type:
        steps.append(_Filter(f"with ≥{req.gpu_count} GPU", "gpu_count", req.gpu_count))
    steps.append(_Filter(f"with ≥{fmt_cpu(req.millicores)} vCPU", "millicores", req.millicores))
    steps.append(_Filter(f"with ≥{fmt_bytes(req.memory_bytes)}", "memory_bytes", req.memory_bytes))
    return steps


def _show(attr: str, v: int) -> str:
    if attr == "millicores":
        return f"{fmt_cpu(v)} vCPU"
    if attr == "memory_bytes":
        return fmt_bytes(v)
    return f"{fmt_int(v)} GPU{'s' if v != 1 else ''}"


def _no_match(req: Request, catalog: Catalog, survivors: list[InstanceType], f: _Filter, where: Where) -> Diagnostic:
    """Name the constraint that emptied the set, the largest there is, and the nearest relaxation."""
    if not isinstance(f.want, int):  # the GPU type: none of this node count (or a catalog without CPU-only types)
        scope = _scope(req.gpu_type)
        counts = sorted({t.node_count for t in catalog.types if t.gpu_type == req.gpu_type})  # other node counts
        hint = "see `truss-instance catalog` for the types there are"
        if counts:
            have = " or ".join(fmt_int(n) for n in counts)
            what = f"{scope} type with {fmt_int(req.node_count)} nodes" if req.node_count > 1 else f"single-node {scope} type"
            message = f"no {what} in the catalog ({catalog.name}); its {scope} types have {have} node{'s' if counts != [1] else ''}"
            hint = f"set node_count: {have}, or {hint}"
        else:
            kinds = ", ".join(sorted({t.gpu_type or "CPU-only" for t in survivors})) or "none"
            nodes = f" with {req.node_count} nodes" if req.node_count > 1 else ""
            message = f"no {scope} type{nodes} in the catalog ({catalog.name}); it has: {kinds}"
        return _at(Diagnostic("TI030", ERROR, message, hint), where, "accelerator")
    best = min(survivors, key=lambda t: (-getattr(t, f.attr), *t.sort_key()))  # largest, then the total order
    largest = _show(f.attr, getattr(best, f.attr))
    message = f"no {_scope(req.gpu_type)} type has ≥ {_show(f.attr, f.want)}; largest is {best.name} ({largest})"
    others = [
        t for t in catalog.types
        if t.gpu_count >= req.gpu_count and t.millicores >= req.millicores and t.memory_bytes >= req.memory_bytes
    ]  # fmt: skip
    hint = f"ask for at most {largest}"
    key = {"gpu_count": "accelerator", "millicores": "cpu"}.get(f.attr, "memory")
    if others:
        alt = min(others, key=InstanceType.sort_key)
        if alt.gpu_type:
            count = f":{req.gpu_count}" if req.gpu_count > 1 else ""
            hint += f", or use accelerator {alt.gpu_type}{count} ({alt.name}, ${alt.price_per_hour:.2f}/h)"
        else:
            hint += f", or drop the accelerator ({alt.name}, ${alt.price_per_hour:.2f}/h)"
    return _at(Diagnostic("TI030", ERROR, message, hint), where, key)


def _pin(req: Request, catalog: Catalog, where: Where) -> Resolution:
    name = req.instance_type
    assert name is not None
    t = catalog.get(name) or catalog.get(name.strip())
    if t is None:
        bare = catalog.get(name[4:]) if name.startswith("CPU:") else None  # "CPU:4x16" was a CPU-only type's old name
        modern = LEGACY_NAMES.get(name) or (bare.name if bare is not None and bare.gpu_type is None else None)
        if modern:
            hint = f'"{name}" is an old name; it is called "{modern}" now'
        else:
            guess = did_you_mean(name, [x.name for x in catalog.types])
            hint = f'did you mean "{guess}"?' if guess else "see `truss-instance catalog` for the names"
        msg = f'instance_type "{clip(name)}" is not in the catalog ({catalog.name}, {len(catalog.types)} types)'
        return Resolution(None, (), (), (_at(Diagnostic("TI015", ERROR, msg, hint), where, "instance_type"),), pinned=True)
    diags = []
    if req.gpu_type is not None and (t.gpu_type != req.gpu_type or t.gpu_count < req.gpu_count):
        gpus = f"{t.gpu_count}× {t.gpu_type}" if t.gpu_type else "no GPU"
        d = Diagnostic(
            "TI017", ERROR, f'instance_type "{name}" ({gpus}) contradicts accelerator {req.gpu_type}:{req.gpu_count}',
            "truss accepts this, deploys the instance_type and ignores accelerator; remove one of the two",
        )  # fmt: skip
        diags.append(_at(d, where, "instance_type"))
    diags += [_at(d, where, "instance_type") for d in _availability(t)]
    return Resolution(t, (t,), (), tuple(diags), pinned=True)


def _availability(t: InstanceType) -> list[Diagnostic]:
    """TI023 for a type available on request only; TI027 for one a live catalog marks limited_capacity."""
    out = []
    if t.on_request:
        hint = "ask Baseten to enable it for your organization before pushing"
        out.append(Diagnostic("TI023", WARNING, f"{t.name} is available on request only", hint))
    if t.limited_capacity:
        hint = "the account's catalog marks it limited_capacity: a deployment may wait for capacity or not scale up; ask Baseten"
        out.append(Diagnostic("TI027", WARNING, f"{t.name} has limited capacity", hint))
    return out


def priced_nodes(req: Request, catalog: Catalog) -> int:
    """The node count a request is priced by: node_count when the catalog has no type with that many nodes, else 1."""
    found = index(catalog.types)
    if req.instance_type is not None or req.node_count <= 1 or (req.gpu_type is not None and req.gpu_type not in found.gpu_types):
        return 1
    return 1 if req.node_count in found.node_counts else req.node_count


def resolve(req: Request, catalog: Catalog, choose: Chooser = cheapest, where: Where = _nowhere) -> Resolution:
    """Filter the catalog by the request (meets or exceeds), then choose (cheapest by default)."""
    if req.instance_type is not None:
        return _pin(req, catalog, where)
    found = index(catalog.types)
    if req.gpu_type is not None and req.gpu_type not in found.gpu_types:
        d = Diagnostic(
            "TI022", ERROR,
            f"accelerator {req.gpu_type} has no public instance type: truss accepts it, "
            f"but the catalog ({catalog.name}) has no {req.gpu_type} type",
            f"GPU types with instances: {', '.join(catalog.gpu_types())}; "
            "or pin an instance_type that Baseten enabled for your organization",
        )  # fmt: skip
        return Resolution(None, (), (Step(f"{len(catalog.types)} types", len(catalog.types)),), (_at(d, where, "accelerator"),))
    nodes = priced_nodes(req, catalog)
    node_count = 1 if nodes > 1 else req.node_count
    funnel = [Step(f"{len(catalog.types)} types", len(catalog.types))]
    pooled = found.node_counts.get(node_count, 0)
    if pooled != len(catalog.types):
        funnel.append(Step(f"with {req.node_count} node{'s' if req.node_count > 1 else ''}", pooled))
    gpu, *sizes = _filters(req)
    pool = list(found.groups.get((node_count, req.gpu_type), ()))  # the GPU type: a lookup in the index
    funnel.append(Step(gpu.label, len(pool)))
    if not pool:
        same_nodes = [t for t in catalog.types if t.node_count == node_count]
        return Resolution(None, (), tuple(funnel), (_no_match(req, catalog, same_nodes, gpu, where),), nodes=nodes)
    for f in sizes:  # at least as many GPUs, millicores, bytes
        survivors = [t for t in pool if getattr(t, f.attr) >= f.want]
        funnel.append(Step(f.label, len(survivors)))
        if not survivors:
            return Resolution(None, (), tuple(funnel), (_no_match(req, catalog, pool, f, where),), nodes=nodes)
        pool = survivors
    candidates = tuple(pool)  # each group is in sort_key order, and filtering keeps it
    chosen = choose(req, candidates)
    diags: list[Diagnostic] = []
    diags += [_at(d, where, "accelerator") for d in (_availability(chosen) if chosen is not None else [])]
    if nodes > 1 and chosen is not None:
        d = Diagnostic(
            "TI024", WARNING,
            f"the catalog has no {fmt_int(nodes)}-node types; predicting {fmt_int(nodes)} × {chosen.name} "
            f"(price per node × {fmt_int(nodes)})",
            "multi-node types are configured by Baseten; confirm the type and price with them",
        )  # fmt: skip
        diags.append(_at(d, where, "node_count"))
    return Resolution(chosen, candidates, tuple(funnel), tuple(diags), nodes=nodes)


def step_down(req: Request, res: Resolution, catalog: Catalog) -> tuple[InstanceType, str] | None:
    """The nearest cheaper type the request just misses by one constraint (within 25%), and which."""
    chosen = res.chosen
    if chosen is None or res.pinned:
        return None
    best: tuple[InstanceType, str] | None = None
    for t in catalog.types:
        if t.gpu_type != req.gpu_type or t.price_per_min >= chosen.price_per_min or t.node_count != chosen.node_count:
            continue
        misses = [
            (name, have, want)
            for name, have, want in (
                ("accelerator count", t.gpu_count, req.gpu_count),
                ("cpu", t.millicores, req.millicores),
                ("memory", t.memory_bytes, req.memory_bytes),
            )
            if have < want
        ]
        if len(misses) != 1:
            continue
        name, have, want = misses[0]
        if (want - have) * CLIFF_MARGIN > have:
            continue
        if best is None or t.sort_key() > best[0].sort_key():
            shown = {"cpu": f"{fmt_int(have)}m", "memory": fmt_bytes(have)}.get(name, fmt_int(have))
            best = (t, f"{name} ≤ {shown}")
    return best
