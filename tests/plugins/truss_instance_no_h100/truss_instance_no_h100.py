"""A truss-instance plugin: no H100 instance types (error NOH100 at the accelerator).

Declared in pyproject.toml as::

    [project.entry-points.truss_instance]
    no_h100 = "truss_instance_no_h100"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from truss_instance_plugin import hookimpl
from truss_instance_plugin.diagnostics import ERROR, Diagnostic

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model

CODE = "NOH100"


@hookimpl
def truss_instance_validate(model: Model) -> list[Diagnostic]:
    """An error when the predicted type has H100 GPUs, at the field that asked for them."""
    chosen = model.chosen
    if chosen is None or chosen.gpu_type != "H100":
        return []
    fields = model.parsed.fields
    field = fields.get("accelerator") or fields.get("instance_type")
    line, col = (field.line, field.col) if field is not None else (0, 0)
    message = f"{chosen.name}: H100 instance types are not allowed in this organisation"
    return [Diagnostic(CODE, ERROR, message, "use A100 or L4 (plugin no_h100)", line, col)]
