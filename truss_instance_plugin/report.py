"""Rendering and writing what commands print: diagnostics (text, parsable, json, github; sarif.py: sarif), explanations,
the catalog."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import (
    HOURS_PER_MONTH,
    Catalog,
    InstanceType,
    approx_bytes,
    fmt_bytes,
    fmt_cpu,
    fmt_int,
    hourly_delta,
    percent,
    round_half_up,
)
from truss_instance_plugin.core.resolve import Resolution, rejection, step_down
from truss_instance_plugin.diagnostics import CODES, Diagnostic, clip, json_safe, location, safe_line, shown, write_lines, write_text
from truss_instance_plugin.request import did_you_mean

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model


def per_hour(price_per_min: Decimal) -> str:
    """'$1.21/h'."""
    return f"${round_half_up(price_per_min * 60, '0.01')}/h"


def per_month(price_per_min: Decimal) -> str:
    """'$881/month' (730 hours)."""
    return f"${round_half_up(price_per_min * 60 * HOURS_PER_MONTH, '1'):,}/month"


def prices(price_per_min: Decimal) -> str:
    """'$0.02012/min  $1.21/h  $881/month'."""
    return f"${price_per_min}/min  {per_hour(price_per_min)}  {per_month(price_per_min)}"


def price_delta_text(old_price_per_min: Decimal, new_price_per_min: Decimal) -> str:
    """'+$1.55/h (+$1,134/month)' for a change of price per replica (730 hours a month)."""
    sign = "−" if new_price_per_min < old_price_per_min else "+"
    return f"{hourly_delta(old_price_per_min, new_price_per_min)} ({sign}{per_month(abs(new_price_per_min - old_price_per_min))})"


def delta(base: Decimal, other: Decimal) -> str:
    """'+$0.25/h (+20%)' for the hourly difference of two per-minute prices."""
    return f"{hourly_delta(base, other)} ({percent(base, other - base) if base else '+0%'})"


def summary(model: Model) -> str:
    """'A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)'."""
    res = model.resolution
    assert res is not None and res.chosen is not None
    t = res.chosen
    name = f"{res.nodes} × {t.name}" if res.nodes > 1 else t.name
    return f"{name}  {prices(t.price_per_min * res.nodes)}  ({t.describe()})"


# Diagnostics --------------------------------------------------------------------------------


def _pos(path: str, d: Diagnostic) -> str:
    return f"{path}:{d.line}:{d.col}" if d.line else path


def diagnostic_lines(path: str, d: Diagnostic, fmt: str, chainlet: str = "") -> list[str]:
    """One diagnostic in one of the line formats (text has the hint on a second line); a chainlet's is marked [NAME].
    Every value is escaped (`shown`): one diagnostic is one line (two in text), whatever its path, message or name."""
    where = d.file or path or "(what-if)"
    message = f"[{shown(clip(chainlet, 60))}] {shown(d.message)}" if chainlet else shown(d.message)
    if message is not d.message or not (d.hint.isprintable() and d.code.isprintable()):
        d = d._replace(message=message, hint=shown(d.hint), code=shown(d.code))
    if fmt == "github":
        level = {"info": "notice"}.get(d.severity, d.severity)
        text = f"{d.message}. {d.hint}" if d.hint else d.message
        loc = f"file={_gh_property(where)}" + (f",line={d.line},col={d.col}" if d.line else "")  # the path itself
        return [f"::{level} {loc},title={_gh_property(d.code)}::{_gh_escape(text)}"]
    where = location(where)
    if fmt == "parsable":
        return [f"{_pos(where, d)}: [{d.severity}] {d.code} {d.message}"]
    lines = [f"{_pos(where, d)}: {d.severity} {d.code} {d.message}"]
    if d.hint:
        lines.append(f"  {d.hint}")
    return lines


def _gh_escape(s: str) -> str:
    """A workflow command's message, escaped as @actions/core does (so data cannot forge a command)."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(s: str) -> str:
    """A workflow command's property value: the message escapes plus `:` and `,`."""
    return _gh_escape(s).replace(":", "%3A").replace(",", "%2C")


def model_json(model: Model, chainlet: str | None = None, entrypoint: bool = False) -> dict[str, object]:
    """The documented per-model JSON of `check` (a chain's chainlet also has "chainlet" and "entrypoint")."""
    chosen = model.chosen
    broken = any(d.severity == "error" and d.code < "TI100" for d in model.diagnostics)  # the resources block or its resolution
    out: dict[str, object] = {
        "config": model.path,
        "instance": chosen.as_json() if chosen and not broken else None,
        "diagnostics": [d.as_json() for d in model.diagnostics],
    }
    if chainlet is not None:
        out.update(chainlet=chainlet, entrypoint=entrypoint)
    if model.suppressed:  # what a suppression hid from "diagnostics", and how
        out["suppressed"] = [{**d.as_json(), "suppression": why.as_json()} for d, why in model.suppressed]
    if model.fit is not None:  # the config names a model and a GPU is requested
        from truss_instance_plugin.core.fit import fit_json  # noqa: PLC0415 (core.fit: only for a model the config names)

        out["fit"] = fit_json(model.fit)
    return out


def statistics(shown: Sequence[Diagnostic], suppressed: Sequence[Diagnostic]) -> list[dict[str, object]]:
    """`check --statistics`: the findings counted per code and severity, suppressed ones apart (after the others), each
    most frequent first; a plugin's code is described by its first message."""
    counts: dict[tuple[bool, str, str], int] = {}
    first: dict[str, str] = {}
    for hidden, diags in ((False, shown), (True, suppressed)):
        for d in diags:
            key = (hidden, d.code, d.severity)
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(d.code, d.message)
    rows = sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1], kv[0][2]))
    return [
        {"code": code, "count": n, "description": CODES.get(code) or clip(first[code]), "severity": severity, "suppressed": hidden}
        for (hidden, code, severity), n in rows
    ]


def dumps(obj: object) -> str:
    """Stable JSON: sorted keys, two-space indent, non-ASCII kept (but what a terminal or CI log would act on)."""
    return json_safe(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False))


# Explain ------------------------------------------------------------------------------------


def _request_line(model: Model) -> str:
    req = model.request
    assert req is not None
    raw = model.parsed.raw
    if req.instance_type is not None:
        return f'  request  instance_type "{req.instance_type}" (pinned: Baseten uses it as is)'
    fields = model.parsed.fields
    default = {k: "" if k in fields else " (default)" for k in ("cpu", "memory")}
    parts = [
        f'cpu "{raw["cpu"]}"{default["cpu"]} → {fmt_int(req.millicores)}m',
        f"memory {raw['memory']}{default['memory']} → {fmt_int(req.memory_bytes)} B",
    ]
    if req.gpu_type:
        parts.append(f"accelerator {req.gpu_type} ×{req.gpu_count}")
    else:
        parts.append("no accelerator (CPU-only)")
    if req.node_count > 1:
        parts.append(f"node_count {req.node_count}")
    return "  request  " + " · ".join(parts)


def _headroom(t: InstanceType, model: Model) -> str:
    req = model.request
    assert req is not None
    cpu = t.millicores - req.millicores
    mem = t.memory_bytes - req.memory_bytes
    parts = [f"+{fmt_cpu(cpu)} vCPU", f"+{'0 GiB' if not mem else fmt_bytes(mem) if mem % (1 << 20) == 0 else approx_bytes(mem)}"]
    if req.gpu_type:
        parts.insert(0, f"+{t.gpu_count - req.gpu_count} GPU")
    return "  headroom  " + ", ".join(parts) + " over the request"


def _funnel(res: Resolution) -> list[str]:
    return [s.label if i == 0 else f"{s.survivors} {s.label}" for i, s in enumerate(res.funnel)]


def explain_text(model: Model, replicas: int = 1, why_not: str | None = None, top: int = 8, chainlet: str = "") -> list[str]:
    """The human explanation of one model's resolution (a chain's chainlet is named after the path)."""
    where = location(model.path or "(what-if)") + (f" [{chainlet}]" if chainlet else "")
    res = model.resolution
    lines: list[str] = []
    if res is None or res.chosen is None:
        lines.append(f"{where}: no instance type")
        if model.request is not None:
            lines.append(_request_line(model))
        if res is not None and res.funnel:
            lines.append("  " + " → ".join(_funnel(res)))
    else:
        t = res.chosen
        lines.append(f"{where}: {summary(model)}")
        lines.append(_request_line(model))
        if res.funnel:
            lines.append("  " + " → ".join(_funnel(res)) + f" → cheapest: {t.name}")
            ix = res.candidates.index(t) if t in res.candidates else -1
            if 0 <= ix < len(res.candidates) - 1:
                nxt = res.candidates[ix + 1]
                lines.append(f"  next: {nxt.name} {delta(t.price_per_min, nxt.price_per_min)}")
            down = step_down(model.request, res, model.catalog) if model.request else None
            if down:
                lower, limit = down
                lines.append(
                    f"  step down: {lower.name} {delta(t.price_per_min, lower.price_per_min)} if {limit} (the request is just past it)"
                )
            if len(res.candidates) > 1 and res.candidates[1].price_per_min == t.price_per_min:
                lines.append("  tie: equal price; broken by (price, gpu_count, vcpu, memory, name)")
            lines.append(_headroom(t, model))
        if replicas > 1:
            total = t.price_per_min * res.nodes * replicas
            lines.append(f"  × {replicas} replicas  {prices(total)}")
        if res.candidates:
            lines.append(f"  candidates ({len(res.candidates)}, cheapest first)")
            for c in res.candidates[:top]:
                mark = "✔" if c == t else " "
                gpus = f"{c.gpu_count}× {c.gpu_type}" if c.gpu_type else "CPU"
                cost = per_hour(c.price_per_min) if c == t else delta(t.price_per_min, c.price_per_min)
                lines.append(f"    {mark} {c.name:<16} {gpus:<18} {fmt_cpu(c.millicores):>4} vCPU  {fmt_bytes(c.memory_bytes):>9}  {cost}")
            if len(res.candidates) > top:
                lines.append(f"      … {len(res.candidates) - top} more (--format json lists all)")
    if model.fit is not None:
        from truss_instance_plugin.core.fit import fit_lines  # noqa: PLC0415 (core.fit: only for a model the config names)

        lines += fit_lines(model.fit)
    if why_not:
        lines.append("  " + why_not_text(model, why_not))
    for d in model.diagnostics:
        lines += ["  " + x for x in diagnostic_lines(model.path, d, "text")]
    return lines


def why_not_text(model: Model, name: str) -> str:
    """Which constraint or price rule rejected `name`."""
    t = model.catalog.get(name)
    if t is None:
        guess = did_you_mean(name, [x.name for x in model.catalog.types])
        return f"why not {name}: not in the catalog" + (f' (did you mean "{guess}"?)' if guess else "")
    res, req = model.resolution, model.request
    if req is None or res is None:
        return f"why not {name}: the request has errors"
    chosen = res.chosen
    if chosen is not None and t == chosen:
        return f"why not {name}: it is the chosen type"
    if res.pinned:
        return f"why not {name}: instance_type pins {req.instance_type}"
    reason = rejection(t, req)
    if reason:
        return f"why not {name}: {reason}"
    if chosen is None:
        return f"why not {name}: it fits the request, but no type was chosen"
    if t.price_per_min > chosen.price_per_min:
        return f"why not {name}: it fits, but costs {delta(chosen.price_per_min, t.price_per_min)} more than {chosen.name}"
    return f"why not {name}: same price as {chosen.name}; the tie is broken by (price, gpu_count, vcpu, memory, name)"


def explain_json(model: Model, replicas: int = 1, why_not: str | None = None) -> dict[str, object]:
    """The documented JSON of `explain`."""
    res = model.resolution
    chosen = res.chosen if res else None
    req = model.request
    out: dict[str, object] = {
        "config": model.path or None,
        "request": req.as_json() if req else None,
        "chosen": chosen.as_json() if chosen else None,
        "candidates": [c.as_json() for c in res.candidates] if res else [],
        "funnel": [{"label": s.label, "count": s.survivors} for s in res.funnel] if res else [],
        "nodes": res.nodes if res else 1,
        "replicas": replicas,
        "diagnostics": [d.as_json() for d in model.diagnostics],
        "catalog": {"name": model.catalog.name, "as_of": model.catalog.as_of, "sha256": model.catalog.sha256},
    }
    if chosen is not None and res is not None:
        out["cost"] = _cost_json(chosen.price_per_min * res.nodes * replicas)
    if why_not:
        out["why_not"] = why_not_text(model, why_not)
    if model.fit is not None:
        from truss_instance_plugin.core.fit import fit_json  # noqa: PLC0415 (core.fit: only for a model the config names)

        out["fit"] = fit_json(model.fit)
    return out


def _cost_json(total: Decimal) -> dict[str, str]:
    return {"usd_per_min": str(total), "usd_per_hour": str(total * 60), "usd_per_month": str(total * 60 * HOURS_PER_MONTH)}


# Chains: one explanation per chainlet, and the chain's total ----------------------------------


def chain_cost(models: Sequence[Model], replicas: int = 1) -> Decimal | None:
    """USD per minute of every chainlet with `replicas` replicas each; None when one has no instance type."""
    total = Decimal(0)
    for m in models:
        res = m.resolution
        if res is None or res.chosen is None:
            return None
        total += res.chosen.price_per_min * res.nodes * replicas
    return total


def chain_total_text(path: str, chainlets: Sequence[tuple[Model, str]], replicas: int = 1) -> str:
    """'chain.py: chain total  $…/min  $…/h  $…/month  (3 chainlets, 2 replicas each)'."""
    n = len(chainlets)
    each = f"{n} chainlet{'s' if n != 1 else ''}" + (f", {replicas} replicas each" if replicas > 1 else "")
    total = chain_cost([m for m, _ in chainlets], replicas)
    if total is None:
        missing = [name for m, name in chainlets if m.chosen is None]
        verb = "has" if len(missing) == 1 else "have"
        return f"{location(path)}: chain total unknown: {', '.join(missing)} {verb} no instance type ({each})"
    return f"{location(path)}: chain total  {prices(total)}  ({each})"


def chain_json(path: str, chainlets: Sequence[tuple[Model, str, bool]], replicas: int = 1, why_not: str | None = None) -> dict[str, object]:
    """`explain --format json` of a chain file: each chainlet's explanation and the chain's cost (null when unknown)."""
    docs = [{**explain_json(m, replicas, why_not), "chainlet": name, "entrypoint": entry} for m, name, entry in chainlets]
    total = chain_cost([m for m, _, _ in chainlets], replicas)
    return {"config": path, "chainlets": docs, "replicas": replicas, "cost": _cost_json(total) if total is not None else None}


# Catalog ------------------------------------------------------------------------------------


def catalog_text(catalog: Catalog, types: list[InstanceType]) -> list[str]:
    """The catalog as a table with its provenance, each column as wide as its widest cell (a snapshot's names and
    sizes may be long)."""
    rows = [("NAME", "GPU", "VCPU", "MEMORY", "$/MIN", "$/H", "NOTE")]
    for t in types:
        gpus = f"{t.gpu_count}× {t.gpu_type} {t.vram_gib} GiB" if t.gpu_type else "-"
        price = str(t.price_per_min)
        rows.append(
            (
                location(t.name),
                gpus,
                fmt_cpu(t.millicores),
                fmt_bytes(t.memory_bytes),
                price,
                str(round_half_up(t.price_per_hour, "0.01")),
                t.note,
            )
        )
    w = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [
        f"{n:<{w[0]}}  {g:<{w[1]}}  {c:>{w[2]}}  {m:>{w[3]}}  {p:>{w[4]}}  {h:>{w[5]}}  {note}".rstrip() for n, g, c, m, p, h, note in rows
    ]
    lines.append(
        f"{len(types)} of {len(catalog.types)} types · {catalog.name} as of {catalog.as_of} · {catalog.source} · {catalog.sha256[:19]}"
    )
    return lines


# Writing ------------------------------------------------------------------------------------


def out(lines: Sequence[str], commands: bool = False, findings: dict[int, Diagnostic] | None = None, colored: bool = False) -> None:
    """Print `lines` through the choke point (diagnostics.safe_line); `findings`: the index of each diagnostic's first
    line (see add_diagnostic), coloured with `colored`; with `commands` (github annotations) no line has a text header."""
    if not colored or not findings:
        write_lines(sys.stdout, lines, commands, () if commands or findings is None else findings)
        return
    safe = [safe_line(line, commands, i in findings) for i, line in enumerate(lines)]
    for i, d in findings.items():
        safe[i] = paint(safe[i], d)
    write_text(sys.stdout, "\n".join(safe) + "\n")


def add_diagnostic(lines: list[str], findings: dict[int, Diagnostic], path: str, d: Diagnostic, fmt: str, chainlet: str = "") -> None:
    """Append a diagnostic's lines, noting where its first line is (the only place a finding's header may be)."""
    findings[len(lines)] = d
    lines += diagnostic_lines(path, d, fmt, chainlet)


def color(choice: str = "auto") -> bool:
    """Whether to colour: --color always or never; else (auto) not with NO_COLOR set (https://no-color.org), always
    with FORCE_COLOR set (https://force-color.org), else only on a terminal that is not TERM=dumb."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or (sys.stdout.isatty() and os.environ.get("TERM") != "dumb")


_ANSI = {"error": "\033[1;31m", "warning": "\033[33m", "info": "\033[36m"}


def paint(line: str, d: Diagnostic) -> str:
    marker = f": {d.severity} {d.code} "
    return line.replace(marker, f": {_ANSI.get(d.severity, '')}{d.severity}\033[0m {d.code} ", 1)


def counts(n_models: int, diags: Sequence[Diagnostic]) -> str:
    """'376 models: 2 errors, 33 warnings' (ruff's closing line)."""
    parts = []
    for severity in ("error", "warning", "info"):
        n = sum(d.severity == severity for d in diags)
        if n:
            parts.append(f"{n} {severity}{'s' if n != 1 and severity != 'info' else ''}")
    return f"{n_models} model{'s' if n_models != 1 else ''}: {', '.join(parts)}"
