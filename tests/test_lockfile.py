"""truss-instance.lock: format, deterministic bytes, parsing, and `lock` writes (atomic, only on change)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import CATALOG, GOLDEN, SDXL_REQUEST, Run, copy_sdxl, get, golden, make_truss, req, run_cli

from truss_instance_plugin import cli, plugins
from truss_instance_plugin.catalog import GiB, embedded_types, make_catalog
from truss_instance_plugin.discover import config_for_lock, lock_path
from truss_instance_plugin.errors import LockError
from truss_instance_plugin.lock import format as lockfile
from truss_instance_plugin.lock.atomic import write_if_changed
from truss_instance_plugin.lock.format import HEADER, LOCK_VERSION, ChainLock, Lock, parse_lock, read_lock, render, request_hash
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
    from truss_instance_plugin.core.pipeline import host_catalog

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
        "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min\nto commit it: git add -- models/sdxl/truss-instance.lock\n",
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
    assert out == "wrote models/cpu/truss-instance.lock (new): 1x2 $0.00058/min\nwrote 1 lock, 1 up to date\n"
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

        monkeypatch.setattr(os, "fdopen", Full)
    else:
        monkeypatch.setattr(os, failing, _boom)
    with pytest.raises(OSError, match="No space"):
        write_if_changed(str(target), b"new contents\n")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truss-instance.lock"]


def test_failed_first_write_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "replace", _boom)
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
    monkeypatch.setattr(os, "replace", _boom)
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


HASH = "sha256:" + "0" * 64
DEPLOYMENT = (
    f"deployment:\n  deployment_id: null\n  environment: null\n  instance_type: A10Gx4x16\n  request_hash: {HASH}\n"
    "  model_name: sdxl\n  source: adopt\n"
)  # model_id (null) is added at the end by the cases that need it


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
            (12, 3),
        ),
        (
            golden("deployment: {}\n", DEPLOYMENT.replace("  instance_type: A10Gx4x16\n", "") + "  model_id: null\n"),
            "deployment lacks the key 'instance_type'",
            (8, 3),
        ),
        (
            golden("deployment: {}\n", DEPLOYMENT + "  model_id: null\n  request: {cpu: 4}\n"),
            "unknown key 'cpu' in deployment.request",
            (15, 13),
        ),
        (golden("deployment: {}\n", DEPLOYMENT + "  resources: [cpu]\n"), "a list, which truss-instance never writes", (14, 14)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: [unclosed\n"), "invalid YAML", (15, 13)),
        # a bad merge, a one-byte edit of the key, a deleted key: the record would be lost by a rewrite
        (
            golden("deployment: {}\n", DEPLOYMENT + "deployment: {}\n"),
            "duplicate key 'deployment' (first at line 7; a bad merge?)",
            (14, 1),
        ),
        (
            golden("deployment: {}\n", DEPLOYMENT.replace("deployment:", "deploymen:")),
            "unknown key 'deploymen' in the lockfile",
            (7, 1),
        ),
        (golden("deployment: {}\n", ""), "the lockfile lacks the key 'deployment'", (3, 1)),
        (golden("deployment: {}\n", "deployment: null\n"), "deployment must be a mapping", (7, 13)),
        (golden("deployment: {}\n", DEPLOYMENT.replace("sdxl", "&a sdxl") + "  model_id: *a\n"), "a YAML alias", (12, 15)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: !!binary aGk=\n"), "a value tagged tag:yaml.org,2002:binary", (14, 13)),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: 12\n"), "deployment.model_id must be a string or null", (14, 13)),
        (
            golden("deployment: {}\n", DEPLOYMENT + "  model_id: null\n  resources: {cpu: 4}\n"),
            "deployment.resources.cpu must be a string",
            (15, 20),
        ),
        (golden("deployment: {}\n", DEPLOYMENT + "  model_id: !!int x\n"), "an invalid int 'x'", (14, 13)),
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
    from truss_instance_plugin.lock import write as locking

    monkeypatch.setattr(locking, "BATCH", 2)
    for i in range(5):
        (tmp_path / f"m{i}" / "model").mkdir(parents=True)
        (tmp_path / f"m{i}" / "config.yaml").write_text(f'model_name: m{i}\nresources:\n  cpu: "{i + 1}"\n')
    code, out, _ = run_cli(capsys, "lock", str(tmp_path))
    assert code == 0
    assert [line.split(" (new)")[0] for line in out.splitlines()] == [f"wrote {tmp_path}/m{i}/truss-instance.lock" for i in range(5)] + [
        "wrote 5 locks"
    ]
    assert run_cli(capsys, "check", str(tmp_path)) == (0, "", "")


# Hostile values: a lock from a stranger's pull request is TI104 (exit 2, never rewritten), never a crash ---------------

ADOPTED = "recorded deployment of sdxl (A10Gx4x16) in models/sdxl/truss-instance.lock"
FORGED = '"2x8\\n\\n## ✅ Approved: no cost change\\n\\n![x](https://evil.example/p.png)"'
TI104_HINT = (
    "  `truss-instance lock` never rewrites it, since it may hold a deployment record: restore it with "
    "`git checkout -- models/sdxl/truss-instance.lock`, or delete it and run `truss-instance lock models/sdxl` "
    "(then `truss-instance adopt models/sdxl` if the model is deployed)\n"
)


A_TYPE = "must be an instance type name like A10Gx4x16 or H100:8"
A_PRICE = "resolved.price_usd_per_min must be a price in US dollars like '0.02012'"
A_ID = "must be an id of letters, digits, _ and -, at most 64 characters"
A_TEXT = "must be printable UTF-8 text of at most 200 characters"
PRICE = "price_usd_per_min: '0.02012'"


@pytest.mark.parametrize(
    ("old", "new", "message", "position"),
    [
        (
            "  instance_type: A10Gx4x16\n  model_id",
            f"  instance_type: {FORGED}\n  model_id",
            f"deployment.instance_type {A_TYPE}",
            (10, 18),
        ),
        (
            "  instance_type: A10Gx4x16\n  memory",
            "  instance_type: A10Gx4x16 <img src=x>\n  memory",
            f"resolved.instance_type {A_TYPE}",
            (38, 18),
        ),
        ("  model_id", "  predicted_instance_type: '[x](y)'\n  model_id", f"deployment.predicted_instance_type {A_TYPE}", (11, 28)),
        (
            "  gpu_type: A10G\n  instance_type: A10Gx4x16",
            "  gpu_type: 'A10G`'\n  instance_type: A10Gx4x16",
            "resolved.gpu_type must be an accelerator name like A10G",
            (37, 13),
        ),
        (PRICE, "price_usd_per_min: 'NaN'", A_PRICE, (42, 22)),
        (PRICE, "price_usd_per_min: sNaN", A_PRICE, (42, 22)),
        (PRICE, "price_usd_per_min: Infinity", A_PRICE, (42, 22)),
        (PRICE, "price_usd_per_min: 1e999999", A_PRICE, (42, 22)),
        (PRICE, "price_usd_per_min: '-0.02012'", A_PRICE, (42, 22)),
        (
            "  name: baseten-embedded",
            '  name: "baseten-embedded\\r::error::x"',
            "catalog.name must be a catalog name like baseten-embedded",
            (5, 9),
        ),
        ("  as_of: '2026-09-19'", "  as_of: yesterday", "catalog.as_of must be a date like 2026-09-19", (4, 10)),
        ("  sha256: sha256:9733", "  sha256: sha256:Z733", "catalog.sha256 must be sha256: and 64 hexadecimal digits", (6, 11)),
        ("  model_id: abc123", "  model_id: ../../v1/secrets", f"deployment.model_id {A_ID}", (11, 13)),
        (
            "  environment: production",
            '  environment: "production\\e[31m"',
            "deployment.environment must be an environment name like production",
            (9, 16),
        ),
        ("  source: adopt", "  source: me", "deployment.source must be adopt, baseten or truss push", (25, 11)),
        (
            "  model_name: sdxl",
            '  model_name: "sdxl\\nmodels/x/config.yaml:1:1: error TI030 forged"',
            f"deployment.model_name {A_TEXT}",
            (12, 15),
        ),
        (
            "    memory: 16Gi\n  source",
            '    memory: "16Gi\\e]8;;x"\n  source',
            f"deployment.resources.memory must be a string ({A_TEXT[8:]})",
            (24, 13),
        ),
        (
            "  request_hash: sha256:049b",
            "  request_hash: sha256:149b",
            "deployment.request_hash does not match deployment.request (hand-edited?)",
            (20, 17),
        ),
        (
            "  millicores: 4000\n  nodes",
            f"  millicores: {10**30}\n  nodes",
            "resolved.millicores must be an integer from 0 to 10^30",
            (40, 15),
        ),
        ("  deployment_id: null\n", "", "deployment lacks the key 'deployment_id'", (8, 3)),
        ("  environment: production\n", "", "deployment lacks the key 'environment'", (8, 3)),
        ("  model_id: abc123\n", "", "deployment lacks the key 'model_id'", (8, 3)),
    ],
)
def test_a_lock_with_a_hostile_value_is_TI104_and_never_rewritten(
    work: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str, position: tuple[int, int]
) -> None:
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    assert run_cli(capsys, "adopt", "models/sdxl", "--model-id", "abc123", "--environment", "production")[1].startswith(ADOPTED)
    text = LOCK.read_text()
    assert old in text
    LOCK.write_text(text.replace(old, new, 1))
    forged = LOCK.read_bytes()
    line, col = position
    expected = f"models/sdxl/truss-instance.lock:{line}:{col}: error TI104 truss-instance.lock cannot be used: {message}\n{TI104_HINT}"
    assert run_cli(capsys, "check", "models/sdxl") == (2, expected + "1 model: 1 error\n", "")
    assert run_cli(capsys, "lock", "models/sdxl") == (2, expected, "")
    assert run_cli(capsys, "lock", "--upgrade", "models/sdxl")[0] == 2
    assert LOCK.read_bytes() == forged
    assert lockfile._canonical(forged.decode()) is None  # the fast path leaves it to the full parse, which refuses it


@pytest.mark.parametrize(
    ("old", "new", "message", "position"),
    [
        ("  instance_type: A10Gx4x16\n", "  instance_type: 'A10Gx4x16 '\n", f"resolved.instance_type {A_TYPE}", (20, 18)),
        (PRICE, "price_usd_per_min: 'NaN'", A_PRICE, (24, 22)),
        (PRICE, "price_usd_per_min: '1e999999'", A_PRICE, (24, 22)),
        ("  name: baseten-embedded", "  name: 'baseten-embedded!'", "catalog.name must be a catalog name like baseten-embedded", (5, 9)),
        ("  as_of: '2026-09-19'", "  as_of: '2026-09-19x'", "catalog.as_of must be a date like 2026-09-19", (4, 10)),
        ("  as_of: '2026-09-19'", "  as_of: '2026-13-45'", "catalog.as_of must be a date like 2026-09-19", (4, 10)),
        (
            "  gpu_type: A10G\n  instance_type: null",
            "  gpu_type: A10G!\n  instance_type: null",
            "request.gpu_type must be an accelerator name",
            (11, 13),
        ),
        ("  millicores: 4000\n  nodes", f"  millicores: {10**30}\n  nodes", "resolved.millicores must be an integer from 0", (22, 15)),
    ],
)
def test_the_fast_path_refuses_what_the_full_parse_refuses(old: str, new: str, message: str, position: tuple[int, int]) -> None:
    """A lock in the layout `lock` writes, one value made hostile: both readers refuse it, with the full parse's words."""
    data = golden(old, new)
    assert lockfile._canonical(data.decode()) is None
    for read in (parse_lock, lambda d: lockfile.parse_lock_text(d.decode())):
        with pytest.raises(LockError) as info:
            read(data)
        assert (str(info.value)[: len(message)], (info.value.line, info.value.col)) == (message, position)


def test_adopt_refuses_what_a_lock_could_not_hold(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    before = LOCK.read_bytes()
    for flag, value, what in (
        ("--instance-type", "2x8 ## Approved", "an instance type name like A10Gx4x16 or H100:8"),
        ("--model-id", "a/b", "an id of letters, digits, _ and -, at most 64 characters"),
        ("--deployment-id", "-x", "an id of letters, digits, _ and -, at most 64 characters"),
        ("--environment", "prod/uction", "an environment name like production"),
    ):
        code, out, err = run_cli(capsys, "adopt", "models/sdxl", f"{flag}={value}")
        assert (code, out, err) == (2, "", f"truss-instance: {flag} {value!r} cannot be recorded: use {what}\n")
    assert LOCK.read_bytes() == before


# Property: no lock, however mangled, makes `check` or `lock` fail internally ------------------------------------------


def _adopted_lock() -> str:
    """The example's lock with a deployment recorded, as `adopt` writes it."""
    req = Request(4000, 16 << 30, "A10G", 1)
    catalog = make_catalog(embedded_types())
    t = catalog.get("A10Gx4x16")
    assert t is not None
    record: dict[str, object] = {
        "instance_type": "A10Gx4x16", "model_name": "sdxl", "model_id": "abc123", "deployment_id": None, "environment": "production",
        "request": req.as_json(), "request_hash": request_hash(req), "resources": {"accelerator": "A10G", "cpu": "4", "memory": "16Gi"},
        "source": "adopt",
    }  # fmt: skip
    return render(req, catalog, t, 1, record).decode()


_ODD_YAML = st.one_of(
    st.sampled_from(
        [
            "NaN", "'NaN'", "sNaN", ".nan", ".inf", "-.inf", "'Infinity'", "1e999999", "'1e999999'", "'-0.5'", "-1", "0", "~", "null",
            "yes", "''", "2026-13-45", "'2026-09-19'", "[1, 2]", "{a: b}", "{}", "[]", "!!binary aGk=", "!!python/name:os.system", "&a x",
            "*a", "0x" + "f" * 3600, "9" * 5000, "1" + "0" * 30, "0o777", "1_000", "1:30", "'0.02012'", "0.02012", "A10Gx4x16", "H100:8",
            "sha256:" + "0" * 64, "'" + "x" * 300 + "'", "[" * 40 + "]" * 40, "{a: " * 10 + "1" + "}" * 10, FORGED, "'a: b'", "|\n  x",
        ]
    ),
    st.text(max_size=30).map(json.dumps),  # any characters, escaped, in a double-quoted YAML string
    st.integers().map(str),
)  # fmt: skip
_EDITS = st.lists(
    st.tuples(st.sampled_from(["replace", "delete", "insert", "duplicate"]), st.integers(min_value=0, max_value=60), _ODD_YAML),
    min_size=1,
    max_size=3,
)


def _mangle(text: str, edits: list[tuple[str, int, str]]) -> str:
    """`text` with lines replaced (their value), deleted, duplicated, or a key inserted (the header lines are kept)."""
    lines = text.split("\n")
    head, body = lines[:2], lines[2:-1]
    for op, at, value in edits:
        i = at % len(body) if body else 0
        if op == "delete" and body:
            del body[i]
        elif op == "duplicate" and body:
            body.insert(i, body[i])
        elif op == "insert":
            indent = body[i][: len(body[i]) - len(body[i].lstrip())] if body else ""
            body.insert(i, f"{indent}extra: {value}")
        elif body:
            key = body[i].split(":", 1)[0]
            body[i] = f"{key}: {value}"
    return "\n".join([*head, *body, ""])


def _line(adopted: bool, text: str) -> int:
    """The index `_mangle` gives the first line that starts with `text`."""
    lines = (_adopted_lock() if adopted else GOLDEN.decode()).split("\n")[2:-1]
    return next(i for i, line in enumerate(lines) if line.startswith(text))


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.booleans(), _EDITS)
@example(False, [("replace", _line(False, "  price_usd_per_min"), "'NaN'")])  # what the issue found: each crashed `lock`
@example(True, [("replace", _line(True, "  price_usd_per_min"), "'1e999999'")])
@example(True, [("replace", _line(True, "  instance_type: A10Gx4x16"), FORGED)])
@example(True, [("delete", _line(True, "  model_id"), "")])
@example(False, [("replace", _line(False, "resolved:") + 1, "0")])  # resolved.gpu_count 0: valid, hand-edited, regenerated
def test_a_mangled_lock_is_clean_or_TI104_never_an_internal_error(tmp_path: Path, adopted: bool, edits: list[tuple[str, int, str]]) -> None:
    """Any field replaced by an odd scalar, a huge number, NaN or a nested structure, keys deleted or added: `check` is
    clean or says TI104 in one line (exit 2), `lock` then leaves the file alone, and the two readers agree."""
    text = _mangle(_adopted_lock() if adopted else GOLDEN.decode(), edits)
    data = text.encode("utf-8", "surrogatepass")
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "m"  # a fresh folder per example, a replay too
    copy_sdxl(folder)
    lock = folder / "truss-instance.lock"
    lock.write_bytes(data)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("check", str(folder))
    assert code in (0, 1, 2) and "TI099" not in out and "internal error" not in err and "Traceback" not in out + err, (out, err)
    locked = run("lock", str(folder))
    assert "TI099" not in locked[1] and "internal error" not in locked[2], locked
    if code == 2:
        first = out.splitlines()[0]
        assert re.fullmatch(rf"{re.escape(str(lock))}(:\d+:\d+)?: error TI104 truss-instance\.lock cannot be used: .+", first), first
        assert first.isprintable()
        if "to regenerate it (its deployment record is kept)" in out:  # valid, but its resolved section was edited
            assert locked[0] == 0 and run("check", str(folder))[0] == 0
            assert yaml.safe_load(lock.read_bytes())["deployment"] == yaml.safe_load(data)["deployment"]
        else:
            assert locked[0] == 2 and lock.read_bytes() == data  # never rewritten
    else:
        assert "TI104" not in out and locked[0] in (0, 1)
    try:
        full: Lock | ChainLock | None = lockfile.parse_lock_text(data.decode("utf-8", "surrogatepass"))
    except (LockError, UnicodeError):
        full = None
    fast = lockfile._canonical(data.decode("utf-8", "surrogatepass"))
    assert fast is None or fast == full


CHAINLET_NAME = "a chainlet name that is not printable text of at most 200 characters"


def test_a_chain_lock_with_a_hostile_chainlet_name_is_refused() -> None:
    """Chainlet names are lock keys, shown in every finding: printable text only, like a model name."""
    from truss_instance_plugin.lock.format import render_chain

    catalog = make_catalog(embedded_types())
    t = catalog.get("A10Gx4x16")
    assert t is not None
    data = render_chain(catalog, {"Embed": (Request(4000, 16 << 30, "A10G", 1), t, 1, None)}, "Embed").decode()
    assert parse_lock(data.encode()) is not None
    for name in ('"Embed\\e[31m"', '"Embed\\nm/config.yaml:1:1: error TI030 forged"', '"' + "E" * 201 + '"'):
        forged = data.replace("  Embed:", f"  {name}:").replace("entrypoint: Embed", f"entrypoint: {name}")
        with pytest.raises(LockError) as info:
            parse_lock(forged.encode())
        assert (str(info.value), info.value.line, info.value.col) == (CHAINLET_NAME, 8, 3)


@pytest.mark.usefixtures("cwd")
def test_lock_then_push_chains_with_and(run: Run) -> None:
    """`truss-instance lock m && truss push m` must not stop the first time: lock exits 0 after writing."""
    copy_sdxl(Path("m"))
    assert run("lock", "m") == (0, "wrote m/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")
    assert run("lock", "m") == (0, "", "")
    assert run("lock", "--check", "m") == (0, "", "")
    Path("m/config.yaml").write_text(Path("m/config.yaml").read_text().replace('cpu: "4"', 'cpu: "5"'))
    assert run("lock", "--check", "m") == (1, "m/truss-instance.lock is out of date; run `truss-instance lock m`\n", "")
    assert run("lock", "--hook", "m/config.yaml") == (
        1,
        "wrote m/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02424/min  +$0.25/h (+$180/month)\n"
        "to commit it: git add -- m/truss-instance.lock\n",
        "",
    )


@pytest.mark.usefixtures("cwd")
def test_lock_shows_what_a_type_change_costs(run: Run) -> None:
    """Issue 10: `lock` rewriting L4:4x16 to L4:2x24x96 says it adds a second GPU's worth of dollars."""
    path = make_truss("llm", 'model_name: llm\nresources:\n  accelerator: L4\n  cpu: "4"\n  memory: 16Gi\n')
    assert run("lock", "llm") == (0, "wrote llm/truss-instance.lock (new): L4:4x16 $0.01414/min\n", "")
    path.write_text(path.read_text().replace('cpu: "4"', 'cpu: "8"'))
    assert run("lock", "llm") == (
        0, "wrote llm/truss-instance.lock (updated): L4:4x16 → L4:2x24x96 $0.04002/min  +$1.55/h (+$1,134/month)\n", ""
    )  # fmt: skip


@pytest.mark.usefixtures("cwd")
def test_leftover_temp_files_are_cleaned_by_the_next_lock(run: Run) -> None:
    copy_sdxl(Path("m"))
    for name in (".truss-instance.abc123.tmp", ".truss-instance.x.tmp"):
        Path("m", name).write_text("half a lock")
    Path("m/.truss-instance.keep").write_text("not ours")
    assert run("lock", "m")[0] == 0
    assert sorted(p.name for p in Path("m").iterdir()) == [".truss-instance.keep", "config.yaml", "model", "truss-instance.lock"]


def _section(name: str, value: str) -> bytes:
    """The golden lock with the block `name:` replaced by `name: value`."""
    lines = GOLDEN.decode().splitlines(keepends=True)
    start = lines.index(f"{name}:\n")
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return "".join([*lines[:start], f"{name}: {value}\n", *lines[end:]]).encode()


RECORD = (
    "deployment:\n  deployment_id: null\n  environment: null\n  instance_type: A10Gx4x16\n  model_id: null\n  model_name: m\n"
    f"  request_hash: {HASH}\n  source: adopt\n"
)


@pytest.mark.parametrize(
    ("data", "message", "position"),
    [
        # a section that is not a mapping
        (_section("catalog", "baseten-embedded"), "catalog must be a mapping", (3, 10)),
        (_section("request", "4"), "request must be a mapping", (9, 10)),
        (_section("resolved", "A10Gx4x16"), "resolved must be a mapping", (17, 11)),
        (golden("deployment: {}\n", "deployment: !!omap []\n"), "a list, which truss-instance never writes (hand-edited?)", (7, 13)),
        (golden("deployment: {}\n", "deployment: !!set {}\n"), "a mapping tagged tag:yaml.org,2002:set", (7, 13)),
        # an incomplete request, a deployment without its required keys
        (golden("  gpu_count: 1\n  gpu_type: A10G\n", "  gpu_type: A10G\n"), "request lacks the key 'gpu_count'", (10, 3)),
        (golden("deployment: {}\n", RECORD + "  request: {}\n"), "deployment.request lacks the key 'gpu_count'", (15, 12)),
        (golden("deployment: {}\n", RECORD.replace("  source: adopt\n", "")), "deployment lacks the key 'source'", (8, 3)),
        # wrong types: a non-string gpu_type, a bool for an int
        (
            golden("  gpu_type: A10G\n  instance_type: null\n", "  gpu_type: 10\n  instance_type: null\n"),
            "request.gpu_type must be a string or null",
            (11, 13),
        ),
        (
            golden("  gpu_type: A10G\n  instance_type: A10G", "  gpu_type: 10\n  instance_type: A10G"),
            "resolved.gpu_type must be a string or null",
            (19, 13),
        ),
        (
            golden("  gpu_count: 1\n  gpu_type: A10G\n  instance_type: null", "  gpu_count: true\n  gpu_type: A10G\n  instance_type: null"),
            "request.gpu_count must be an integer",
            (10, 14),
        ),
        (golden("lock_version: 1", "lock_version: true"), "lock_version must be an integer", (8, 15)),
        # no resolved.instance_type
        (golden("  instance_type: A10Gx4x16\n", ""), "resolved lacks the key 'instance_type'", (18, 3)),
        # keys and nesting
        (golden("deployment: {}\n", "deployment: {1: a}\n"), "a key that is not a string", (7, 14)),
        # nesting: six levels below the top are read (a chain's lock needs them), the seventh is refused
        (
            golden("deployment: {}\n", RECORD + "  resources: {cpu: {a: {b: {c: 1}}}}\n"),
            "deployment.resources.cpu must be a string",
            (15, 20),
        ),
        (
            golden("deployment: {}\n", RECORD + "  resources: {cpu: {a: {b: {c: {d: 1}}}}}\n"),
            "nested deeper than a truss-instance lockfile",
            (15, 36),
        ),
        # integers as YAML reads them; a version is compared as a number
        (
            golden("lock_version: 1", "lock_version: 0x2"),
            "lock_version 2 is newer than this truss-instance understands (1); upgrade truss-instance",
            (8, 15),
        ),
        (
            golden("lock_version: 1", "lock_version: 1:00"),
            "lock_version 60 is newer than this truss-instance understands (1)",
            (8, 15),
        ),
        (golden("lock_version: 1", "lock_version: !!bool maybe"), "an invalid bool 'maybe'", (8, 15)),
        (golden("lock_version: 1", "lock_version: !!bool 1"), "an invalid bool '1'", (8, 15)),  # digits, but not an int
        # the size bound: one byte past 64 KiB
        (
            golden("lock_version: 1", "lock_version: 1" + " " * ((64 << 10) - len(GOLDEN) + 1)),
            "larger than 64 KiB; not a truss-instance lockfile",
            (0, 0),
        ),
    ],
)
def test_malformed_lock(tmp_path: Path, data: bytes, message: str, position: tuple[int, int]) -> None:
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(data)
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert (str(info.value)[: len(message)], (info.value.line, info.value.col)) == (message, position)


def test_lock_at_the_size_bound_and_valid_spellings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "truss-instance.lock"
    padded = golden("lock_version: 1", "lock_version: 1" + " " * ((64 << 10) - len(GOLDEN)))
    assert len(padded) == 64 << 10
    for data in (padded, golden("lock_version: 1", "lock_version: 01"), golden("deployment: {}", "deployment: !!map {}"), GOLDEN):
        path.write_bytes(data)
        lock = read_lock(str(path))
        assert lock is not None and (lock.request, lock.instance_type, lock.deployment) == (SDXL_REQUEST, "A10Gx4x16", None)
    path.write_bytes(golden("deployment: {}\n", RECORD + "  request: null\n  resources: null\n"))
    lock = read_lock(str(path))
    assert lock is not None and lock.deployment == {
        "deployment_id": None, "environment": None, "instance_type": "A10Gx4x16", "model_id": None, "model_name": "m",
        "request_hash": HASH, "source": "adopt", "request": None, "resources": None,
    }  # fmt: skip


def test_a_superscript_integer_is_a_bad_lock_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(golden("lock_version: 1", "lock_version: !!int ²"))
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert (str(info.value), info.value.line, info.value.col) == ("an invalid int '²'", 8, 15)


def test_folder_locks_lock_each_folder_itself(cwd: Path) -> None:
    import fcntl
    import os

    from truss_instance_plugin.lock.atomic import folder_locks

    Path("a").mkdir()

    def locked(folder: str) -> bool:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    with folder_locks(["a", ""]):
        assert (locked("a"), locked(".")) == (True, True)
    with folder_locks(["a"]):
        assert (locked("a"), locked(".")) == (True, False)
    assert (locked("a"), locked(".")) == (False, False)


def test_the_temp_file_is_written_beside_the_lock(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.replace is atomic only within one file system: the temp file lives in the lock's folder."""
    import os

    from truss_instance_plugin.lock.atomic import write_if_changed

    Path("m").mkdir()
    renames: list[tuple[str, str]] = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((str(src), str(dst))), real(src, dst))[1])
    assert write_if_changed("m/truss-instance.lock", b"a\n") is True
    assert write_if_changed("truss-instance.lock", b"b\n") is True
    assert [(os.path.dirname(src), dst) for src, dst in renames] == [
        (str(cwd / "m"), "m/truss-instance.lock"),
        (str(cwd), "truss-instance.lock"),
    ]
    assert (Path("m/truss-instance.lock").read_bytes(), Path("truss-instance.lock").read_bytes()) == (b"a\n", b"b\n")


def _outcome(read: object, data: bytes) -> object:
    try:
        return read(data)  # type: ignore[operator]
    except LockError as e:
        return ("LockError", str(e), e.line, e.col)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("  name: ", "baseten-embedded'"),  # a quote only at the end is part of a plain string
        ("  name: ", "'baseten-embedded"),  # unterminated
        ("  name: ", "'"),
        ("  name: ", "''"),
        ("  name: ", "''x'"),  # '' is an escaped quote: unterminated
        ("  name: ", "'a''"),
        ("  name: ", "&anchor"),
        ("  name: ", "embedded:"),
        ("  name: ", "null"),
        ("  name: ", "~"),
        ("  name: ", "a #comment"),
        ("  name: ", "x\x85y"),
        ("  as_of: ", "2026-09-19"),  # unquoted: a YAML date, not a string
        ("  millicores: ", "04000"),  # YAML 1.1 reads a leading zero as octal (2048)
        ("  millicores: ", "4e3"),
        ("  millicores: ", "4000x"),
        ("  millicores: ", "0"),
        ("  millicores: ", "4_000"),
        ("  gpu_count: ", "01"),
        ("  gpu_type: ", "1.5"),  # a float where a string or null belongs
        ("  gpu_type: ", "~"),
    ],
)
def test_the_fast_path_agrees_with_the_full_parse(line: str, value: str) -> None:
    from truss_instance_plugin.lock import format as lockfile

    pinned = render(req(4000, 16 * GiB, "A10G", pin="A10Gx4x16"), CATALOG, get("A10Gx4x16"), 1, None)  # no null in its request
    for text in (GOLDEN.decode(), pinned.decode()):
        starts = [i for i in range(len(text)) if text.startswith(line, i) and (i == 0 or text[i - 1] == "\n")]
        assert starts, line
        for at in starts:  # the key in each section that has it (request and resolved both have millicores)
            end = text.index("\n", at)
            data = (text[:at] + line + value + text[end:]).encode()
            assert _outcome(lockfile.parse_lock, data) == _outcome(lambda d: lockfile.parse_lock_text(d.decode()), data), (line, value, at)


def test_a_leading_zero_in_a_locked_integer_is_octal_as_yaml_reads_it(tmp_path: Path) -> None:
    """`millicores: 04000` is 2048 to any YAML reader; the lock is then inconsistent, not silently 4000."""
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(golden("  millicores: 4000\n  node_count", "  millicores: 04000\n  node_count"))
    with pytest.raises(LockError, match="request_hash does not match"):
        read_lock(str(path))
