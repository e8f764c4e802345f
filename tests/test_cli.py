"""The `truss-instance` CLI: explain, check, catalog (in-process, exact output and exit codes)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin import hookimpl
from truss_instance_plugin.catalog import InstanceType
from truss_instance_plugin.plugins import Host, reset_host

REPO = Path(__file__).resolve().parents[1]
CHECK = ("check", "--no-lock")  # lockfile checks have their own tests; these are about resources

SDXL_HEAD = """\
examples/sdxl/config.yaml: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)
  request  cpu "4" → 4000m · memory 16Gi → 17179869184 B · accelerator A10G ×1
  45 types → 6 with A10G → 6 with ≥1 GPU → 6 with ≥4 vCPU → 6 with ≥16 GiB → cheapest: A10Gx4x16
  next: A10Gx8x32 +$0.25/h (+20%)
"""

CLEAN_GPU = 'model_name: gpu\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'
CLEAN_CPU = "model_name: cpu\nresources:\n  memory: 512Mi\n"
BAD = 'model_name: bad\nresources:\n  cpu: "4"\n  memory: 16GB\n  accelerator: A10G\n'
WARN = "model_name: warn\nresources:\n  accelerator: H200\n"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repo with two trusses, plus config files in places a walk must skip."""
    files = {
        "gpu/config.yaml": CLEAN_GPU,
        "nested/cpu/config.yaml": CLEAN_CPU,
        "gpu/data/config.yaml": "lint: true\n",  # another tool's config inside a truss: no truss keys, no model/
        ".hidden/config.yaml": BAD,
        "node_modules/pkg/config.yaml": BAD,
        "myenv/pyvenv.cfg": "home = /usr/bin\n",
        "myenv/lib/m/config.yaml": BAD,
    }
    for name, text in files.items():
        p = tmp_path / "repo" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "repo"


def write(base: Path, name: str, text: str) -> Path:
    (base / name).mkdir(parents=True, exist_ok=True)
    p = base / name / "config.yaml"
    p.write_text(text)
    return p


# explain ---------------------------------------------------------------------------------


def test_explain_example(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = run("explain", "examples/sdxl")
    assert (code, err) == (0, "")
    assert out.startswith(SDXL_HEAD)
    assert "    ✔ A10Gx4x16        1× A10G               4 vCPU     16 GiB  $1.21/h\n" in out
    assert "candidates (6, cheapest first)" in out


def test_explain_accepts_the_config_file_too(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl/config.yaml")
    assert code == 0 and out.startswith(SDXL_HEAD)


def test_explain_what_if_cost_cliff(run: Run) -> None:
    code, out, _ = run("explain", "--cpu", "5", "--memory", "2Gi")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "(what-if): 8x32  $0.00691/min  $0.41/h  $303/month  (8 vCPU, 32 GiB)"
    assert lines[1] == '  request  cpu "5" → 5000m · memory 2Gi → 2147483648 B · no accelerator (CPU-only)'
    assert lines[2] == "  45 types → 6 CPU-only → 2 with ≥5 vCPU → 2 with ≥2 GiB → cheapest: 8x32"
    assert "  step down: 4x16 −$0.21/h (−50%) if cpu ≤ 4000m (the request is just past it)" in lines


@pytest.mark.parametrize(("cpu", "expected"), [("3", "4x16"), ("4", "4x16"), ("5", "8x32"), ("8", "8x32")])
def test_explain_what_if_cpu_ladder(run: Run, cpu: str, expected: str) -> None:
    code, out, _ = run("explain", "--cpu", cpu, "--memory", "2Gi")
    assert code == 0 and out.startswith(f"(what-if): {expected}  ")


def test_explain_what_if_overrides_the_file(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl", "--accelerator", "L4", "--cpu", "8")
    assert code == 0 and out.startswith("examples/sdxl/config.yaml: L4:2x24x96  $0.04002/min  $2.40/h  $1,753/month")


def test_explain_replicas(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl", "--replicas", "3")
    assert code == 0
    assert out.startswith(SDXL_HEAD)  # the headline stays per replica
    assert "  × 3 replicas  $0.06036/min  $3.62/h  $2,644/month\n" in out
    code, _, err = run("explain", "examples/sdxl", "--replicas", "0")
    assert code == 2 and "--replicas must be at least 1" in err


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (("--why-not", "T4x4x16"), "  why not T4x4x16: its GPU type is T4, not A10G"),
        (("--why-not", "8x32"), "  why not 8x32: its GPU type is CPU-only, not A10G"),
        (("--why-not", "A10Gx8x32"), "  why not A10Gx8x32: it fits, but costs +$0.25/h (+20%) more than A10Gx4x16"),
        (("--why-not", "A10Gx4x16"), "  why not A10Gx4x16: it is the chosen type"),
        (("--why-not", "A10Gx4x16", "--cpu", "5"), "  why not A10Gx4x16: it has 4 vCPU < 5 requested"),
        (("--why-not", "A10Gx4x16", "--memory", "17Gi"), "  why not A10Gx4x16: it has 16 GiB < 17 GiB requested"),
        (("--why-not", "A10Gx4x61"), '  why not A10Gx4x61: not in the catalog (did you mean "A10Gx4x16"?)'),
    ],
)
def test_explain_why_not(run: Run, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...], why: str) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl", *extra)
    assert code == 0
    assert why in out.splitlines()


def test_explain_json(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl", "--format", "json", "--replicas", "2", "--why-not", "A10Gx8x32")
    assert code == 0
    doc = json.loads(out)
    assert {"request", "chosen", "candidates", "diagnostics"} <= doc.keys()
    assert doc["config"] == "examples/sdxl/config.yaml"
    assert doc["request"] == {
        "millicores": 4000, "memory_bytes": 17179869184, "gpu_type": "A10G", "gpu_count": 1, "node_count": 1, "instance_type": None,
    }  # fmt: skip
    assert doc["chosen"]["name"] == "A10Gx4x16"
    assert doc["chosen"]["price_usd_per_min"] == "0.02012"
    assert doc["chosen"]["price_usd_per_hour"] == "1.20720"
    assert [c["name"] for c in doc["candidates"]] == [
        "A10Gx4x16", "A10Gx8x32", "A10Gx16x64", "A10G:2x24x96", "A10G:4x48x192", "A10G:8x192x768",
    ]  # fmt: skip
    assert all(isinstance(c["price_usd_per_min"], str) for c in doc["candidates"])
    assert doc["diagnostics"] == []
    assert doc["cost"] == {"usd_per_min": "0.04024", "usd_per_hour": "2.41440", "usd_per_month": "1762.51200"}
    assert doc["why_not"].startswith("why not A10Gx8x32: it fits")
    assert doc["catalog"]["sha256"].startswith("sha256:")


def test_explain_no_match(run: Run) -> None:
    code, out, _ = run("explain", "--accelerator", "A10G", "--memory", "1Ti")
    assert code == 1
    assert out.splitlines()[:3] == [
        "(what-if): no instance type",
        '  request  cpu "1" (default) → 1000m · memory 1Ti → 1099511627776 B · accelerator A10G ×1',
        "  45 types → 6 with A10G → 6 with ≥1 GPU → 6 with ≥1 vCPU → 0 with ≥1 TiB",
    ]
    assert "error TI030 no A10G type has ≥ 1 TiB; largest is A10G:8x192x768 (750 GiB)\n" in out
    code, doc, _ = run("explain", "--accelerator", "A10G", "--memory", "1Ti", "--format", "json")
    parsed = json.loads(doc)
    assert code == 1 and parsed["chosen"] is None and parsed["candidates"] == []
    assert parsed["diagnostics"][0]["message"] == "no A10G type has ≥ 1 TiB; largest is A10G:8x192x768 (750 GiB)"


@pytest.mark.parametrize(
    ("args", "code", "head", "diag"),
    [
        (("--accelerator", "H100_40GB"), 0, "(what-if): H100MIG  ", None),
        (("--accelerator", "RTX_PRO_6000"), 0, "(what-if): RTX-PRO-6000  ", None),
        (("--accelerator", "RTX_PRO_6000:2"), 0, "(what-if): RTX-PRO-6000:2  ", None),
        (("--accelerator", "H200"), 0, "(what-if): H200  ", "warning TI023 H200 is available on request only"),
        (("--accelerator", "B200:2"), 0, "(what-if): B200:2  ", "warning TI023 B200:2 is available on request only"),
        (("--accelerator", "V100"), 1, "(what-if): no instance type", "error TI022 accelerator V100 has no public instance type"),
        (("--instance-type", "L4x4x16"), 1, "(what-if): no instance type", 'error TI015 instance_type "L4x4x16" is not in the catalog'),
        (("--instance-type", "L4:4x16"), 0, "(what-if): L4:4x16  $0.01414/min  $0.85/h  $619/month", None),
    ],
)
def test_explain_accelerators_and_pins(run: Run, args: tuple[str, ...], code: int, head: str, diag: str | None) -> None:
    got, out, _ = run("explain", *args)
    assert got == code
    assert out.startswith(head)
    if diag:
        assert f"  (what-if): {diag}" in out


class _TwinPlugin:
    """Adds a type that ties with A10Gx4x16 on price, GPUs, vCPU and memory: only the name breaks the tie."""

    @hookimpl
    def truss_instance_catalog_entries(self) -> list[InstanceType]:
        return [InstanceType("A10Gx4x16-twin", 4000, 16 << 30, "A10G", 1, 24, Decimal("0.02012"))]


def test_explain_shows_the_tie_break(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    host = Host(load_entry_points=False)
    host.register(_TwinPlugin(), "twin")
    reset_host(host)
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl", "--why-not", "A10Gx4x16-twin")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("examples/sdxl/config.yaml: A10Gx4x16  $0.02012/min")
    assert lines[2] == "  46 types → 7 with A10G → 7 with ≥1 GPU → 7 with ≥4 vCPU → 7 with ≥16 GiB → cheapest: A10Gx4x16"
    assert lines[3] == "  next: A10Gx4x16-twin +$0.00/h (+0%)"
    assert "  tie: equal price; broken by (price, gpu_count, vcpu, memory, name)" in lines
    assert "  why not A10Gx4x16-twin: same price as A10Gx4x16; the tie is broken by (price, gpu_count, vcpu, memory, name)" in lines


# check -----------------------------------------------------------------------------------


def test_check_is_quiet_on_success(run: Run, tree: Path) -> None:
    assert run(*CHECK, "repo") == (0, "", "")
    assert run(*CHECK, "repo/gpu") == (0, "", "")
    assert run(*CHECK, "repo/gpu/config.yaml") == (0, "", "")


def test_check_verbose_walks_the_tree(run: Run, tree: Path) -> None:
    code, out, err = run(*CHECK, "-v", "repo")
    assert (code, err) == (0, "")
    assert out == (
        "repo/gpu/config.yaml: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)\n"
        "repo/nested/cpu/config.yaml: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)\n"
    )


def test_check_defaults_to_the_current_directory(run: Run, tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    code, out, _ = run(*CHECK, "-v")
    assert code == 0 and len(out.splitlines()) == 2


def test_check_each_model_once(run: Run, tree: Path) -> None:
    code, out, _ = run(*CHECK, "-v", "repo/gpu", "repo/gpu/config.yaml", "repo")
    assert code == 0 and [line.split(":")[0] for line in out.splitlines()] == ["repo/gpu/config.yaml", "repo/nested/cpu/config.yaml"]


def test_check_walk_skips_hidden_venv_and_node_modules(run: Run, tree: Path) -> None:
    # The skipped configs are broken: naming one directly proves they would fail if walked.
    for skipped in ("repo/.hidden", "repo/node_modules/pkg", "repo/myenv/lib/m"):
        assert run(*CHECK, skipped)[0] == 1
    assert run(*CHECK, "repo")[0] == 0


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "text",
            'bad/config.yaml:4:11: error TI007 memory "16GB": unknown unit "GB"\n'
            '  use "16Gi" (17179869184 B) or "16G" (16000000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei\n'
            "1 model: 1 error\n",
        ),
        ("parsable", 'bad/config.yaml:4:11: [error] TI007 memory "16GB": unknown unit "GB"\n'),
        (
            "github",
            '::error file=bad/config.yaml,line=4,col=11,title=TI007::memory "16GB": unknown unit "GB". '
            'use "16Gi" (17179869184 B) or "16G" (16000000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei\n',
        ),
    ],
)
def test_check_formats(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, expected: str) -> None:
    write(tmp_path, "bad", BAD)
    monkeypatch.chdir(tmp_path)
    assert run(*CHECK, "--format", fmt, "bad") == (1, expected, "")


def test_check_github_is_automatic_under_actions(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "bad", BAD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run(*CHECK, "bad")
    assert code == 1 and out.startswith("::error file=bad/config.yaml,line=4,col=11,title=TI007::")
    code, out, _ = run(*CHECK, "--format", "parsable", "bad")  # an explicit format wins
    assert out.startswith("bad/config.yaml:4:11: [error] TI007")


def test_check_json_schema(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "bad", BAD)
    write(tmp_path, "ok", CLEAN_GPU)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(*CHECK, "--format", "json", "bad", "ok")
    assert code == 1
    doc = json.loads(out)
    assert list(doc) == ["models"]
    bad, ok = doc["models"]
    assert bad == {
        "config": "bad/config.yaml",
        "instance": None,
        "diagnostics": [
            {
                "code": "TI007",
                "severity": "error",
                "message": 'memory "16GB": unknown unit "GB"',
                "hint": 'use "16Gi" (17179869184 B) or "16G" (16000000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei',
                "line": 4,
                "col": 11,
            }
        ],
    }
    assert ok["config"] == "ok/config.yaml" and ok["diagnostics"] == []
    assert ok["instance"]["name"] == "A10Gx4x16"
    assert ok["instance"]["price_usd_per_min"] == "0.02012"


def test_check_json_when_clean(run: Run, tree: Path) -> None:
    code, out, _ = run(*CHECK, "--format", "json", "repo")
    assert code == 0
    assert [(m["config"], m["instance"]["name"]) for m in json.loads(out)["models"]] == [
        ("repo/gpu/config.yaml", "A10Gx4x16"),
        ("repo/nested/cpu/config.yaml", "1x2"),
    ]


def test_check_strict_fails_on_warnings(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "warn", WARN)
    monkeypatch.chdir(tmp_path)
    expected = "warn/config.yaml:3:16: warning TI023 H200 is available on request only\n"
    code, out, _ = run(*CHECK, "warn")
    assert code == 0 and out.startswith(expected)
    code, out, _ = run(*CHECK, "--strict", "warn")
    assert code == 1 and out.startswith(expected)


def test_check_pin_warning_and_contradiction(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "pin", 'model_name: p\nresources:\n  instance_type: "L4:4x16"\n  accelerator: "H100:8"\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(*CHECK, "--format", "parsable", "pin")
    assert code == 1
    assert out == (
        'pin/config.yaml:3:18: [warning] TI016 instance_type "L4:4x16" is set, so truss ignores accelerator\n'
        'pin/config.yaml:3:18: [error] TI017 instance_type "L4:4x16" (1× L4) contradicts accelerator H100:8\n'
    )


def test_check_mixed_good_and_bad_paths(run: Run, tree: Path) -> None:
    code, out, err = run(*CHECK, "repo", "missing")
    assert code == 2 and out == ""
    assert err == "truss-instance: missing: no such file or directory\n"


def test_check_bad_usage_exits_2(run: Run) -> None:
    code, _, err = run(*CHECK, "--format", "xml", ".")
    assert code == 2 and "invalid choice: 'xml'" in err
    code, _, err = run("chekc")
    assert code == 2 and "did you mean 'check'?" in err


# catalog ---------------------------------------------------------------------------------


def test_catalog_text(run: Run) -> None:
    code, out, _ = run("catalog")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 47
    assert lines[0].split() == ["NAME", "GPU", "VCPU", "MEMORY", "$/MIN", "$/H", "NOTE"]
    assert lines[1].split() == ["1x2", "-", "1", "2", "GiB", "0.00058", "0.03"]
    assert lines[-1].startswith("45 of 45 types · baseten-embedded as of ")


def test_catalog_filtered(run: Run) -> None:
    code, out, _ = run("catalog", "--accelerator", "A10G")
    names = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert code == 0 and names == ["A10Gx4x16", "A10Gx8x32", "A10Gx16x64", "A10G:2x24x96", "A10G:4x48x192", "A10G:8x192x768"]
    assert out.splitlines()[-1].startswith("6 of 45 types")
    code, out, _ = run("catalog", "--accelerator", "CPU")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:-1]] == ["1x2", "1x4", "2x8", "4x16", "8x32", "16x64"]
    code, out, _ = run("catalog", "--accelerator", "H100_40GB")
    assert code == 0 and "H100MIG" in out


def test_catalog_misspelt_accelerator(run: Run) -> None:
    code, out, err = run("catalog", "--accelerator", "A10")
    assert (code, out) == (2, "")
    assert err == 'truss-instance: no instance type has accelerator "A10"; did you mean "A10G"?\n'


def test_catalog_json(run: Run) -> None:
    code, out, _ = run("catalog", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["types"]) == 45
    assert doc["name"] == "baseten-embedded" and doc["sha256"].startswith("sha256:")
    assert all(isinstance(t["price_usd_per_min"], str) for t in doc["types"])
    code, out, _ = run("catalog", "--accelerator", "L4", "--format", "json")
    assert [t["name"] for t in json.loads(out)["types"]] == ["L4:4x16", "L4:2x24x96", "L4:4x48x192"]


def test_bundled_examples_check_clean_and_their_locks_are_current(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's main job relies on this: `lock examples/sdxl` has nothing to write."""
    monkeypatch.chdir(REPO)
    good = ["examples/sdxl", "examples/cpu-classifier", "examples/llm"]
    assert run("lock", "--check", *good) == (0, "", "")
    code, out, _ = run("check", "-v", *good)
    assert code == 0
    assert [line.split("  ")[0] for line in out.splitlines()] == [
        "examples/sdxl/config.yaml: A10Gx4x16",
        "examples/cpu-classifier/config.yaml: 1x2",
        "examples/llm/config.yaml: H100:2",
    ]
    code, out, _ = run("check", "examples/broken")
    assert code == 1
    assert [line.split(" ")[0:3] for line in out.splitlines() if not line.startswith("  ")] == [
        ["examples/broken/config.yaml:4:16:", "error", "TI012"],
        ["examples/broken/config.yaml:6:8:", "error", "TI003"],
        ["examples/broken/config.yaml:7:11:", "error", "TI007"],
        ["examples/broken/config.yaml:8:3:", "error", "TI001"],
        ["1", "model:", "4"],
    ]
    assert out.endswith("\n1 model: 4 errors\n")


# Exit ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [False, True])
def test_the_exit_flushes_everything_and_runs_exit_handlers(tmp_path: Path, threads: bool) -> None:
    """run() skips the interpreter's teardown when only our code ran; output, exit code and atexit handlers stay."""
    import subprocess
    import sys

    for i in range(300):  # enough output to span many buffers
        (tmp_path / f"m{i:03d}" / "model").mkdir(parents=True)
        (tmp_path / f"m{i:03d}" / "config.yaml").write_text('resources:\n  cpu: "-1"\n')
    program = (
        "import atexit, sys\n"
        + ("import threading\n" if threads else "")
        + "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        "sys.argv = ['truss-instance', 'check', '--no-lock', '--format', 'json', '.']\n"
        "from truss_instance_plugin.cli import run\n"
        "run()\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr) == (1, "handler ran\n")
    doc = json.loads(proc.stdout)
    assert [m["config"] for m in doc["models"]] == [f"m{i:03d}/config.yaml" for i in range(300)]
