"""Built-in policy from `[tool.truss-instance]` in the nearest pyproject.toml up the tree."""

from __future__ import annotations

import functools
import os
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from truss_instance_plugin.diagnostics import ERROR, Diagnostic

if TYPE_CHECKING:
    from truss_instance_plugin.pipeline import Model

KEYS = ("max-usd-per-hour", "allowed-accelerators", "denied-instance-types", "require-lock")


class PolicyError(Exception):
    """A malformed policy table (exit 2)."""


@functools.lru_cache(maxsize=64)
def _find(folder: str) -> tuple[str, dict[str, Any]] | None:
    path = os.path.join(folder, "pyproject.toml")
    if os.path.isfile(path):
        import tomllib

        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise PolicyError(f"{path}: {e}") from None
        table = data.get("tool", {}).get("truss-instance")
        if table is not None:
            if not isinstance(table, dict):
                raise PolicyError(f"{path}: [tool.truss-instance] must be a table")
            unknown = sorted(set(table) - set(KEYS))
            if unknown:
                raise PolicyError(f"{path}: unknown key(s) in [tool.truss-instance]: {', '.join(unknown)}; known: {', '.join(KEYS)}")
            return path, table
        return None  # a project root without a policy ends the search
    parent = os.path.dirname(folder)
    return None if parent == folder else _find(parent)


def find_policy(config_path: str) -> tuple[str, dict[str, Any]] | None:
    """The nearest [tool.truss-instance] table above a config file, with its pyproject path."""
    return _find(os.path.dirname(os.path.abspath(config_path)))


def _where(model: Model, *keys: str) -> tuple[int, int]:
    fields = model.parsed.fields
    for k in keys:
        if k in fields:
            return fields[k].line, fields[k].col
    res = model.config.resources
    return (res.key_line, res.key_col) if res is not None else (1, 1)


def policy_diagnostics(model: Model) -> list[Diagnostic]:
    """Violations of the project's policy, positioned in config.yaml."""
    if not model.path:
        return []
    found = find_policy(model.path)
    res = model.resolution
    if found is None or res is None or res.chosen is None:
        return []
    source, table = found
    chosen = res.chosen
    out: list[Diagnostic] = []
    limit = table.get("max-usd-per-hour")
    if limit is not None:
        try:
            cap = Decimal(str(limit))
        except InvalidOperation:
            raise PolicyError(f"{source}: max-usd-per-hour must be a number, not {limit!r}") from None
        hourly = chosen.price_per_hour * res.nodes
        if hourly > cap:
            line, col = _where(model, "instance_type", "accelerator", "cpu", "memory")
            out.append(Diagnostic("TI200", ERROR, f"{chosen.name} costs ${hourly}/h, over the ${cap}/h limit", f"policy max-usd-per-hour in {source}", line, col))
    allowed = table.get("allowed-accelerators")
    if allowed is not None and chosen.gpu_type is not None and chosen.gpu_type not in allowed:
        line, col = _where(model, "accelerator", "instance_type")
        out.append(Diagnostic("TI201", ERROR, f"accelerator {chosen.gpu_type} is not allowed", f"allowed-accelerators in {source}: {', '.join(map(str, allowed)) or 'none'}", line, col))
    denied = table.get("denied-instance-types") or []
    if chosen.name in denied:
        line, col = _where(model, "instance_type", "accelerator", "cpu", "memory")
        out.append(Diagnostic("TI202", ERROR, f"instance type {chosen.name} is denied", f"denied-instance-types in {source}", line, col))
    if table.get("require-lock"):
        from truss_instance_plugin.lockfile import lock_path

        if not os.path.exists(lock_path(model.path)):
            line, col = _where(model)
            out.append(Diagnostic("TI203", ERROR, "a truss-instance.lock is required", f"require-lock in {source}; run `truss-instance lock`", line, col))
    return out
