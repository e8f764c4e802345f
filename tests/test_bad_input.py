"""Bad input never produces a traceback, never hangs, and never writes to config.yaml."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import TRUSS_INSTANCE, Run, make_truss, run_console

from truss_instance_plugin import cli
from truss_instance_plugin.diagnostics import clip
from truss_instance_plugin.plugins import Host, reset_host

CHECK = ("check", "--no-lock")  # lockfile checks have their own tests


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.chdir(tmp_path)
    reset_host(Host(load_entry_points=False))
    yield
    reset_host()


def model(name: str, data: bytes | str) -> Path:
    """tmp/<name>/config.yaml with exactly these bytes (relative to the cwd, so messages are short)."""
    Path(name).mkdir()
    path = Path(name) / "config.yaml"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def run_checked(capsys: pytest.CaptureFixture[str], *argv: str, watch: Path | None = None) -> tuple[int, str, str]:
    """Run the CLI in-process: fast, no traceback, and `watch` byte-for-byte unchanged."""
    before = watch.read_bytes() if watch is not None and watch.is_file() else None
    start = time.perf_counter()
    code = cli.main(list(argv))
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "internal error" not in err
    assert elapsed < 1.0, f"{argv} took {elapsed:.2f} s"  # a generous safety bound; outcomes are asserted by callers
    if before is not None:
        assert watch is not None and watch.read_bytes() == before
    return code, out, err


# Paths that name nothing checkable: exit 2 with the path and the reason on stderr ---------------


def test_missing_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_checked(capsys, *CHECK, "nope") == (2, "", "truss-instance: nope: no such file or directory\n")
    assert run_checked(capsys, "explain", "nope/config.yaml") == (2, "", "truss-instance: nope/config.yaml: no such file or directory\n")


def test_directory_without_config(capsys: pytest.CaptureFixture[str]) -> None:
    Path("empty/sub").mkdir(parents=True)
    code, out, err = run_checked(capsys, *CHECK, "empty")
    assert (code, out) == (2, "")
    assert err == (
        "truss-instance: empty: no config.yaml in this directory or below (hidden directories, virtualenvs and node_modules are skipped)\n"
    )


def test_directory_named_config_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    """Stands in for "cannot open": a config.yaml that is not a file."""
    Path("m/config.yaml").mkdir(parents=True)
    expected = "truss-instance: m/config.yaml: is a directory, not a config file\n"
    assert run_checked(capsys, *CHECK, "m") == (2, "", expected)
    assert run_checked(capsys, *CHECK, "m/config.yaml") == (2, "", expected)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_fifo_named_config_yaml_is_not_opened(capsys: pytest.CaptureFixture[str]) -> None:
    Path("m").mkdir()
    os.mkfifo("m/config.yaml")  # opening it for reading would block forever
    code, out, _ = run_checked(capsys, *CHECK, "m")
    assert code == 2
    assert out.startswith("m/config.yaml: error TI090 cannot read: not a regular file\n")
    assert run_checked(capsys, *CHECK, "m/config.yaml")[0] == 2


def _without_root_powers() -> list[str]:
    """A command prefix under which even root cannot read a mode-000 file (or [] when not root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: root reads mode-000 files")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.e2e
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permission_denied() -> None:
    path = model("m", "resources: {cpu: '1'}\n")
    path.chmod(0)
    Path("sealed/inner").mkdir(parents=True)
    Path("sealed").chmod(0)
    try:
        prefix = _without_root_powers()
        got = subprocess.run([*prefix, str(TRUSS_INSTANCE), *CHECK, "m"], capture_output=True, text=True, timeout=60, check=False)
        sealed = subprocess.run([*prefix, str(TRUSS_INSTANCE), *CHECK, "sealed"], capture_output=True, text=True, timeout=60, check=False)
    finally:
        path.chmod(0o644)
        Path("sealed").chmod(0o755)
    assert (got.returncode, got.stdout, got.stderr) == (
        2,
        "m/config.yaml: error TI090 cannot read: Permission denied\n1 model: 1 error\n",
        "",
    )
    assert (sealed.returncode, sealed.stdout, sealed.stderr) == (
        2,
        "",
        "truss-instance: sealed: cannot read this folder: Permission denied\n",
    )


# Unreadable bytes ----------------------------------------------------------------------------


def test_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", b'resources:\n  cpu: "\xff"\n')
    code, out, _ = run_checked(capsys, *CHECK, "m", watch=path)
    assert code == 2
    assert out == "m/config.yaml:2:9: error TI090 not UTF-8: byte 0xff at offset 19\n  save the file as UTF-8\n1 model: 1 error\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("model_name: café\nresources: {}\n".encode("latin-1"),
                     "m/config.yaml:1:16: [error] TI090 not UTF-8: byte 0xe9 at offset 15\n", id="latin-1"),
        pytest.param(b"\xef\xbb\xbfmodel_name: caf\xe9\n",
                     "m/config.yaml:1:16: [error] TI090 not UTF-8: byte 0xe9 at offset 18\n", id="bom-then-bad-byte"),
        pytest.param("resources:\r\n  accelerator: A10G\r\n".encode("utf-16"),  # PowerShell's `>` writes this
                     "m/config.yaml: [error] TI090 UTF-16 text; truss reads config.yaml as UTF-8\n", id="utf-16"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00\x00resources:\n",
                     "m/config.yaml: [error] TI090 binary file (contains NUL bytes); not a truss config\n", id="binary"),
    ],
)  # fmt: skip
def test_undecodable_files(capsys: pytest.CaptureFixture[str], data: bytes, expected: str) -> None:
    path = model("m", data)
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (2, expected)


def test_huge_file_is_refused_fast(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", "model_name: big\nresources:\n  cpu: '1'\n")
    with path.open("r+b") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: 100 MB in no time
    stat = path.stat()
    code, out, _ = run_checked(capsys, *CHECK, "m")
    assert code == 2
    assert out.startswith("m/config.yaml: error TI090 file is larger than 1024 KiB; not a truss config\n")
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


# Encodings that must work: BOM and CRLF -----------------------------------------------------------


def test_bom_and_crlf_work(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", b'\xef\xbb\xbfmodel_name: sdxl\r\nresources:\r\n  accelerator: A10G\r\n  cpu: "4"\r\n  memory: 16Gi\r\n')
    assert run_checked(capsys, *CHECK, "m", watch=path) == (0, "", "")
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert code == 0 and out.startswith("m/config.yaml: A10Gx4x16  $0.02012/min")


def test_bom_and_crlf_positions(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", b'\xef\xbb\xbfmodel_name: x\r\nresources:\r\n  cpu: "4"\r\n  memory: 16GB\r\n')
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, 'm/config.yaml:4:11: [error] TI007 memory "16GB": unknown unit "GB"\n')
    path = model("n", b'\xef\xbb\xbfresources: "4"\r\n')  # the BOM takes no column
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "n", watch=path)
    assert (code, out) == (1, 'n/config.yaml:1:12: [error] TI021 resources is "4", not a mapping\n')


def test_crlf_only_and_cr_in_values(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", b"model_name: x\r\nresources:\r\n  accelerator: T4\r\n")
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert code == 0 and out.startswith("m/config.yaml: T4x4x16  ")


def test_bom_config_is_found_by_a_tree_walk(capsys: pytest.CaptureFixture[str]) -> None:
    Path("repo").mkdir()
    model("repo/m", b"\xef\xbb\xbfresources:\r\n  accelerator: A10G\r\n")
    code, out, _ = run_checked(capsys, *CHECK, "-v", "repo")
    assert code == 0 and out.startswith("repo/m/config.yaml: A10Gx4x16  ")


# YAML that is hostile ----------------------------------------------------------------------------


def _laughs(inner: str, levels: int = 10) -> list[str]:
    """Billion laughs: each level repeats the previous one nine times (9**10 ≈ 3.5e9 leaves)."""
    lines = [f"l0: &l0 {inner}"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return lines


def test_alias_bomb_as_resources(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", "\n".join([*_laughs('["lol", "lol"]'), "resources: *l9", ""]))
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, "m/config.yaml:10:5: [error] TI021 resources is a list, not a mapping\n")  # where *l9 points


def test_alias_bomb_of_mappings_inside_resources(capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["m0: &m0 {k0: lol, k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol, k7: lol, k8: lol}"]
    for i in range(1, 10):
        lines.append(f"m{i}: &m{i} {{" + ", ".join(f"k{n}: *m{i - 1}" for n in range(9)) + "}")
    path = model("m", "\n".join([*lines, 'resources: {cpu: "1", extra: *m9}', ""]))
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, 'm/config.yaml:11:23: [error] TI001 unknown key "extra" in resources\n')


def test_alias_bomb_elsewhere_in_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", "\n".join([*_laughs('["lol"]'), "resources: {accelerator: T4}", ""]))
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert code == 0 and out.startswith("m/config.yaml: T4x4x16  ")


def test_merge_key_bomb(capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["b0: &b0 {cpu: '2', memory: 4Gi}"]
    for i in range(1, 12):
        lines.append(f"b{i}: &b{i} {{<<: [" + ", ".join([f"*b{i - 1}"] * 9) + "]}")
    path = model("m", "\n".join([*lines, "resources: {<<: *b11, accelerator: T4}", ""]))
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert code == 0 and out.startswith("m/config.yaml: T4x4x16  ")


def test_recursive_anchor(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", 'resources: &r {cpu: "1", self: *r}\n')
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, 'm/config.yaml:1:26: [error] TI001 unknown key "self" in resources\n')


def test_merge_keys_are_applied_like_safe_load(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", 'defaults: &d {cpu: "2", memory: 1Gi}\nresources:\n  <<: *d\n  memory: 8Gi\n')
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert code == 0 and out.startswith("m/config.yaml: 2x8  ")
    path = model("n", "resources:\n  <<: 5\n")
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "n", watch=path)
    assert (code, out) == (2, "n/config.yaml:2:3: [error] TI091 invalid YAML: expected a mapping or list of mappings for merging\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # the cases of truss's own tests/test_yaml_merge_keys.py, as yaml.safe_load reads them
        ('base: &base {cpu: "1"}\nresources: {<<: *base, cpu: "2"}\n', "2x8"),
        ('base: &base {cpu: "1"}\nresources: {cpu: "2", <<: *base}\n', "2x8"),
        ('a: &a {cpu: "1"}\nb: &b {cpu: "2", memory: 4Gi}\nresources: {<<: [*a, *b]}\n', "1x4"),
        ('a: &a {cpu: "2"}\nb: &b {<<: *a, memory: 4Gi}\nresources: {<<: *b}\n', "2x8"),
        ('a: &a {cpu: "1"}\nb: &b {cpu: "2"}\nresources: {<<: *a, <<: *b}\n', "2x8"),  # of two << keys the later wins
        ("base: &base {}\nresources: {<<: *base}\n", "1x2"),
    ],
)
def test_merge_key_semantics(capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    path = model("m", text)
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert (code, out.split()[1]) == (0, expected)


def test_quoted_merge_key_is_a_literal_key(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", "resources:\n  '<<': {cpu: '2'}\n")
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, 'm/config.yaml:2:3: [error] TI001 unknown key "<<" in resources\n')


@pytest.mark.parametrize(("opening", "closing"), [("{a: ", "}"), ("[", "]")])
def test_10k_deep_nesting(capsys: pytest.CaptureFixture[str], opening: str, closing: str) -> None:
    path = model("m", "resources: " + opening * 10_000 + "1" + closing * 10_000 + "\n")
    code, out, _ = run_checked(capsys, *CHECK, "m", watch=path)
    assert code == 2
    assert "error TI091 invalid YAML: exceeded maximum nesting depth" in out.splitlines()[0]
    assert out.startswith("m/config.yaml:1:")


def test_deep_block_nesting_inside_resources(capsys: pytest.CaptureFixture[str]) -> None:
    depth = 900  # just below libyaml's limit; deeper than Python's recursion limit allows for naive recursion
    path = model("m", "resources:\n" + "".join("  " * (i + 1) + "a:\n" for i in range(depth)))
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, 'm/config.yaml:2:3: [error] TI001 unknown key "a" in resources\n')


@pytest.mark.parametrize(
    ("text", "position", "tag"),
    [
        ('resources: !!python/object:os.system {cpu: "1"}\n', "1:12", "tag:yaml.org,2002:python/object:os.system"),
        ("resources:\n  cpu: !!python/object/apply:os.system [echo hi]\n", "2:8", "tag:yaml.org,2002:python/object/apply:os.system"),
        ("x: !!python/name:os.system ''\nresources: {}\n", "1:4", "tag:yaml.org,2002:python/name:os.system"),
        ('resources:\n  cpu: !env "1"\n', "2:8", "!env"),
    ],
)
def test_unsafe_tags_are_refused_not_run(capsys: pytest.CaptureFixture[str], text: str, position: str, tag: str) -> None:
    path = model("m", text)
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (2, f"m/config.yaml:{position}: [error] TI093 unsupported YAML tag {tag!r}\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resources:\n  - cpu: '1'\n", "m/config.yaml:2:3: [error] TI021 resources is a list, not a mapping"),
        ('resources: "4 vCPU, 16Gi"\n', 'm/config.yaml:1:12: [error] TI021 resources is "4 vCPU, 16Gi", not a mapping'),
        ("resources: 42\n", "m/config.yaml:1:12: [error] TI021 resources is 42, not a mapping"),
    ],
)
def test_resources_not_a_mapping(capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    path = model("m", text)
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (1, expected + "\n")
    code, out, _ = run_checked(capsys, *CHECK, "--format", "json", "m", watch=path)
    (doc,) = json.loads(out)["models"]
    assert code == 1 and doc["instance"] is None and doc["diagnostics"][0]["code"] == "TI021"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "m/config.yaml:1:1: [error] TI092 the top level is not a mapping of config keys"),
        ("resources: [\n", "m/config.yaml:2:1: [error] TI091 invalid YAML: did not find expected node content"),
        ("resources:\n\tcpu: '1'\n", "m/config.yaml:2:1: [error] TI091 invalid YAML: found character that cannot start any token"),
        ("a: 1\n---\nb: 2\n", "m/config.yaml:2:1: [error] TI091 invalid YAML: but found another document"),
        ("resources: {cpu: *nothing}\n", "m/config.yaml:1:18: [error] TI091 invalid YAML: found undefined alias"),
    ],
)
def test_invalid_yaml(capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    path = model("m", text)
    code, out, _ = run_checked(capsys, *CHECK, "--format", "parsable", "m", watch=path)
    assert (code, out) == (2, expected + "\n")


@pytest.mark.parametrize("text", ["", "# just a comment\n", "model_name: x\n"])
def test_no_resources_means_truss_defaults(capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = model("m", text)
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert (code, out) == (0, "m/config.yaml: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)\n")


def test_unreadable_config_predicts_no_instance(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", b"\x00\x01binary")
    code, out, _ = run_checked(capsys, *CHECK, "--format", "json", "m", watch=path)
    assert code == 2 and json.loads(out)["models"][0]["instance"] is None
    code, out, _ = run_checked(capsys, *CHECK, "-v", "m", watch=path)
    assert code == 2 and "1x2" not in out
    code, out, _ = run_checked(capsys, "explain", "m", watch=path)
    assert code == 2 and out.startswith("m/config.yaml: no instance type\n")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("--cpu", "1e999"), "  45 types → 6 CPU-only → 0 with ≥~1e999 vCPU"),
        (("--cpu", "9" * 999), "  45 types → 6 CPU-only → 0 with ≥~1e999 vCPU"),
        (("--memory", "99999999999999999999999999999999999999999999Ti"), "  45 types → 6 CPU-only → 6 with ≥1 vCPU → 0 with ≥~1e44 TiB"),
        (("--memory", "1Ei"), "  45 types → 6 CPU-only → 6 with ≥1 vCPU → 0 with ≥1048576 TiB"),
    ],
)
def test_absurd_sizes_are_explained_not_crashed(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], line: str) -> None:
    code, out, _ = run_checked(capsys, "explain", *argv)
    assert code == 1 and line in out.splitlines()
    assert "error TI030 no CPU-only type has ≥ " in out


def test_absurd_node_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_checked(capsys, "explain", "--accelerator", "A10G", "--node-count", "99999999999999999999999999")
    assert code == 0 and out.startswith("(what-if): 99999999999999999999999999 × A10Gx4x16  ")
    path = model("m", "resources:\n  accelerator: A10G\n  node_count: " + "9" * 5000 + "\n")  # too long for int()
    code, out, _ = run_checked(capsys, *CHECK, "m", watch=path)
    assert code == 1 and out.startswith('m/config.yaml:3:15: error TI019 node_count "999')


@pytest.mark.parametrize(
    "argv", [("--cpu", "1e999999"), ("--cpu", "1e9999999999"), ("--memory", "1e999999"), ("--accelerator", "A10G:" + "9" * 5000)]
)
def test_absurd_numbers_in_request_parsing(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    code, out, _ = run_checked(capsys, "explain", *argv)
    assert code == 1 and out.startswith("(what-if): no instance type\n")


def test_every_command_survives_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    path = model("m", b'resources:\n  cpu: "\xff"\n')
    for argv in (
        (*CHECK, "m"),
        (*CHECK, "--format", "json", "m"),
        (*CHECK, "--format", "github", "m"),
        ("explain", "m"),
        ("explain", "m", "--format", "json"),
        ("explain", "m", "--why-not", "1x2"),
    ):
        code, _, _ = run_checked(capsys, *argv, watch=path)
        assert code == 2, argv


# A real process: no traceback reaches stderr ------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.skipif(not TRUSS_INSTANCE.exists(), reason="console script not installed")
def test_console_script_on_bad_input(tmp_path: Path) -> None:
    model("binary", b"\x00\x01\x02")
    model("latin", "model_name: café\n".encode("latin-1"))
    model("bomb", "\n".join([*_laughs('["lol"]'), "resources: {<<: [], extra: *l9}", ""]))
    model("deep", "resources: " + "[" * 10_000 + "]" * 10_000 + "\n")
    model("tag", "resources: !!python/object/apply:os.system ['touch pwned']\n")
    model("list", "resources: [cpu]\n")
    before = {p: p.read_bytes() for p in tmp_path.glob("*/config.yaml")}
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    proc = subprocess.run(
        [str(TRUSS_INSTANCE), *CHECK, "--format", "parsable", *sorted(p.parent.name for p in before)],
        capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    assert [line.split(": ")[0] for line in proc.stdout.splitlines()] == [
        "binary/config.yaml",
        "bomb/config.yaml:11:21",  # `<<: []` merges nothing; then the unknown key
        "deep/config.yaml:1:1011",
        "latin/config.yaml:1:16",
        "list/config.yaml:1:12",
        "tag/config.yaml:1:12",
    ]
    assert not (tmp_path / "pwned").exists()
    assert {p: p.read_bytes() for p in before} == before
    missing = subprocess.run([str(TRUSS_INSTANCE), *CHECK, "nope"], capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path)
    assert (missing.returncode, missing.stdout, missing.stderr) == (2, "", "truss-instance: nope: no such file or directory\n")


HEX = "0x1" + "0" * 3600  # 4,335 decimal digits: YAML reads it (base 16 has no digit limit), str() of it fails
QUOTED = "'1" + "0" * 5000 + "'"
TI019 = "m/config.yaml:3:15: error TI019 node_count "
MANY_NODES = ": more nodes than any deployment has\n  e.g. node_count: 2 (omit it for one node)\n"
MANY_GPUS = "m/config.yaml:2:43: error TI012 accelerator count a huge number: more GPUs than any instance has\n  e.g. count: 2\n"


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (
            f"  node_count: {QUOTED}\n",
            f'{TI019}"{clip(QUOTED[1:-1])}": must be an integer ≥ 1 (truss rejects it too)\n  e.g. node_count: 2 (omit it for one node)\n',
        ),
        (f"  node_count: {HEX}\n", f"{TI019}a huge number{MANY_NODES}"),
        ("  node_count: 0x" + "f" * 25 + "\n", f"{TI019}{16**25 - 1}{MANY_NODES}"),
        (f"  accelerator: {{accelerator: A10G, count: {HEX}}}\n", MANY_GPUS),
    ],
    ids=["quoted-5000-digits", "hex-4335-digits", "hex-31-digits", "count-hex"],
)
def test_a_count_past_any_instance_is_a_finding(capsys: pytest.CaptureFixture[str], resources: str, expected: str) -> None:
    """Counts Python cannot turn into text (or a lock could not hold): a finding at the value, in every command."""
    path = model("m", "resources:\n" + ("" if "accelerator" in resources else "  accelerator: A10G\n") + resources)
    assert run_checked(capsys, *CHECK, "m", watch=path) == (1, expected + "1 model: 1 error\n", "")
    assert run_checked(capsys, "lock", "m", watch=path) == (1, expected, "")
    code, out, _ = run_checked(capsys, "explain", "m", watch=path)
    assert code == 1 and out.startswith("m/config.yaml: no instance type\n"), out


REFETCH = "run `truss-instance catalog fetch -o snap.json` to fetch it again"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[" * 1000 + "]" * 1000, "arrays or objects nested too deeply, not a catalog snapshot"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "arrays or objects nested too deeply, not a catalog snapshot"),
        ("[1" + "0" * 5000 + "]", "a number with too many digits or too large an exponent, not a catalog snapshot"),
        ("[1e99999999999999999999]", "a number with too many digits or too large an exponent, not a catalog snapshot"),
        (
            '{"generator": "g", "snapshot_version": 1, "as_of": "2026-01-01", "sha256": "", "types": [], "unmapped": [], "source": '
            + "[" * 900
            + "]" * 900
            + "}",
            "cannot be used as a catalog snapshot: source must be a string, not [[[[[",
        ),
    ],
    ids=["deep-array", "deep-object", "5000-digits", "huge-exponent", "deep-value"],
)
def test_a_hostile_catalog_snapshot_is_one_exit_2_line(capsys: pytest.CaptureFixture[str], text: str, why: str) -> None:
    """`--catalog FILE` (or the policy's `catalog`) names a file from the repository: refused in one line, every command."""
    Path("snap.json").write_text(text)
    path = model("m", 'resources:\n  cpu: "1"\n')
    for argv in ((*CHECK, "m", "--catalog", "snap.json"), ("lock", "m", "--catalog", "snap.json"), ("catalog", "--catalog", "snap.json")):
        code, out, err = run_checked(capsys, *argv, watch=path)
        assert (code, out, err.count("\n")) == (2, "", 1), argv
        assert err.startswith(f"truss-instance: snap.json: {why}") and err.endswith(f"; {REFETCH}\n"), err
        assert len(err) < 400


# Merge keys while tags are resolved lazily: a plain << and an explicit !!merge key merge; a quoted "<<" is a key.
@pytest.mark.parametrize(
    ("key", "code", "summary"),
    [("<<", 0, "2x8  "), ("!!merge x", 0, "2x8  "), ('"<<"', 1, 'no instance type\n  config.yaml:3:3: error TI001 unknown key "<<"')],
)
@pytest.mark.usefixtures("truss_cwd")
def test_merge_keys_with_lazily_resolved_tags(run: Run, key: str, code: int, summary: str) -> None:
    Path("config.yaml").write_text(f'model_name: a\nresources:\n  {key}: {{cpu: "2"}}\n')
    got, out, _ = run("explain", ".")
    assert got == code and out.startswith(f"config.yaml: {summary}"), out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('cpu: !!int ""', "m/config.yaml:3:8: [error] TI026 !!int '' is not a valid YAML int"),
        ('cpu: !!float ""', "m/config.yaml:3:8: [error] TI026 !!float '' is not a valid YAML float"),
        ("use_gpu: !!bool maybe", "m/config.yaml:3:12: [error] TI026 !!bool 'maybe' is not a valid YAML bool"),
        ("use_gpu: !!bool 2", "m/config.yaml:3:12: [error] TI026 !!bool '2' is not a valid YAML bool"),
        ("node_count: !!int 0x", "m/config.yaml:3:15: [error] TI026 !!int '0x' is not a valid YAML int"),
        ("accelerator: {accelerator: A10G, count: !!int x}", "m/config.yaml:3:43: [error] TI026 !!int 'x' is not a valid YAML int"),
        ('cpu: "1e9999999999999999999"', 'm/config.yaml:3:8: [error] TI004 cpu "1e9999999999999999999": out of range'),
        ('memory: "1e9999999999999999999"', 'm/config.yaml:3:11: [error] TI007 memory "1e9999999999999999999": out of range'),
        ('memory: "1e10000"', 'm/config.yaml:3:11: [error] TI007 memory "1e10000": out of range'),
        ("fabric: !!seq {a: 1}", "m/config.yaml:3:11: [error] TI026 a mapping tagged !!seq is not a valid YAML seq"),
    ],
)
def test_values_that_crashed_are_findings(run: Run, line: str, expected: str) -> None:
    path = make_truss("m", f"model_name: p\nresources:\n  {line}\n")
    before = path.read_bytes()
    code, out, err = run("check", "--no-lock", "--format", "parsable", "m")
    assert (code, out.splitlines()[0], err) == (1, expected, "")
    code, out, _ = run("check", "--no-lock", "--format", "json", "m")
    (entry,) = json.loads(out)["models"]
    assert code == 1 and entry["instance"] is None
    code, out, _ = run("explain", "--format", "json", "m")
    assert code == 1 and json.loads(out)["chosen"] is None
    assert run("lock", "m")[0] == 1 and not Path("m/truss-instance.lock").exists()
    assert path.read_bytes() == before


def test_resources_the_loader_cannot_build_do_not_pass_silently(run: Run) -> None:
    make_truss("m", "model_name: p\nresources: !!map\n")
    assert run("check", "--no-lock", "--format", "parsable", "m") == (
        1, "m/config.yaml:2:12: [error] TI026 a scalar tagged !!map is not a valid YAML map\n", ""
    )  # fmt: skip


def test_a_node_count_beyond_int_conversion_is_a_short_finding(run: Run) -> None:
    make_truss("m", "model_name: p\nresources:\n  accelerator: A10G\n  node_count: " + "9" * 5000 + "\n")
    code, out, _ = run("check", "--no-lock", "--format", "json", "m")
    (diag,) = json.loads(out)["models"][0]["diagnostics"]
    assert (code, diag["code"], diag["line"], diag["col"]) == (1, "TI019", 4, 15)
    assert (
        diag["message"] == 'node_count "' + "9" * 60 + "…" + "9" * 12 + ' (5000 characters)": must be an integer ≥ 1 (truss rejects it too)'
    )


@pytest.mark.parametrize("argv", [("--cpu", "1e9999999999999999999"), ("--memory", "1e10000Gi"), ("--cpu", "9" * 5000)])
def test_explain_what_ifs_with_absurd_numbers(run: Run, argv: tuple[str, str]) -> None:
    code, out, err = run("explain", "--format", "json", *argv)
    doc = json.loads(out)
    assert (code, err, doc["chosen"], [d["code"] for d in doc["diagnostics"]]) == (
        1,
        "",
        None,
        ["TI004" if argv[0] == "--cpu" else "TI007"],
    )


def test_a_megabyte_value_gives_a_short_message(run: Run) -> None:
    make_truss("m", 'model_name: p\nresources:\n  cpu: "' + "x" * 1_000_000 + '"\n  ? bogus' + "k" * 10_000 + "\n  : 1\n")
    code, out, _ = run("check", "--no-lock", "m")
    assert code == 1 and len(out) < 2_000, len(out)
    assert "(1000000 characters)" in out and "(10005 characters)" in out


@pytest.mark.e2e
def test_escapes_truss_accepts_load_here_too(run: Run) -> None:
    """libyaml refuses "\\udc00" in a double-quoted scalar; yaml.safe_load (truss) reads it, so we do too."""
    make_truss("m", 'model_name: p\nresources:\n  cpu: "\\udc00"\n  memory: "\\U0001F600"\n')
    got = run_console("check", "--no-lock", "m")
    assert got.returncode == 1 and got.stderr == ""
    assert got.stdout.splitlines()[0] == 'm/config.yaml:3:8: error TI004 cpu "\\udc00": no number'
    assert 'memory "😀": no number' in got.stdout


def test_yaml_directives_load(run: Run) -> None:
    make_truss("m", '%YAML 1.1\n%TAG !t! tag:yaml.org,2002:\n---\nmodel_name: p\nresources:\n  cpu: !t!str "2"\n')
    code, out, _ = run("check", "--no-lock", "-v", "m")
    assert (code, out.split("  ")[0]) == (0, "m/config.yaml: 2x8")


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_named_config_yaml_in_a_tree_does_not_hang() -> None:
    make_truss("good", 'model_name: g\nresources:\n  cpu: "2"\n')
    Path("pipe").mkdir()
    os.mkfifo("pipe/config.yaml")
    start = time.monotonic()
    got = run_console("check", "--no-lock", ".")
    assert time.monotonic() - start < 5
    assert (got.returncode, got.stdout) == (
        2,
        "pipe/config.yaml: error TI090 cannot read: not a regular file\n"
        "  point PATH at a truss directory or its config.yaml\n2 models: 1 error\n",
    )


def test_loading_configs_keeps_none_of_their_yaml_nodes(tmp_path: Path) -> None:
    """A tree of 10,000 models must not hold on to every model's typed values: booleans, counts, dates, bad values."""
    import gc

    import yaml

    from truss_instance_plugin.config import load_config_bytes

    def nodes() -> int:
        gc.collect()
        return sum(isinstance(o, yaml.Node) for o in gc.get_objects())

    texts = [
        b'resources:\n  cpu: "1"\n  use_gpu: false\n  node_count: 2\n',
        b"resources:\n  accelerator: {accelerator: A10G, count: 2}\n  cpu: 1.5\n  memory: !!binary aGk=\n",
        b"resources:\n  use_gpu: !!bool maybe\n  node_count: !!int x\n  fabric: 2026-01-01\n",
    ]
    load_config_bytes("config.yaml", texts[0])  # a first use may build what lasts (caches of tags)
    before = nodes()
    for data in texts * 3:
        load_config_bytes("config.yaml", data)
    assert nodes() == before
