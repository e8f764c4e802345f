"""The plugin contract: pluggy hook specifications for the project `truss_instance`.

Hooks are called in LIFO registration order; the built-in plugin is registered first with
``trylast=True``, so third-party implementations run before it and win ``firstresult`` hooks.
An implementation may accept fewer arguments than its spec (pluggy's opt-in arguments), so specs
only ever grow by new arguments. docs/hooks.md documents each hook; a test keeps them in sync.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from truss_instance_plugin._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from truss_instance_plugin.catalog import InstanceType
    from truss_instance_plugin.diagnostics import Diagnostic
    from truss_instance_plugin.model import Model, PushContext, PushResult
    from truss_instance_plugin.request import Request

PROJECT = "truss_instance"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = [
    "hookimpl",
    "hookspec",
    "truss_instance_after_push",
    "truss_instance_before_push",
    "truss_instance_catalog_entries",
    "truss_instance_choose_instance",
    "truss_instance_validate",
]


@hookspec
def truss_instance_catalog_entries() -> Sequence[InstanceType]:
    """Contribute instance types to the catalog.

    Results of all implementations are merged by name; an entry from a plugin replaces the
    built-in entry of the same name (plugins run first).

    :return: the instance types this plugin knows (may be empty).

    .. versionadded:: 0.1.0
    """
    raise NotImplementedError


@hookspec
def truss_instance_validate(model: Model) -> Sequence[Diagnostic]:
    """Add diagnostics for one model (validation rules and policies).

    Called after the request was resolved, so ``model.resolution.chosen`` is the predicted type
    (``None`` when the request has errors or nothing fits). A diagnostic with severity
    ``error`` fails ``check`` (exit 1) and blocks ``truss push``.

    :param model: the loaded config, its parsed request, the catalog and the resolution.
    :return: diagnostics (may be empty).

    .. versionadded:: 0.1.0
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def truss_instance_choose_instance(request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
    """Choose the instance type among the candidates that satisfy the request.

    Stops at first non-None result. The built-in implementation takes the cheapest by the total
    key (price, gpu_count, millicores, memory_bytes, name), which is Baseten's rule.

    :param request: the normalized request.
    :param candidates: every catalog type that meets or exceeds the request, cheapest first.
    :return: one of ``candidates``, or None to let the next implementation decide.

    .. versionadded:: 0.1.0
    """
    raise NotImplementedError


@hookspec
def truss_instance_before_push(model: Model, push: PushContext) -> Sequence[Diagnostic]:
    """Inspect a `truss push` before any network call; an error diagnostic vetoes the push.

    :param model: the model being pushed (as for ``truss_instance_validate``).
    :param push: the push mode: environment, whether the instance type is preserved, watch.
    :return: diagnostics (may be empty); any with severity ``error`` stops the push (exit 1).

    .. versionadded:: 0.1.0
    """
    raise NotImplementedError


@hookspec
def truss_instance_after_push(model: Model, push: PushContext, result: PushResult) -> None:
    """Receive what Baseten reported after a successful `truss push`.

    :param model: the model that was pushed.
    :param push: the push mode.
    :param result: the model name and id, the deployment id and the instance type Baseten chose.

    .. versionadded:: 0.1.0
    """
    raise NotImplementedError
