"""A path's units, checked: a config file's model, or each chainlet of a chain file, through the pipeline and against
its lock. What `check`, `lock`, `explain`, `adopt` and the pre-push check run on each file they find."""

from __future__ import annotations

import os

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.core.pipeline import analyze, failed_model
from truss_instance_plugin.errors import ABORTS_COMMAND
from truss_instance_plugin.lock.drift import check_model

if TYPE_CHECKING:
    from truss_instance_plugin.chains.files import Files
    from truss_instance_plugin.chains.load import Chainlet
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

    Unit = tuple[Model, Chainlet | None]  # a model, or one chainlet of a chain file


def check_units(path: str, host: Host, lock: bool, walked: bool, files: Files | None = None) -> list[Unit]:
    """A config file's model, or each chainlet of a chain file (with its entry in the chain file's lock); a chain file's
    files read from `files` (a commit's) when given."""
    if not path.endswith(".py"):
        return [(check_one(path, host, lock=lock), None)]
    from truss_instance_plugin.chains.load import analyze_chain  # noqa: PLC0415 (ast and the chain reader: only when a .py file is named or found)

    try:
        units = analyze_chain(path, host, walked=walked, files=files)
        if lock:
            units = _once_per_lock([(check_model(m, c.name, files)[0], c) if c else (m, c) for m, c in units])
        return units
    except ABORTS_COMMAND:
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return [(failed_model(path, e), None)]


def _once_per_lock(units: list[Unit]) -> list[Unit]:
    """A chain file's chainlets share one lock: a finding about the file itself (missing, unusable) is on the first only."""
    seen: set[tuple[str, str]] = set()
    out: list[Unit] = []
    for m, c in units:
        about_file = [d for d in m.diagnostics if d.code in ("TI100", "TI104")]  # "no entry for chainlet X" differs per chainlet
        repeated = [d for d in about_file if (d.code, d.message) in seen]
        seen.update((d.code, d.message) for d in about_file)
        out.append((m._replace(diagnostics=tuple(d for d in m.diagnostics if d not in repeated)) if repeated else m, c))
    return out


def check_one(config: str, host: Host, *, lock: bool = True) -> Model:
    """One model through the pipeline (and its lockfile); an unexpected failure becomes its TI099 finding."""
    try:
        model = analyze(config, host)
        if lock:
            model = check_model(model)[0]
        return model
    except ABORTS_COMMAND:
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return failed_model(config, e)
