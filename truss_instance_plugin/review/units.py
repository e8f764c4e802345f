"""What the cost review compares: a unit (a model, or a chainlet of a chain file) priced at each revision, the
change between them, and money per month."""

from __future__ import annotations

import posixpath
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import HOURS_PER_MONTH, percent
from truss_instance_plugin.config import (
    CONFIG_NAME,
)
from truss_instance_plugin.diagnostics import Diagnostic
from truss_instance_plugin.report import price_delta_text
from truss_instance_plugin.request import Request

if TYPE_CHECKING:
    from truss_instance_plugin.core.fit import Fit


FORMATS = ("text", "json", "markdown")
MARKER = "<!-- truss-instance diff -->"  # the last line of the markdown: how a workflow finds its comment to update
MINUTES_PER_MONTH = 60 * HOURS_PER_MONTH


class Revision(NamedTuple):
    """One side of the comparison: a commit, or the work tree (commit None)."""

    label: str  # as the user wrote it ("origin/main"), or "working tree"
    commit: str | None

    def where(self, path: str) -> str:
        """How to name a file at this revision: git's `REV:path`, or the path in the work tree."""
        return f"{self.label}:{path}" if self.commit else path

    def at(self) -> str:
        """'at origin/main' or 'in the working tree'."""
        return f"at {self.label}" if self.commit else f"in the {self.label}"

    def title(self) -> str:
        """'origin/main (1a2b3c4)' or 'working tree'."""
        return f"{self.label} ({self.commit[:7]})" if self.commit else self.label


class Priced(NamedTuple):
    """A unit's instance type and price per replica at one revision."""

    instance_type: str
    nodes: int
    price_per_min: Decimal  # one replica: the per-node price × nodes
    request: Request
    from_lock: bool  # the side's lock was current, so its recorded type and price were used
    deployment: dict[str, object] | None

    def same_cost(self, other: Priced) -> bool:
        """Same type, node count and price."""
        return (self.instance_type, self.nodes, self.price_per_min) == (other.instance_type, other.nodes, other.price_per_min)

    def type_text(self) -> str:
        """'A10Gx4x16', or '2 × H100:8' for a multi-node unit."""
        return f"{self.nodes} × {self.instance_type}" if self.nodes > 1 else self.instance_type


class Side(NamedTuple):
    """One unit at one revision: priced, or the errors that kept it from being priced."""

    config: str  # repository-relative POSIX path of the config file (a chain file for a chainlet)
    data: bytes | None  # the config bytes (None when unreadable)
    priced: Priced | None
    errors: tuple[Diagnostic, ...]
    chainlet: str = ""  # the chainlet's name, for a unit of a chain file


class Change(NamedTuple):
    """One unit compared across the two revisions."""

    config: str  # the path at HEAD (at BASE for a removed unit)
    previous: str | None  # the path at BASE of a renamed unit
    status: str  # added, removed, renamed, changed, unchanged, error
    before: Side | None
    after: Side | None
    reasons: tuple[tuple[str, str], ...]  # (code, text)
    deployed: str | None  # the recorded deployment's type when resources changed after it (TI110)
    chainlet: str = ""  # the chainlet's name, for a unit of a chain file
    fit: Fit | None = None  # whether the model fits on its type at HEAD (a changed unit whose config names a model)

    @property
    def old(self) -> Priced | None:
        """The price at BASE (None when added or not priced there; a unit the change fixes is priced at HEAD only)."""
        return self.before.priced if self.before else None

    @property
    def new(self) -> Priced | None:
        """The price at HEAD (None when removed or not priced there; a unit the change breaks is priced at BASE only)."""
        return self.after.priced if self.after else None

    @property
    def cost_changed(self) -> bool:
        """Whether the instance type or the price moved (a pure rename did not); a unit priced at one side only (the
        change fixes or breaks it) moved the totals by its price there."""
        old, new = self.old, self.new
        if old is None and new is None:
            return False  # a config broken alike at both sides (renamed or not) is no change either
        return old is None or new is None or not old.same_cost(new)

    def delta(self) -> Decimal:
        """USD per minute per replica, HEAD minus BASE."""
        return (self.new.price_per_min if self.new else Decimal(0)) - (self.old.price_per_min if self.old else Decimal(0))


class Diff(NamedTuple):
    """Every unit of both revisions, compared (sorted by path)."""

    base: Revision
    head: Revision
    changes: tuple[Change, ...]

    def totals(self) -> tuple[Decimal, Decimal]:
        """USD per minute per replica of every unit priced at BASE and of every unit priced at HEAD."""
        before = sum((c.old.price_per_min for c in self.changes if c.old), Decimal(0))
        after = sum((c.new.price_per_min for c in self.changes if c.new), Decimal(0))
        return before, after

    def shown(self) -> list[Change]:
        """The units a reviewer needs to see: cost changes and units that could not be priced."""
        return [c for c in self.changes if c.cost_changed or c.status == "error"]


# Money --------------------------------------------------------------------------------------


def sign(d: Decimal) -> str:
    return "−" if d < 0 else "+"


def monthly(price_per_min: Decimal) -> Decimal:
    return price_per_min * MINUTES_PER_MONTH


def percent_text(before: Decimal, delta: Decimal) -> str | None:
    """'+12%', '+0.4%' (catalog.percent), None when there was nothing before."""
    return percent(before, delta) if before else None


def delta_text(old: Decimal, new: Decimal) -> str:
    """price_delta_text with the percentage when there was a price before."""
    pct = percent_text(old, new - old)
    text = price_delta_text(old, new)
    return f"{text[:-1]}, {pct})" if pct else text


def usd(d: Decimal) -> str:
    return f"{d:f}"


def costs(price_per_min: Decimal) -> dict[str, str]:
    return {
        "usd_per_min": usd(price_per_min),
        "usd_per_hour": usd(price_per_min * 60),
        "usd_per_month": usd(monthly(price_per_min)),
    }


def unit_id(s: Side) -> str:
    """How units are matched across revisions: the config path, and a chainlet's name after its chain file's."""
    return f"{s.config} [{s.chainlet}]" if s.chainlet else s.config


# Rendering ----------------------------------------------------------------------------------


def unit_name(config: str, chainlet: str = "") -> str:
    """How a unit is named: its folder for config.yaml, else the config file; a chainlet: `chain.py [Name]`."""
    folder, name = posixpath.split(config)
    return f"{config} [{chainlet}]" if chainlet else (folder or ".") if name == CONFIG_NAME else config
