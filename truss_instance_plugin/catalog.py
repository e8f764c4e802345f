"""The instance catalog: Baseten's published instance types with exact prices."""

from __future__ import annotations

import datetime
import functools
import io
import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.config import read_bounded
from truss_instance_plugin.diagnostics import INFO, Diagnostic, clip, json_safe
from truss_instance_plugin.errors import CatalogError

GiB = 1 << 30
MiB = 1 << 20
HOURS_PER_MONTH = 730

CATALOG_NAME = "baseten-embedded"
CATALOG_SOURCE = "https://docs.baseten.co/deployment/resources"
CATALOG_AS_OF = "2026-09-19"
EMBEDDED_SHA256 = "sha256:9733bfb80e89ea3f135d5b88d2fc1c673afdb390b7d016518afb4e954b0a0163"  # compute_hash(embedded_types())
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


PLAUSIBLE_NAME = "letters, digits, _ . : - and single spaces, at most 64 characters"
PLAUSIBLE_ID = "letters, digits, _ and -, at most 64 characters"
# Compiled on first use (not on the check path); lockfiles hold names and ids to the same shapes.
NAME_SHAPE = r"(?a)[A-Za-z0-9](?:[A-Za-z0-9_.:-]| (?=[A-Za-z0-9_.:-]))*"
ID_SHAPE = r"(?a)[A-Za-z0-9][A-Za-z0-9_-]{0,63}"


def plausible(value: object, id: bool = False) -> bool:
    """Whether a value from a server can be recorded and shown as it is: PLAUSIBLE_NAME (an instance type, GPU type or
    environment name: A10Gx4x16, H100:8, RTX-PRO-6000:2, H200:2x8x128x1600, H100MIG, nvidia-l4, RTX PRO 6000) or, with
    `id`, PLAUSIBLE_ID (a model or deployment id). Nothing that could end a line, start markup or pass for other text.
    """
    return isinstance(value, str) and len(value) <= 64 and re.fullmatch(ID_SHAPE if id else NAME_SHAPE, value) is not None


def recordable(value: str, limit: int = 200) -> bool:
    """Free text a lockfile can hold (a model name, a resources value as written): printable, bounded, not empty."""
    return 0 < len(value) <= limit and value.isprintable()


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
    limited_capacity: bool = False  # a live catalog's `limited_capacity` (warning TI027)

    @property
    def price_per_hour(self) -> Decimal:
        """USD per hour (exact)."""
        return self.price_per_min * 60

    def sort_key(self) -> tuple[Decimal, int, int, int, str]:
        """The total order used to break ties: price, GPUs, millicores, bytes, name."""
        return (self.price_per_min, self.gpu_count, self.millicores, self.memory_bytes, self.name)

    @property
    def note(self) -> str:
        """What `catalog` shows beside the type: on request, limited capacity, N nodes."""
        notes = ["on request"] if self.on_request else []
        notes += ["limited capacity"] if self.limited_capacity else []
        notes += [f"{self.node_count} nodes"] if self.node_count > 1 else []
        return ", ".join(notes)

    def describe(self) -> str:
        """'1× A10G 24 GiB, 4 vCPU, 16 GiB' (or '4 vCPU, 16 GiB' for CPU-only)."""
        base = f"{fmt_cpu(self.millicores)} vCPU, {fmt_bytes(self.memory_bytes)}"
        if self.gpu_type is None:
            return base
        return f"{self.gpu_count}× {self.gpu_type} {self.vram_gib} GiB, {base}"

    def as_json(self) -> dict[str, object]:
        """The documented JSON shape of an instance type (prices as exact decimal strings; `limited_capacity` only when true)."""
        out: dict[str, object] = {
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
        if self.limited_capacity:  # absent otherwise, so the embedded catalog's content hash (in every lock) stays put
            out["limited_capacity"] = True
        return out


class Catalog(NamedTuple):
    """A set of instance types with where they came from."""

    name: str
    source: str
    as_of: str
    sha256: str
    types: tuple[InstanceType, ...]

    def get(self, name: str) -> InstanceType | None:
        """The (first) type called `name`, or None."""
        return index(self.types).by_name.get(name)

    def gpu_types(self) -> list[str]:
        """Accelerator names that have at least one instance type, sorted."""
        return list(index(self.types).gpu_types)

    def as_json(self) -> dict[str, object]:
        """Name, provenance and types as JSON."""
        return {
            "name": self.name,
            "source": self.source,
            "as_of": self.as_of,
            "sha256": self.sha256,
            "types": [t.as_json() for t in self.types],
        }


class Index(NamedTuple):
    """What resolution looks up in a catalog's types, built once per tuple of types."""

    by_name: dict[str, InstanceType]  # the first type of each name
    gpu_types: tuple[str, ...]  # sorted
    node_counts: dict[int, int]  # node count -> how many types have it
    groups: dict[tuple[int, str | None], tuple[InstanceType, ...]]  # (node count, GPU type) -> its types, by sort_key


_INDEXES: dict[int, tuple[tuple[InstanceType, ...], Index]] = {}  # id -> (the types, kept so the id is not reused, ...)


def index(types: tuple[InstanceType, ...]) -> Index:
    """The index of a tuple of types, remembered by identity (hashing 45 types would cost more than a scan)."""
    got = _INDEXES.get(id(types))
    if got is not None:
        return got[1]
    by_name: dict[str, InstanceType] = {}
    node_counts: dict[int, int] = {}
    groups: dict[tuple[int, str | None], list[InstanceType]] = {}
    for t in sorted(types, key=InstanceType.sort_key):
        groups.setdefault((t.node_count, t.gpu_type), []).append(t)
    for t in types:
        by_name.setdefault(t.name, t)
        node_counts[t.node_count] = node_counts.get(t.node_count, 0) + 1
    gpus = tuple(sorted({t.gpu_type for t in types if t.gpu_type}))
    built = Index(by_name, gpus, node_counts, {k: tuple(v) for k, v in groups.items()})
    if len(_INDEXES) >= 64:  # a long-lived process (tests, the push guard) makes many catalogs
        _INDEXES.clear()
    _INDEXES[id(types)] = (types, built)
    return built


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


def percent(before: Decimal, delta: Decimal) -> str:
    """'+20%', '+0.4%', '+<0.1%' (or '−…'): `delta` as a percentage of `before` (> 0), rounded half-up to a whole
    percent from 1% up and to 0.1% below it, so that a small change never reads as 0%."""
    pct = abs(delta) * 100 / before
    tenth = round_half_up(pct, "0.1")
    shown = str(round_half_up(pct, "1")) if tenth >= 1 or not pct else str(tenth) if tenth else "<0.1"
    return f"{'−' if delta < 0 else '+'}{shown}%"


def fmt_cpu(millicores: int) -> str:
    """4000 -> '4', 3500 -> '3.5'."""
    if millicores >= HUGE:
        return fmt_int(millicores // 1000)
    whole, frac = divmod(millicores, 1000)
    return str(whole) if not frac else f"{whole}.{frac:03d}".rstrip("0")


_DECIMAL = (("EB", 10**18), ("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3))


def fmt_bytes(n: int) -> str:
    """`n` as written: the largest binary unit from MiB up that shows it exactly (16 GiB, 15500 MiB), else the largest
    decimal one, with its size in binary units (16 GB (14.9 GiB)), else KiB or bytes."""
    if n >= HUGE << 40:
        return f"{fmt_int(n >> 40)} TiB"
    for unit, size in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    for unit, size in _DECIMAL:
        if n >= size and n % size == 0:
            return f"{n // size} {unit} ({approx_bytes(n)})"
    return f"{n >> 10} KiB" if n >= 1 << 10 and n % (1 << 10) == 0 else f"{n} B"


def approx_bytes(n: int) -> str:
    """`n` rounded half-up to a tenth of the largest binary unit it reaches: 14.9 GiB, 476.8 MiB, 1.0 KiB."""
    for unit, size in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= size:
            return f"{round_half_up(Decimal(n) / size, '0.1')} {unit}"
    return f"{n} B"


def parse_csv(data: bytes) -> tuple[InstanceType, ...]:
    """Instance types from the published catalog CSV."""
    text = data.decode("utf-8")
    if '"' in text:  # quoted fields need the csv module; the embedded table has none, and splitting is faster
        import csv  # noqa: PLC0415 (csv: only for a CSV catalog file (the embedded one is read without it))

        rows = [list(r.values()) for r in csv.DictReader(io.StringIO(text))]
    else:
        rows = [line.split(",", 7) for line in text.splitlines()[1:] if line]
    return tuple(
        InstanceType(
            name=name,
            millicores=int(vcpu) * 1000,
            memory_bytes=int(memory_gib) * GiB,
            gpu_type=accelerator or None,
            gpu_count=int(gpu_count),
            vram_gib=int(vram or 0),
            price_per_min=Decimal(price),
            on_request="available on request" in notes,
        )
        for name, vcpu, memory_gib, accelerator, gpu_count, vram, price, notes in rows
    )


def content_hash(types: tuple[InstanceType, ...]) -> str:
    """sha256 of the canonical JSON of the types, independent of their order."""
    if frozenset(types) == frozenset(embedded_types()):
        return EMBEDDED_SHA256  # json and hashlib stay off the check path (a test proves the constant)
    return compute_hash(types)


def compute_hash(types: tuple[InstanceType, ...]) -> str:
    """content_hash, always computed."""
    import hashlib  # noqa: PLC0415 (hashlib: only to hash a catalog that is not the embedded one)
    import json  # noqa: PLC0415 (json: only for a catalog snapshot)

    rows = sorted((t.as_json() for t in types), key=lambda r: str(r["name"]))
    blob = json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def make_catalog(
    types: tuple[InstanceType, ...], name: str = CATALOG_NAME, source: str = CATALOG_SOURCE, as_of: str = CATALOG_AS_OF
) -> Catalog:
    """A catalog of `types` with their content hash (and the embedded provenance unless given)."""
    return Catalog(name, source, as_of, content_hash(types), types)


@functools.lru_cache(maxsize=1)
def embedded_types() -> tuple[InstanceType, ...]:
    """The instance types shipped in the package, from Baseten's published table."""
    with open(CATALOG_FILE, "rb") as f:
        return parse_csv(f.read())


# Catalog snapshots: the account's live catalog, fetched by `truss-instance catalog fetch` (online.py) --------------

SNAPSHOT_NAME = "baseten-snapshot"
SNAPSHOT_VERSION = 1
SNAPSHOT_GENERATOR = "truss-instance catalog fetch"
STALE_DAYS = 90
MAX_SNAPSHOT_BYTES = 8 << 20
MAX_SNAPSHOT_TYPES = 5000  # types and unmapped entries together; Baseten lists some 50
SNAPSHOT_KEYS = frozenset({"generator", "snapshot_version", "source", "as_of", "sha256", "types", "unmapped"})
# One type as Baseten's `listed_instances` gave it (units in the names), plus the accelerator truss users write.
RECORD_KEYS = frozenset(
    {"name", "id", "display_name", "default", "accelerator", "gpu_type", "gpu_count", "gpu_memory_mib",
     "millicpu_limit", "memory_limit_mib", "node_count", "price_usd_per_min", "limited_capacity"}
)  # fmt: skip
UNMAPPED_KEYS = frozenset({"name", "gpu_type", "gpu_count", "reason"})
_PRICE_RE = r"(?a)[0-9]+(?:\.[0-9]+)?"  # compiled on first use (re caches it): the check path never needs them
_DATE_RE = r"(?a)[0-9]{4}-[0-9]{2}-[0-9]{2}"


class Snapshot(NamedTuple):
    """A catalog snapshot: the account's instance types as Baseten listed them on one day."""

    source: str  # the remote URL it came from (never the key)
    as_of: str  # the fetch date, YYYY-MM-DD (UTC)
    records: tuple[dict[str, object], ...]  # sorted by name
    unmapped: tuple[dict[str, object], ...]  # listed types no accelerator truss accepts was found for (kept, not dropped)
    types: tuple[InstanceType, ...]


def _int(rec: Mapping[str, object], key: str, low: int) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key} must be an integer ≥ {low}, not {value!r}")
    return value


def _opt(rec: Mapping[str, object], key: str, kind: type) -> object:
    value = rec.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{key} must be a {kind.__name__} or null, not {value!r}")
    return value


def type_from_record(rec: Mapping[str, object]) -> InstanceType:
    """The instance type of a snapshot record: millicpu_limit is millicores, memory_limit_mib is MiB (2^20 bytes).

    ValueError says which value is unusable.
    """
    name = rec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, not {name!r}")
    gpu_count = _int(rec, "gpu_count", 0)
    accelerator = _opt(rec, "accelerator", str)
    if accelerator is not None and accelerator not in TRUSS_ACCELERATORS:
        raise ValueError(f"accelerator {accelerator!r} is not one truss accepts")
    if (accelerator is None) != (gpu_count == 0):
        raise ValueError(f"accelerator {accelerator!r} and gpu_count {gpu_count} disagree")
    price = rec.get("price_usd_per_min")
    if not isinstance(price, str) or not re.fullmatch(_PRICE_RE, price):
        raise ValueError(f'price_usd_per_min must be a decimal string like "0.02012", not {price!r}')
    gpu_memory = _opt(rec, "gpu_memory_mib", int)
    if isinstance(gpu_memory, bool) or (isinstance(gpu_memory, int) and gpu_memory < 0):
        raise ValueError(f"gpu_memory_mib must be an integer ≥ 0 or null, not {gpu_memory!r}")
    for key in ("default", "limited_capacity"):
        if not isinstance(rec.get(key), bool):
            raise ValueError(f"{key} must be true or false, not {rec.get(key)!r}")
    for key in ("id", "display_name", "gpu_type"):
        _opt(rec, key, str)
    return InstanceType(
        name=name,
        millicores=_int(rec, "millicpu_limit", 1),
        memory_bytes=_int(rec, "memory_limit_mib", 1) * MiB,
        gpu_type=accelerator,
        gpu_count=gpu_count,
        vram_gib=(gpu_memory + 512) // 1024 if isinstance(gpu_memory, int) else 0,  # nearest GiB (inference: MiB per GPU)
        price_per_min=Decimal(price),
        node_count=_int(rec, "node_count", 1),
        limited_capacity=rec["limited_capacity"] is True,
    )


def make_snapshot(source: str, as_of: str, records: list[dict[str, object]], unmapped: list[dict[str, object]]) -> Snapshot:
    """A validated snapshot (ValueError names the record and the value that is unusable)."""
    if not records:
        raise ValueError("it lists no usable instance type")
    if len(records) + len(unmapped) > MAX_SNAPSHOT_TYPES:
        raise ValueError(f"it lists {len(records) + len(unmapped)} instance types; at most {MAX_SNAPSHOT_TYPES} can be used")
    types = []
    for rec in records:
        if set(rec) != RECORD_KEYS:
            raise ValueError(f"type {rec.get('name')!r} has keys {sorted(rec)}; expected {sorted(RECORD_KEYS)}")
        try:
            types.append(type_from_record(rec))
        except ValueError as e:
            raise ValueError(f"type {rec.get('name')!r}: {e}") from None
    names = [t.name for t in types]
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)  # not names.count: quadratic
    if dupes:
        raise ValueError(f"type names appear twice: {', '.join(dupes)}")
    for item in unmapped:
        if set(item) != UNMAPPED_KEYS:
            raise ValueError(f"unmapped entry {item.get('name')!r} has keys {sorted(item)}; expected {sorted(UNMAPPED_KEYS)}")
    order = sorted(range(len(records)), key=lambda i: names[i])
    return Snapshot(
        source,
        as_of,
        tuple(records[i] for i in order),
        tuple(sorted(unmapped, key=lambda u: (str(u["name"]), str(u["reason"])))),
        tuple(types[i] for i in order),
    )


def render_snapshot(snap: Snapshot) -> bytes:
    """The snapshot file: sorted JSON, two-space indent, LF, trailing newline, prices as decimal strings, no floats."""
    doc = {
        "generator": SNAPSHOT_GENERATOR,
        "snapshot_version": SNAPSHOT_VERSION,
        "source": snap.source,
        "as_of": snap.as_of,
        "sha256": content_hash(snap.types),
        "types": list(snap.records),
        "unmapped": list(snap.unmapped),
    }
    import json  # noqa: PLC0415 (json: only for a catalog snapshot)

    # json_safe: a server's names are printed (`catalog fetch` to stdout) and shown in reviews: no control character raw
    return (json_safe(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)) + "\n").encode("utf-8")


def read_snapshot(path: str, named_by: str = "") -> Snapshot:
    """A catalog snapshot file; CatalogError (exit 2) says what is wrong with it, who named it, and how to get a good one."""
    import json  # noqa: PLC0415 (json: only for a catalog snapshot)

    refetch = f"run `truss-instance catalog fetch -o {path}` to fetch it again" + (f" (named by {named_by})" if named_by else "")
    try:
        data = read_bounded(path, MAX_SNAPSHOT_BYTES)  # a regular file only, read with a bound
    except OSError as e:
        raise CatalogError(f"{path}: cannot read the catalog snapshot: {e.strerror or e}; {refetch}") from None
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise CatalogError(f"{path}: larger than {MAX_SNAPSHOT_BYTES >> 20} MiB, not a catalog snapshot; {refetch}")
    try:
        doc = json.loads(data.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8, not a catalog snapshot; {refetch}") from None
    except json.JSONDecodeError as e:
        raise CatalogError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}; {refetch}") from None
    except RecursionError:
        raise CatalogError(f"{path}: arrays or objects nested too deeply, not a catalog snapshot; {refetch}") from None
    except (ValueError, ArithmeticError):  # int() refuses 4,300+ digits; Decimal() an exponent past 10^18
        raise CatalogError(f"{path}: a number with too many digits or too large an exponent, not a catalog snapshot; {refetch}") from None
    try:
        snap = _parse_snapshot(doc)
    except ValueError as e:  # it names the value: shortened, since a value may be megabytes long
        raise CatalogError(f"{path}: cannot be used as a catalog snapshot: {clip(str(e), 200)}; {refetch}") from None
    except RecursionError:  # quoting a value nested almost as deep as json reads
        raise CatalogError(f"{path}: cannot be used as a catalog snapshot: a value nested too deeply; {refetch}") from None
    return snap


def _parse_snapshot(doc: object) -> Snapshot:
    if not isinstance(doc, dict):
        raise ValueError("the top level is not an object")
    version = doc.get("snapshot_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SNAPSHOT_VERSION:
        raise ValueError(f"snapshot_version {version} is newer than this truss-instance understands ({SNAPSHOT_VERSION}); upgrade it")
    if version != SNAPSHOT_VERSION or isinstance(version, bool):
        raise ValueError(f"snapshot_version must be {SNAPSHOT_VERSION}, not {version!r}")
    if set(doc) != SNAPSHOT_KEYS:
        unknown, missing = sorted(set(doc) - SNAPSHOT_KEYS), sorted(SNAPSHOT_KEYS - set(doc))
        raise ValueError("; ".join(x for x in (unknown and f"unknown keys {unknown}", missing and f"missing keys {missing}") if x))
    source, as_of, records, unmapped = doc["source"], doc["as_of"], doc["types"], doc["unmapped"]
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, not {source!r}")
    if not isinstance(as_of, str) or not re.fullmatch(_DATE_RE, as_of) or not _valid_date(as_of):
        raise ValueError(f"as_of must be a date like 2026-09-19, not {as_of!r}")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("types must be a list of objects")
    if not isinstance(unmapped, list) or not all(isinstance(u, dict) for u in unmapped):
        raise ValueError("unmapped must be a list of objects")
    snap = make_snapshot(source, as_of, records, unmapped)
    if doc["sha256"] != content_hash(snap.types):
        raise ValueError("sha256 does not match its types (hand-edited?)")
    return snap


def _valid_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def stale_snapshot(catalog: Catalog, today: str | None = None) -> list[Diagnostic]:
    """Info TI106 when the catalog in use is a snapshot fetched more than STALE_DAYS days before `today` (UTC)."""
    if catalog.name != SNAPSHOT_NAME:
        return []

    now = datetime.date.fromisoformat(today) if today else datetime.datetime.now(datetime.UTC).date()
    age = (now - datetime.date.fromisoformat(catalog.as_of)).days
    if age <= STALE_DAYS:
        return []
    diag = Diagnostic(
        "TI106", INFO, f"the catalog snapshot was fetched {age} days ago ({catalog.as_of}): prices and limits may have changed",
        f"run `truss-instance catalog fetch -o {catalog.source}` and commit it", file=catalog.source,
    )  # fmt: skip
    return [diag]
