"""truss-instance.lock: format, deterministic bytes, parsing, and `lock` writes (atomic, only on change)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from support import GOLDEN, golden, run_cli

from truss_instance_plugin import lockfile, plugins
from truss_instance_plugin.atomic import write_if_changed
from truss_instance_plugin.catalog import embedded_types, make_catalog
from truss_instance_plugin.lockfile import (
    HEADER,
    LOCK_VERSION,
    Lock,
    LockError,
    config_for_lock,
    lock_path,
    parse_lock,
    read_lock,
    render,
    request_hash,
)
from truss_instance_plugin.request import Request

ROOT = Path(__file__).resolve().parents[1]
SDXL = ROOT / "examples" / "sdxl"
LOCK = Path("models/sdxl/truss-instance.lock")
CONFIG = Path("models/sdxl/config.yaml")
OLD = 1_000_000_000  # an mtime far in the past: any write would move it


def leftovers(folder: Path) -> list[str]:
    """Temp files a write may have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".truss-instance.") or p.suffix == ".tmp")


def age(path: Path) -> None:
    os.utime(path, (OLD, OLD))


# The golden lockfile ----------------------------------------------------------------------


def test_lock_writes_the_committed_golden_bytes(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "lock", "models/sdxl")
    assert (code, out, err) == (0, "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")
    assert LOCK.read_bytes() == GOLDEN


def test_golden_lock_is_well_formed() -> None:
    text = GOLDEN.decode("utf-8")
    assert text.startswith(HEADER)
    assert "@generated" in text.splitlines()[0]
    assert "truss-instance lock" in HEADER and "truss-instance check" in HEADER  # names the commands
    assert b"\r" not in GOLDEN and GOLDEN.endswith(b"\n") and not GOLDEN.endswith(b"\n\n")
    doc = yaml.safe_load(text)
    assert doc["lock_version"] == LOCK_VERSION == 1
    assert doc["request"] == {
        "gpu_count": 1, "gpu_type": "A10G", "instance_type": None,
        "memory_bytes": 17179869184, "millicores": 4000, "node_count": 1,
    }  # fmt: skip
    assert doc["request_hash"] == request_hash(Request(4000, 16 << 30, "A10G", 1))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", doc["request_hash"])
    assert set(doc["catalog"]) == {"name", "as_of", "sha256"}
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", doc["catalog"]["sha256"])
    assert doc["resolved"]["instance_type"] == "A10Gx4x16"
    assert doc["resolved"]["price_usd_per_min"] == "0.02012"  # exact, as a string
    assert {"millicores", "memory_bytes", "gpu_type", "gpu_count", "vram_gib_per_gpu", "nodes"} <= set(doc["resolved"])
    assert doc["deployment"] == {}


def _walk(node: object) -> Iterator[object]:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)


def test_golden_lock_is_deterministic_sorted_no_floats_no_timestamps() -> None:
    # sorted keys at every level, as loaded (PyYAML keeps file order in dicts)
    doc = yaml.safe_load(GOLDEN)
    for node in _walk(doc):
        if isinstance(node, dict):
            assert list(node) == sorted(node)
        assert not isinstance(node, float)
    # no timestamps: nothing looks like a time of day
    assert not re.search(rb"\b\d{1,2}:\d{2}:\d{2}\b", GOLDEN)
    assert not re.search(rb"(generated|created|updated)_?(at|on)", GOLDEN)
    # the one date (the catalog's as-of) is a quoted string, not a YAML timestamp
    assert isinstance(doc["catalog"]["as_of"], str)


def test_render_is_byte_stable_and_matches_golden() -> None:
    host = plugins.get_host()
    from truss_instance_plugin.pipeline import host_catalog

    catalog = host_catalog(host)
    req = Request(4000, 16 << 30, "A10G", 1)
    t = catalog.get("A10Gx4x16")
    assert t is not None
    first = render(req, catalog, t, 1, None)
    assert first == render(req, catalog, t, 1, None) == render(req, catalog, t, 1, {}) == GOLDEN
    # the catalog's order does not matter
    shuffled = make_catalog(tuple(reversed(catalog.types)))
    assert render(req, shuffled, t, 1, None) == GOLDEN


def test_request_hash_is_of_the_normalized_request() -> None:
    assert request_hash(Request(4000, 16 << 30, "A10G", 1)) == request_hash(Request(4000, 16384 << 20, "A10G", 1))
    assert request_hash(Request(4000, 16 << 30, "A10G", 1)) != request_hash(Request(5000, 16 << 30, "A10G", 1))


REFORMATTED = """\
# the same model, spelled differently: comments, key order, units, quoting
requirements: [diffusers==0.30.0, torch==2.4.0]
model_name: sdxl
resources:      # what Baseten resolves
  memory: 16384Mi
  use_gpu: true
  cpu: 4000m
  accelerator: "A10G"
python_version: py311
"""


def test_reformatting_config_leaves_the_lock_bytes_identical(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    age(LOCK)
    CONFIG.write_text(REFORMATTED)
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "", "")
    assert LOCK.read_bytes() == GOLDEN
    assert LOCK.stat().st_mtime == OLD
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")
    assert run_cli(capsys, "lock", "--check", "models/sdxl")[0] == 0


# lock: writes only when bytes change --------------------------------------------------------


def test_second_lock_writes_nothing(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    age(LOCK)
    inode = LOCK.stat().st_ino
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "", "")
    assert LOCK.stat().st_mtime == OLD and LOCK.stat().st_ino == inode
    assert leftovers(LOCK.parent) == []


def test_lock_updated_line_and_exit_1_only_as_a_hook(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "lock", "--hook", "models/sdxl/config.yaml") == (
        1,
        "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n",
        "",
    )
    assert run_cli(capsys, "lock", "--hook", "models/sdxl/config.yaml") == (0, "", "")
    CONFIG.write_text(CONFIG.read_text().replace('cpu: "4"', 'cpu: "5"'))
    code, out, err = run_cli(capsys, "lock", "models/sdxl")
    assert (code, out, err) == (
        0,
        "wrote models/sdxl/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02424/min  +$0.25/h (+$180/month)\n",
        "",
    )
    assert read_lock(str(LOCK)) is not None
    assert yaml.safe_load(LOCK.read_bytes())["resolved"]["instance_type"] == "A10Gx8x32"
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "", "")


def test_lock_accepts_the_config_file_and_the_lockfile_as_path(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "lock", "models/sdxl/config.yaml")[0] == 0
    assert run_cli(capsys, "lock", "models/sdxl/truss-instance.lock") == (0, "", "")
    assert run_cli(capsys, "lock", "models") == (0, "", "")  # a tree
    assert LOCK.read_bytes() == GOLDEN


def test_lock_several_models_one_line_per_written_file(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cpu = work / "models" / "cpu"
    cpu.mkdir()
    (cpu / "config.yaml").write_text('model_name: cpu\nresources:\n  cpu: "1"\n  memory: 2Gi\n')
    run_cli(capsys, "lock", "models/sdxl")
    code, out, _ = run_cli(capsys, "lock", "models/sdxl", "models/cpu", "models/sdxl")
    assert code == 0
    assert out == "wrote models/cpu/truss-instance.lock (new): 1x2 $0.00058/min\n"
    code, out, _ = run_cli(capsys, "lock", "-v", "models")
    assert (code, out.splitlines()) == (
        0,
        [
            "models/cpu/truss-instance.lock is up to date: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)",
            "models/sdxl/truss-instance.lock is up to date: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)",
        ],
    )


# lock --check --------------------------------------------------------------------------------


def test_lock_check_never_writes(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = "models/sdxl/truss-instance.lock is missing; run `truss-instance lock models/sdxl`\n"
    assert run_cli(capsys, "lock", "--check", "models/sdxl") == (1, missing, "")
    assert not LOCK.exists()
    run_cli(capsys, "lock", "models/sdxl")
    age(LOCK)
    assert run_cli(capsys, "lock", "--check", "models/sdxl") == (0, "", "")
    CONFIG.write_text(CONFIG.read_text().replace("memory: 16Gi", "memory: 32Gi"))
    stale = "models/sdxl/truss-instance.lock is out of date; run `truss-instance lock models/sdxl`\n"
    assert run_cli(capsys, "lock", "--check", "models/sdxl") == (1, stale, "")
    assert LOCK.read_bytes() == GOLDEN and LOCK.stat().st_mtime == OLD
    assert leftovers(LOCK.parent) == []


# Atomic writes -------------------------------------------------------------------------------


def _boom(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    target = tmp_path / "truss-instance.lock"
    target.write_bytes(b"old\n")
    if failing == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fd: int, mode: str) -> None:
                self.f = real_fdopen(fd, mode)

            def __enter__(self) -> Full:
                return self

            def __exit__(self, *exc: object) -> None:
                self.f.close()

            def write(self, data: bytes) -> int:
                self.f.write(data[:3])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(lockfile.os, "fdopen", Full)
    else:
        monkeypatch.setattr(lockfile.os, failing, _boom)
    with pytest.raises(OSError, match="No space"):
        write_if_changed(str(target), b"new contents\n")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truss-instance.lock"]


def test_failed_first_write_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockfile.os, "replace", _boom)
    with pytest.raises(OSError):
        write_if_changed(str(tmp_path / "truss-instance.lock"), b"x\n")
    assert list(tmp_path.iterdir()) == []


def test_write_if_changed(tmp_path: Path) -> None:
    target = tmp_path / "truss-instance.lock"
    assert write_if_changed(str(target), b"a\n") is True
    age(target)
    assert write_if_changed(str(target), b"a\n") is False
    assert target.stat().st_mtime == OLD
    assert write_if_changed(str(target), b"b\n") is True
    assert target.read_bytes() == b"b\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert leftovers(tmp_path) == []


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_lock_command_write_failure_is_reported_and_keeps_the_old_lock(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_cli(capsys, "lock", "models/sdxl")
    CONFIG.write_text(CONFIG.read_text().replace('cpu: "4"', 'cpu: "5"'))
    monkeypatch.setattr(lockfile.os, "replace", _boom)
    message = "cannot write truss-instance.lock: No space left on device; the previous file (if any) is unchanged"
    assert run_cli(capsys, "lock", "models/sdxl") == (2, f"models/sdxl/truss-instance.lock: error TI105 {message}\n", "")
    assert LOCK.read_bytes() == GOLDEN
    assert leftovers(LOCK.parent) == []


# Reading -------------------------------------------------------------------------------------


def test_read_lock_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "truss-instance.lock"
    assert read_lock(str(path)) is None
    path.write_bytes(GOLDEN)
    lock = read_lock(str(path))
    assert lock is not None
    assert lock.instance_type == "A10Gx4x16"
    assert lock.request == Request(4000, 16 << 30, "A10G", 1)
    assert lock.deployment is None
    assert Decimal(str(lock.resolved["price_usd_per_min"])) == Decimal("0.02012")


DEPLOYMENT = "deployment:\n  instance_type: A10Gx4x16\n  request_hash: sha256:00\n  model_name: sdxl\n  source: adopt\n"


@pytest.mark.parametrize(
    ("data", "message", "position"),
    [
        (b"lock_version: 1\nrequest: [unclosed\n", "invalid YAML", (3, 1)),
        (b"\xff\xfe garbage", "not UTF-8 (byte 0xff at offset 0)", (0, 0)),
        (b"- a\n- b\n", "top level is not a mapping", (0, 0)),
        (b"", "top level is not a mapping", (0, 0)),
        (
            golden("lock_version: 1", "lock_version: 2"),
            "lock_version 2 is newer than this truss-instance understands (1); upgrade",
            (8, 15),
        ),
        (golden("lock_version: 1", "lock_version: 0"), "lock_version 0 is not a version truss-instance writes (1)", (8, 15)),
        (golden("lock_version: 1", "lock_version: one"), "lock_version must be an integer", (8, 15)),
        (
            golden("lock_version: 1", "lock_version: 1.0"),
            "a value tagged tag:yaml.org,2002:float, which truss-instance never writes",
            (8, 15),
        ),
        (golden("lock_version: 1\n", ""), "the lockfile lacks the key 'lock_version'", (3, 1)),
        (golden("lock_version: 1", "lock_version: 1\nfrobnicate: true"), "unknown key 'frobnicate' in the lockfile", (9, 1)),
        (golden("  node_count: 1\n", "  node_count: 1\n  zone: us\n"), "unknown key 'zone' in request", (16, 3)),
        (golden("  millicores: 4000\n  node_count", "  millicores: 3000\n  node_count"), "request_hash does not match", (16, 15)),
        (
            golden("  millicores: 4000\n  node_count", "  millicores: '4000'\n  node_count"),
            "request.millicores must be an integer",
            (14, 15),
        ),
        (golden("  nodes: 1\n", "  nodes: 1\n  spot: true\n"), "unknown key 'spot' in resolved", (24, 3)),
        (golden("catalog:\n", "catalog:\n  region: us\n"), "unknown key 'region' in catalog", (4, 3)),
        (
            golden("deployment: {}\n", DEPLOYMENT.replace("  model_name", "  who: me\n  model_name")),
            "unknown key 'who' in deployment",
            (10, 3),
        ),
        (golden("deployment: {}\n", "deployment:\n  model_name: sdxl\n"), "deployment lacks the key 'instance_type'", (8, 3)),
        (golden("deployment: {}\n", DEPLOYMENT + "  request: {cpu: 4}\n"), "unknown key 'cpu' in deployment.request", (12, 13)),
        (golden("deployment: {}\n", DEPLOYMENT + "  resources: [cpu]\n"), "a list, which truss-instance never writes", (12, 14)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: [unclosed\n"), "invalid YAML", (13, 13)),
        # a bad merge, a one-byte edit of the key, a deleted key: the record would be lost by a rewrite
        (
            golden("deployment: {}\n", DEPLOYMENT + "deployment: {}\n"),
            "duplicate key 'deployment' (first at line 7; a bad merge?)",
            (12, 1),
        ),
        (
            golden("deployment: {}\n", DEPLOYMENT.replace("deployment:", "deploymen:")),
            "unknown key 'deploymen' in the lockfile",
            (7, 1),
        ),
        (golden("deployment: {}\n", ""), "the lockfile lacks the key 'deployment'", (3, 1)),
        (golden("deployment: {}\n", "deployment: null\n"), "deployment must be a mapping", (7, 13)),
        (golden("deployment: {}\n", DEPLOYMENT.replace("sdxl", "&a sdxl") + "  environment: *a\n"), "a YAML alias", (10, 15)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: !!binary aGk=\n"), "a value tagged tag:yaml.org,2002:binary", (12, 13)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: 12\n"), "deployment.model_id must be a string or null", (12, 13)),
        (golden("deployment: {}\n", DEPLOYMENT + "  resources: {cpu: 4}\n"), "deployment.resources.cpu must be a string", (12, 20)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: !!int x\n"), "an invalid int 'x'", (12, 13)),
        (b"a: " + b"[" * 20 + b"]" * 20 + b"\n", "a list", (1, 4)),
        (b"lock_version: 1\n" + b"x" * (64 << 10), "larger than 64 KiB", (0, 0)),
    ],
)
def test_read_lock_rejects_untrustworthy_files(tmp_path: Path, data: bytes, message: str, position: tuple[int, int]) -> None:
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(data)
    with pytest.raises(LockError, match=re.escape(message)) as info:
        read_lock(str(path))
    assert (info.value.line, info.value.col) == position


def test_read_lock_yaml_error_has_a_position(tmp_path: Path) -> None:
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(b"lock_version: 1\nrequest: {a: [1}\n")
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert (info.value.line, info.value.col) == (2, 16)


def test_lock_names() -> None:
    assert lock_path("models/sdxl/config.yaml") == os.path.join("models/sdxl", "truss-instance.lock")
    assert lock_path("config.yaml") == "truss-instance.lock"
    assert lock_path("m/staging.yaml") == os.path.join("m", "truss-instance.staging.lock")
    assert config_for_lock("a/truss-instance.lock") == os.path.join("a", "config.yaml")
    assert config_for_lock("a/truss-instance.staging.lock") == os.path.join("a", "staging.yaml")
    assert config_for_lock("a/config.yaml") is None
    assert config_for_lock("a/poetry.lock") is None


@given(
    st.builds(
        Request,
        st.integers(min_value=0, max_value=10**40),
        st.integers(min_value=0, max_value=10**40),
        st.none() | st.text(max_size=12),
        st.integers(min_value=0, max_value=64),
        st.integers(min_value=1, max_value=10**6),
        st.none() | st.text(max_size=12),
    )
)
def test_request_hash_is_sha256_of_the_canonical_json(req: Request) -> None:
    """The hash spells out json.dumps(sort_keys, compact) by hand (no json/hashlib import on the check path)."""
    blob = json.dumps(req.as_json(), sort_keys=True, separators=(",", ":")).encode()
    assert request_hash(req) == "sha256:" + hashlib.sha256(blob).hexdigest()


def _fast(data: bytes) -> Lock | None:
    try:
        return lockfile._canonical(data.decode())
    except UnicodeDecodeError:
        return None


# The canonical-layout fast path agrees with the full parse ---------------------------------------

_TRICKY = st.sampled_from(["A10G", "yes", "No", "null", "~", "1:30", "0x1F", "1e3", "2026-01-01", "on", "-x", "a b", "x#y", "é", "'q'"])
_NAME = st.one_of(_TRICKY, st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12))


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        Request,
        st.integers(0, 10**7),
        st.integers(0, 10**13),
        st.one_of(st.none(), _NAME),
        st.integers(0, 8),
        st.integers(1, 4),
        st.one_of(st.none(), _NAME),
    ),
    _NAME,
    _NAME,
    st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(["", " ", "x", "'", "\n", "{", "0", "#", "é"])), max_size=2),
)
def test_the_lock_fast_path_agrees_with_parse_lock(
    req: Request, type_name: str, catalog_name: str, nodes: int, edits: list[tuple[int, str]]
) -> None:
    t = next(iter(embedded_types()))._replace(name=type_name)
    data = render(req, make_catalog((t,), catalog_name), t, nodes, None)
    for at, text in edits:  # a hand edit: a character replaced, inserted or removed
        data = data[:at] + text.encode() + data[at + 1 :]
    fast = _fast(data)
    try:
        full: Lock | None = lockfile.parse_lock_text(data.decode())
    except (LockError, UnicodeDecodeError):
        full = None
    if fast is not None:
        assert fast == full
    plain = all(n is None or (n.isascii() and n.isalnum()) for n in (type_name, catalog_name, req.gpu_type, req.instance_type))
    if not edits and plain:
        assert fast is not None  # what `lock` writes for usual names takes the fast path


def test_the_lock_fast_path_reads_a_written_lock(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "lock", "models/sdxl")
    data = LOCK.read_bytes()
    assert _fast(data) == parse_lock(data) != None  # noqa: E711
    assert run_cli(capsys, "adopt", "models/sdxl")[0] == 0  # a deployment record: not the canonical layout, parse_lock reads it
    data = LOCK.read_bytes()
    assert (_fast(data), parse_lock(data).deployment is not None) == (None, True)


def test_the_embedded_catalog_hash_constant_is_the_computed_one() -> None:
    """content_hash returns a constant for the embedded table (no json/hashlib at start-up); it must be the real hash."""
    from truss_instance_plugin.catalog import EMBEDDED_SHA256, compute_hash, content_hash

    types = embedded_types()
    assert compute_hash(types) == EMBEDDED_SHA256 == content_hash(tuple(reversed(types)))
    assert content_hash(types[1:]) == compute_hash(types[1:]) != EMBEDDED_SHA256


# Lockfiles are written without PyYAML's representer when every value is simple; the text must be yaml.dump's.

_TRICKY = st.text(alphabet="aeEx019._:+-/ #'\"~!é\t", max_size=12)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**29, max_value=10**31), _TRICKY,
    st.sampled_from(["0.10833", "2026-09-19", "1x2", "H100:8", "sha256:ab12", "yes", "null", "1_000", "0x1f", "1e3", "a:", ".5"]),
)  # fmt: skip
_DOCS = st.recursive(st.dictionaries(_TRICKY | st.sampled_from(["a", "b2", "gpu_type"]), _SCALARS, max_size=4),
                     lambda inner: st.dictionaries(st.sampled_from(["request", "z", "x1"]), inner, max_size=3), max_leaves=12)  # fmt: skip


@settings(max_examples=max(300, settings.default.max_examples))
@given(doc=_DOCS)
def test_lock_text_is_what_yaml_dump_writes(doc: dict[str, object]) -> None:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    expected = yaml.dump(doc, Dumper=dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000)
    assert lockfile._dump(doc) == expected


def test_every_catalog_type_is_written_without_the_representer() -> None:
    """The fast path covers every embedded type's lock (what `lock` writes for a tree)."""
    catalog = make_catalog(embedded_types())
    for t in catalog.types:
        req = Request(t.millicores, t.memory_bytes, t.gpu_type, t.gpu_count)
        doc = yaml.safe_load(render(req, catalog, t, 1, None))
        lines: list[str] = []
        assert lockfile._simple_lines(doc, "", lines), t.name


def test_lock_goes_through_every_batch_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models are locked BATCH folders at a time: full batches, then the rest, outcomes in the order of the models."""
    from truss_instance_plugin import locking

    monkeypatch.setattr(locking, "BATCH", 2)
    for i in range(5):
        (tmp_path / f"m{i}" / "model").mkdir(parents=True)
        (tmp_path / f"m{i}" / "config.yaml").write_text(f'model_name: m{i}\nresources:\n  cpu: "{i + 1}"\n')
    code, out, _ = run_cli(capsys, "lock", str(tmp_path))
    assert code == 0
    assert [line.split(" (new)")[0] for line in out.splitlines()] == [f"wrote {tmp_path}/m{i}/truss-instance.lock" for i in range(5)]
    assert run_cli(capsys, "check", str(tmp_path)) == (0, "", "")
