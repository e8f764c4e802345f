"""Built-in behaviour: the embedded catalog, the validation rules, cheapest-wins (a plugin, see plugins.py)."""

from __future__ import annotations

from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import InstanceType, embedded_types, fmt_int
from truss_instance_plugin.core.policy import policy_diagnostics
from truss_instance_plugin.core.resolve import cheapest
from truss_instance_plugin.diagnostics import WARNING, Diagnostic, clip

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.request import Request


def rules(model: Model) -> list[Diagnostic]:
    """The resources rules: syntax (from parsing) plus what truss silently ignores."""
    parsed = model.parsed
    diags = list(parsed.diagnostics)
    req = parsed.request
    if req is None:
        return diags
    fields = parsed.fields
    if req.instance_type is not None:
        ignored = [k for k in ("cpu", "memory", "accelerator", "use_gpu") if k in fields]
        if ignored:
            f = fields["instance_type"]
            names = ", ".join(ignored)
            message = f'instance_type "{clip(req.instance_type)}" is set, so truss ignores {names}'
            hint = f"remove {names}, or remove instance_type to let Baseten pick from them"
            diags.append(Diagnostic("TI016", WARNING, message, hint, f.line, f.col))
    if req.node_count > 1 and req.gpu_type is None and req.instance_type is None:
        f = fields["node_count"]
        message = f"node_count {fmt_int(req.node_count)} on a CPU-only request"
        hint = (
            "truss accepts this, but Baseten may not: multi-node deployments are for GPU nodes (a node is 8 GPUs); "
            "remove node_count or add an accelerator"
        )
        diags.append(Diagnostic("TI020", WARNING, message, hint, f.line, f.col))
    return diags


def catalog_entries() -> Sequence[InstanceType]:
    """The embedded catalog (Baseten's published instance types)."""
    return embedded_types()


def validate(model: Model) -> list[Diagnostic]:
    """The built-in resources rules and the project's [tool.truss-instance] policy."""
    return rules(model) + policy_diagnostics(model)


def choose_instance(request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
    """Cheapest wins (Baseten's rule)."""
    return cheapest(request, candidates)
