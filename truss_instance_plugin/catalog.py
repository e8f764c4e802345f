"""The instance catalog: Baseten's published instance types with exact prices."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple

GiB = 1 << 30
MiB = 1 << 20
HOURS_PER_MONTH = 730

CATALOG_NAME = "baseten-embedded"
CATALOG_SOURCE = "https://docs.baseten.co/deployment/resources"
CATALOG_AS_OF = "2026-09-19"
CATALOG_FILE = os.path.join(os.path.dirname(__file__), "data", "baseten-instances.csv")

# Every accelerator truss 0.18.36 accepts: the values of truss.base.truss_config.Accelerator (member `_B10` is "B10").
TRUSS_ACCELERATORS = (
    "B10", "T4", "L4", "A10G", "V100", "A100", "A100_40GB", "H100", "H200",
    "H100_40GB", "B200", "L40S", "RTX_PRO_6000", "B300", "GB300",
)  # fmt: skip

# Old or informal instance type names seen in the wild, and what they are called now.
LEGACY_NAMES = {
    "L4x4x16": "L4:4x16",
    "A100x12x144": "A100:12x144",
    "H100_40GB": "H100MIG",
    "L4:2x4x16": "L4:2x24x96",
}


class InstanceType(NamedTuple):
    """One instance type: whole millicores and bytes, price in USD per minute as a Decimal."""

    name: str
    millicores: int
    memory_bytes: int
    gpu_type: str | None
    gpu_count: int
    vram_gib: int
    price_per_min: Decimal
    on_request: bool = False
    node_count: int = 1

    @property
    def price_per_hour(self) -> Decimal:
        """USD per hour (exact)."""
        return self.price_per_min * 60

    def sort_key(self) -> tuple[Decimal, int, int, int, str]:
        """The total order used to break ties: price, GPUs, millicores, bytes, name."""
        return (self.price_per_min, self.gpu_count, self.millicores, self.memory_bytes, self.name)

    def describe(self) -> str:
        """'1× A10G 24 GiB, 4 vCPU, 16 GiB' (or '4 vCPU, 16 GiB' for CPU-only)."""
        base = f"{fmt_cpu(self.millicores)} vCPU, {fmt_bytes(self.memory_bytes)}"
        if self.gpu_type is None:
            return base
        return f"{self.gpu_count}× {self.gpu_type} {self.vram_gib} GiB, {base}"

    def as_json(self) -> dict[str, object]:
        """The documented JSON shape of an instance type (prices as exact decimal strings)."""
        return {
            "name": self.name,
            "price_usd_per_min": str(self.price_per_min),
            "price_usd_per_hour": str(self.price_per_hour),
            "millicores": self.millicores,
            "memory_bytes": self.memory_bytes,
            "gpu_type": self.gpu_type,
            "gpu_count": self.gpu_count,
            "vram_gib_per_gpu": self.vram_gib,
            "node_count": self.node_count,
            "on_request": self.on_request,
        }


class Catalog(NamedTuple):
    """A set of instance types with where they came from."""

    name: str
    source: str
    as_of: str
    sha256: str
    types: tuple[InstanceType, ...]

    def get(self, name: str) -> InstanceType | None:
        """The type called `name`, or None."""
        for t in self.types:
            if t.name == name:
                return t
        return None

    def gpu_types(self) -> list[str]:
        """Accelerator names that have at least one instance type, sorted."""
        return sorted({t.gpu_type for t in self.types if t.gpu_type})

    def as_json(self) -> dict[str, object]:
        """Name, provenance and types as JSON."""
        return {
            "name": self.name,
            "source": self.source,
            "as_of": self.as_of,
            "sha256": self.sha256,
            "types": [t.as_json() for t in self.types],
        }


HUGE = 10**30  # beyond any instance: shown approximately, since str() refuses ints of 4300+ digits


def fmt_int(n: int) -> str:
    """str(n), or '~1e5000' for an absurd request size."""
    return str(n) if abs(n) < HUGE else f"~1e{int(math.log10(abs(n)))}"


def round_half_up(x: Decimal, places: str) -> Decimal:
    """`x` rounded half-up to `places` ("0.01", "1"), with precision enough for any magnitude."""
    prec = max(28, x.adjusted() + 8)  # an absurd node_count must not overflow the default 28 digits
    return x.quantize(Decimal(places), rounding=ROUND_HALF_UP, context=Context(prec=prec))


def hourly_delta(old: Decimal, new: Decimal) -> str:
    """'+$0.25/h' (or '−$0.25/h') for the hourly difference of two per-minute prices."""
    sign = "+" if new >= old else "−"
    return f"{sign}${round_half_up(abs(new - old) * 60, '0.01')}/h"


def fmt_cpu(millicores: int) -> str:
    """4000 -> '4', 3500 -> '3.5'."""
    if millicores >= HUGE:
        return fmt_int(millicores // 1000)
    whole, frac = divmod(millicores, 1000)
    return str(whole) if not frac else f"{whole}.{frac:03d}".rstrip("0")


def fmt_bytes(n: int) -> str:
    """The largest binary unit that shows `n` exactly: 16 GiB, 15500 MiB, 4300 MiB, 1 B."""
    if n >= HUGE << 40:
        return f"{fmt_int(n >> 40)} TiB"
    for unit, size in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def parse_csv(data: bytes) -> tuple[InstanceType, ...]:
    """Instance types from the published catalog CSV."""
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return tuple(
        InstanceType(
            name=row["name"],
            millicores=int(row["vcpu"]) * 1000,
            memory_bytes=int(row["memory_gib"]) * GiB,
            gpu_type=row["accelerator"] or None,
            gpu_count=int(row["gpu_count"]),
            vram_gib=int(row["vram_gib_per_gpu"] or 0),
            price_per_min=Decimal(row["price_usd_per_min"]),
            on_request="available on request" in row["notes"],
        )
        for row in rows
    )


def content_hash(types: tuple[InstanceType, ...]) -> str:
    """sha256 of the canonical JSON of the types, independent of their order."""
    rows = sorted((t.as_json() for t in types), key=lambda r: str(r["name"]))
    blob = json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def make_catalog(types: tuple[InstanceType, ...], name: str = CATALOG_NAME) -> Catalog:
    """A catalog of `types` with the embedded provenance and their content hash."""
    return Catalog(name, CATALOG_SOURCE, CATALOG_AS_OF, content_hash(types), types)


def embedded_types() -> tuple[InstanceType, ...]:
    """The instance types shipped in the package, from Baseten's published table."""
    with open(CATALOG_FILE, "rb") as f:
        return parse_csv(f.read())
