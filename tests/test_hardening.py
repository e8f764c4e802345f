"""Regression tests for the hardening issue: no crash, no hang, no lost deployment record, no forged CI output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from support import Run, copy_sdxl

from truss_instance_plugin.diagnostics import ERROR, Diagnostic
from truss_instance_plugin.hookspecs import hookimpl
from truss_instance_plugin.testing import register_plugin

TRUSS_INSTANCE = Path(sys.executable).parent / "truss-instance"


def model(name: str, text: str | bytes) -> Path:
    """`name`/config.yaml (relative to the cwd) with these bytes, and a model/ folder."""
    (Path(name) / "model").mkdir(parents=True, exist_ok=True)
    path = Path(name) / "config.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def cli(*argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The real console script (a hang fails the test through the timeout)."""
    return subprocess.run([str(TRUSS_INSTANCE), *argv], capture_output=True, text=True, timeout=timeout, check=False)


# §1 a pinned GPU instance_type verifies right after `lock` ------------------------------------


@pytest.mark.parametrize(
    ("resources", "locked"),
    [
        ('  instance_type: "A10Gx4x16"\n', "A10Gx4x16"),
        ('  instance_type: "H100"\n', "H100"),
        ('  instance_type: "H100:8"\n  node_count: 2\n', "H100:8"),
        ('  instance_type: "L4:4x16"\n  cpu: "2"\n', "L4:4x16"),
        ('  accelerator: A10G\n  instance_type: "A10Gx4x16"\n', "A10Gx4x16"),
        ('  instance_type: " A10Gx4x16"\n', "A10Gx4x16"),
        ('  instance_type: "4x16"\n', "4x16"),
    ],
)
def test_a_pinned_type_passes_its_own_lock(run: Run, resources: str, locked: str) -> None:
    model("m", "model_name: p\nresources:\n" + resources)
    code, out, _ = run("lock", "m")
    assert code == 0 and out.startswith(f"wrote m/truss-instance.lock (new): {locked} "), out
    before = Path("m/truss-instance.lock").read_bytes()
    code, out, _ = run("check", "m")
    assert not any(f"TI10{n}" in out for n in range(5)), out
    assert run("lock", "m") == (0, "", "")
    assert run("lock", "--upgrade", "m") == (0, "", "")
    assert run("lock", "--check", "m") == (0, "", "")
    assert Path("m/truss-instance.lock").read_bytes() == before


def test_a_pin_with_as_many_gpus_as_the_accelerator_is_no_contradiction(run: Run) -> None:
    """accelerator A10G (1 GPU) + instance_type A10Gx4x16 (1 GPU): equal counts are fine, one more is not."""
    model("m", 'model_name: p\nresources:\n  accelerator: "A10G:1"\n  instance_type: "A10Gx4x16"\n')
    code, out, _ = run("check", "--no-lock", "--format", "json", "m")
    assert code == 0 and [d["code"] for d in json.loads(out)["models"][0]["diagnostics"]] == ["TI016"]
    model("m", 'model_name: p\nresources:\n  accelerator: "A10G:2"\n  instance_type: "A10Gx4x16"\n')
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "m")
    assert (code, out.splitlines()[:2]) == (
        1,
        [
            'm/config.yaml:4:18: [warning] TI016 instance_type "A10Gx4x16" is set, so truss ignores accelerator',
            'm/config.yaml:4:18: [error] TI017 instance_type "A10Gx4x16" (1× A10G) contradicts accelerator A10G:2',
        ],
    )


# §2 every value goes through one total conversion ---------------------------------------------


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
    path = model("m", f"model_name: p\nresources:\n  {line}\n")
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
    model("m", "model_name: p\nresources: !!map\n")
    assert run("check", "--no-lock", "--format", "parsable", "m") == (
        1, "m/config.yaml:2:12: [error] TI026 a scalar tagged !!map is not a valid YAML map\n", ""
    )  # fmt: skip


def test_a_node_count_beyond_int_conversion_is_a_short_finding(run: Run) -> None:
    model("m", "model_name: p\nresources:\n  accelerator: A10G\n  node_count: " + "9" * 5000 + "\n")
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
    model("m", 'model_name: p\nresources:\n  cpu: "' + "x" * 1_000_000 + '"\n  ? bogus' + "k" * 10_000 + "\n  : 1\n")
    code, out, _ = run("check", "--no-lock", "m")
    assert code == 1 and len(out) < 2_000, len(out)
    assert "(1000000 characters)" in out and "(10005 characters)" in out


def test_escapes_truss_accepts_load_here_too(run: Run) -> None:
    """libyaml refuses "\\udc00" in a double-quoted scalar; yaml.safe_load (truss) reads it, so we do too."""
    model("m", 'model_name: p\nresources:\n  cpu: "\\udc00"\n  memory: "\\U0001F600"\n')
    got = cli("check", "--no-lock", "m")
    assert got.returncode == 1 and got.stderr == ""
    assert got.stdout.splitlines()[0] == 'm/config.yaml:3:8: error TI004 cpu "\\udc00": no number'
    assert 'memory "😀": no number' in got.stdout


def test_yaml_directives_load(run: Run) -> None:
    model("m", '%YAML 1.1\n%TAG !t! tag:yaml.org,2002:\n---\nmodel_name: p\nresources:\n  cpu: !t!str "2"\n')
    code, out, _ = run("check", "--no-lock", "-v", "m")
    assert (code, out.split("  ")[0]) == (0, "m/config.yaml: 2x8")


class _BuggyPlugin:
    """A validation rule that returns a diagnostic without a position for one model (its author's bug)."""

    @hookimpl
    def truss_instance_validate(self, model: object) -> Sequence[Diagnostic]:
        if "bad" not in str(getattr(model, "path", "")):
            return []
        return [Diagnostic("X1", ERROR, "one", "", None, None), Diagnostic("X2", ERROR, "two", "", 1, 1)]  # type: ignore[arg-type]


def test_one_model_failing_never_takes_the_others_down(run: Run) -> None:
    model("a-good", 'model_name: g\nresources:\n  cpu: "2"\n')
    model("b-bad", 'model_name: b\nresources:\n  cpu: "2"\n')
    model("c-good", 'model_name: h\nresources:\n  cpu: "4"\n')
    with register_plugin(_BuggyPlugin(), "buggy"):
        code, out, err = run("check", "--no-lock", "--format", "json", ".")
        models = json.loads(out)["models"]
        assert (code, err) == (1, "")
        assert [(m["config"], m["instance"]["name"] if m["instance"] else None) for m in models] == [
            ("a-good/config.yaml", "2x8"),
            ("b-bad/config.yaml", None),
            ("c-good/config.yaml", "4x16"),
        ]
        (diag,) = models[1]["diagnostics"]
        assert diag["code"] == "TI099" and diag["message"].startswith("unexpected failure while checking this model: TypeError: ")
        code, out, _ = run("lock", ".")
        assert code == 1
        assert out.splitlines()[0] == "wrote a-good/truss-instance.lock (new): 2x8 $0.00173/min"
        assert out.splitlines()[1].startswith("b-bad/config.yaml:1:1: error TI099 unexpected failure")
        assert out.splitlines()[-2:] == ["wrote c-good/truss-instance.lock (new): 4x16 $0.00346/min", "wrote 2 locks, 1 not written"]


# §4 bounded work on every file we open --------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_named_config_yaml_in_a_tree_does_not_hang() -> None:
    model("good", 'model_name: g\nresources:\n  cpu: "2"\n')
    Path("pipe").mkdir()
    os.mkfifo("pipe/config.yaml")
    start = time.monotonic()
    got = cli("check", "--no-lock", ".")
    assert time.monotonic() - start < 5
    assert (got.returncode, got.stdout) == (
        2,
        "pipe/config.yaml: error TI090 cannot read: not a regular file\n"
        "  point PATH at a truss directory or its config.yaml\n2 models: 1 error\n",
    )


def _locked_sdxl() -> Path:
    copy_sdxl(Path("m"), with_lock=True)
    return Path("m/truss-instance.lock")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_lockfile_is_refused_not_waited_on() -> None:
    lock = Path("m/truss-instance.lock")
    copy_sdxl(Path("m"))
    os.mkfifo(lock)
    for argv in (("check", "m"), ("lock", "m"), ("lock", "--check", "m"), ("adopt", "m")):
        got = cli(*argv, timeout=5)
        assert got.returncode == 2, argv
        assert "error TI104 truss-instance.lock cannot be used: cannot read: not a regular file" in got.stdout, argv
    assert lock.is_fifo()


def test_a_lockfile_pointing_at_dev_zero_is_refused() -> None:
    lock = Path("m/truss-instance.lock")
    copy_sdxl(Path("m"))
    lock.symlink_to("/dev/zero")
    for argv in (("check", "m"), ("lock", "m"), ("lock", "--upgrade", "m")):
        got = cli(*argv, timeout=5)
        assert got.returncode == 2 and "cannot read: not a regular file" in got.stdout, argv
    assert os.readlink(lock) == "/dev/zero"


def test_a_huge_sparse_lockfile_is_refused_after_a_bounded_read() -> None:
    lock = Path("m/truss-instance.lock")
    copy_sdxl(Path("m"))
    with open(lock, "wb") as f:
        f.truncate(2 << 30)
    for argv in (("check", "m"), ("lock", "m")):
        got = cli(*argv, timeout=5)
        assert got.returncode == 2 and "cannot be used: larger than 64 KiB; not a truss-instance lockfile" in got.stdout, argv
    assert lock.stat().st_size == 2 << 30


def test_an_alias_bomb_lockfile_is_refused_quickly_and_kept() -> None:
    lock = _locked_sdxl()
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n"
        for i in range(1, 20)
    )
    data = (
        lock.read_bytes()
        .replace(b"deployment: {}\n", b"deployment:\n  model_id: {" + b"k: *a19}\n")
        .replace(b"catalog:\n", bomb.encode() + b"catalog:\n")
    )
    lock.write_bytes(data)
    assert len(data) < 4096
    start = time.monotonic()
    for argv in (("check", "m"), ("lock", "m")):
        got = cli(*argv, timeout=10)
        assert got.returncode == 2 and "error TI104" in got.stdout, argv
    assert time.monotonic() - start < 5
    assert lock.read_bytes() == data


def test_adopt_refuses_a_value_it_could_not_read_back(run: Run) -> None:
    _locked_sdxl()
    before = Path("m/truss-instance.lock").read_bytes()
    code, out, err = run("adopt", "m", "--model", "bad\udc00name")
    assert (code, out) == (2, "")
    assert err == "truss-instance: --model 'bad\\udc00name' cannot be recorded: use printable UTF-8 text of at most 200 characters\n"
    assert Path("m/truss-instance.lock").read_bytes() == before


# §5 a recorded deployment is never dropped ----------------------------------------------------


def test_leftover_temp_files_are_cleaned_by_the_next_lock(run: Run) -> None:
    copy_sdxl(Path("m"))
    for name in (".truss-instance.abc123.tmp", ".truss-instance.x.tmp"):
        Path("m", name).write_text("half a lock")
    Path("m/.truss-instance.keep").write_text("not ours")
    assert run("lock", "m")[0] == 0
    assert sorted(p.name for p in Path("m").iterdir()) == [".truss-instance.keep", "config.yaml", "model", "truss-instance.lock"]


def test_adopt_then_a_bad_merge_keeps_the_record_and_check_names_the_way_back(run: Run) -> None:
    lock = _locked_sdxl()
    assert run("adopt", "m", "--model", "sdxl-prod")[0] == 0
    data = lock.read_bytes() + b"deployment: {}\n"  # the other side of a merge
    lock.write_bytes(data)
    for argv in (("check", "m"), ("lock", "m"), ("lock", "--upgrade", "m"), ("adopt", "m")):
        code, out, _ = run(*argv)
        assert code == 2 and "git checkout -- m/truss-instance.lock" in out, argv
    assert lock.read_bytes() == data


# §6 CI output cannot be forged; nothing is skipped silently ------------------------------------


@pytest.mark.parametrize(
    ("folder", "file_property"),
    [
        ("evil\n::add-mask::X", "evil%0A%3A%3Aadd-mask%3A%3AX/config.yaml"),
        ("a,line=999,title=FAKE::", "a%2Cline=999%2Ctitle=FAKE%3A%3A/config.yaml"),
        ("100%", "100%25/config.yaml"),
    ],
)
def test_github_annotations_escape_hostile_names(run: Run, folder: str, file_property: str) -> None:
    model(folder, 'model_name: p\nresources:\n  cpu: "-1"\n')
    code, out, _ = run("check", "--no-lock", "--format", "github", folder)
    assert code == 1
    assert out.splitlines() == [
        f'::error file={file_property},line=3,col=8,title=TI003::cpu "-1": must be greater than 0. '
        'truss accepts this, but Baseten would receive cpu -1; use e.g. cpu: "1" or "500m"'
    ]


@pytest.mark.parametrize("folder", ["env", "venv", "site-packages"])
def test_folders_named_like_virtualenvs_are_checked(run: Run, folder: str) -> None:
    model(f"{folder}/m", 'model_name: p\nresources:\n  cpu: "-1"\n')
    model(".venv-real/m", 'model_name: p\nresources:\n  cpu: "-1"\n')
    Path(".venv-real/pyvenv.cfg").write_text("home = /usr\n")
    model("real/m", 'model_name: p\nresources:\n  cpu: "-2"\n')
    Path("real/pyvenv.cfg").write_text("home = /usr\n")
    code, out, _ = run("check", "--no-lock", "--format", "parsable", ".")
    assert (code, out.splitlines()) == (1, [f'{folder}/m/config.yaml:3:8: [error] TI003 cpu "-1": must be greater than 0'])


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


def test_policy_above_the_repository_root_does_not_apply(run: Run) -> None:
    Path("pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 0.01\n")
    _git_init(Path("repo"))
    model("repo/m", 'model_name: p\nresources:\n  cpu: "2"\n')
    assert run("check", "--no-lock", "repo/m") == (0, "", "")
    model("outside/m", 'model_name: p\nresources:\n  cpu: "2"\n')
    code, out, _ = run("check", "--no-lock", "outside/m")
    assert code == 1 and "TI200 2x8 costs $0.10/h, over the $0.01/h limit" in out
    Path("repo/pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 5\n")
    code, out, _ = run("check", "--no-lock", "-v", "repo/m")
    assert (code, out) == (0, "repo/m/config.yaml: 2x8  $0.00173/min  $0.10/h  $76/month  (2 vCPU, 8 GiB)  (policy: repo/pyproject.toml)\n")


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
