"""The shared record types: a model through the pipeline, and what a push was and returned (what hooks receive)."""

from __future__ import annotations

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from truss_instance_plugin.catalog import Catalog, InstanceType
    from truss_instance_plugin.config import LoadedConfig
    from truss_instance_plugin.core.fit import Fit
    from truss_instance_plugin.core.resolve import Resolution
    from truss_instance_plugin.diagnostics import Diagnostic, Suppressed
    from truss_instance_plugin.request import Parsed, Request


class Model(NamedTuple):
    """Everything known about one model (what hooks receive)."""

    path: str  # the config file as the user named it ("" for a what-if request)
    config: LoadedConfig
    parsed: Parsed
    catalog: Catalog
    resolution: Resolution | None
    diagnostics: tuple[Diagnostic, ...]
    fit: Fit | None = None  # will the model fit on the chosen GPUs (None: the config names no model, or no GPU)
    suppressed: tuple[Suppressed, ...] = ()  # findings a suppression hid from `diagnostics` (core/suppress.py), and how

    @property
    def request(self) -> Request | None:
        """The normalized request, or None when the resources block has errors."""
        return self.parsed.request

    def position(self, *keys: str) -> tuple[int, int]:
        """The value of the first of `keys` present in resources, else the `resources` key, else 1:1."""
        fields = self.parsed.fields
        for key in keys:
            if key in fields:
                return fields[key].line, fields[key].col
        res = self.config.resources
        return (res.key_line, res.key_col) if res is not None else (1, 1)

    @property
    def chosen(self) -> InstanceType | None:
        """The predicted instance type, or None."""
        return self.resolution.chosen if self.resolution else None


class PushContext(NamedTuple):
    """How `truss push` was called, as far as resources are concerned."""

    environment: str | None  # "production" for --promote
    preserve_env_instance_type: bool
    watch: bool
    model_name: str | None
    output_format: str = "text"


class PushResult(NamedTuple):
    """What Baseten reported for a successful push."""

    model_name: str
    model_id: str | None
    deployment_id: str | None
    instance_type: str | None
    new_model: bool
