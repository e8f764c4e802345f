"""The push guard for chain files: `truss chains push FILE` and `truss push FILE.py`, real truss in a subprocess.

Modes: explicit (`truss-instance ...`, which runs truss's CLI in process) and automatic (plain `truss ...` in a
venv whose site-packages holds the real hooks/truss_instance_plugin.pth and a copy of the package, on top of the
newest truss or the cached truss TRUSS_OLDEST venv; pip packaging itself is test_push_e2e's business). Every
subprocess talks only to a loopback FakeBaseten. The fake does not implement the chains deploy calls (chain
artifacts go to S3 without an endpoint the fake could redirect), so a valid chain is followed until truss's first
chains request fails; `truss push FILE.py` (a chains.ModelBase) goes through the model push the fake implements.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from fake_baseten import FakeBaseten, truss_env
from helpers_venv import PROJECT, PTH, TRUSS_OLDEST, Venv, bare_venv, copy_script, running_venv, truss_venv

pytestmark = pytest.mark.e2e

PREFIX = "truss-instance: "
STOPPED = "truss-instance: push stopped before any network call; fix the errors above (or set TRUSS_INSTANCE_DISABLE=1 to skip the check)"
PUSH_OPS = ["teams", "models", "models", "truss_validation", "model_s3_upload_credentials", "s3_put", "create_model_from_truss"]
CHAIN = """\
import truss_chains as chains


class Embedder(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=4, memory="10Gi", gpu="L4"), name="Embed")

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Search(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="4Gi"))

    def __init__(self, embed: Embedder = chains.depends(Embedder)) -> None:
        self._embed = embed

    def run_remote(self, text: str) -> str:
        return self._embed.run_remote(text)
"""
MODEL = """\
import truss_chains as chains


class Echo(chains.ModelBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=4, memory="16Gi", gpu="A10G"), name="echo")

    def predict(self, text: str) -> str:
        return text
"""
FILES = {
    "chain.py": CHAIN,
    "bad_chain.py": CHAIN.replace("cpu_count=2", "cpu_count=0"),
    "my_model.py": MODEL,  # truss reserves the name model.py
    "bad_model.py": MODEL.replace('gpu="A10G"', 'gpu="A10G", gpu_count=0'),
}
CHAIN_LINES = [
    "truss-instance: chain.py [Search, entrypoint] → 2x8 ($0.00173/min), chain lock missing (run `truss-instance lock chain.py`)",
    "truss-instance: chain.py [Embed] → L4:4x16 ($0.01414/min), chain lock missing (run `truss-instance lock chain.py`)",
    "truss-instance: chain.py: chain total $0.01587/min (2 chainlets, 1 replica each)",
]
BAD_CHAIN_LINES = [
    "truss-instance: bad_chain.py:13:64: error TI041 [Search] cpu_count=0: must be ≥ 1",
    'truss-instance:   truss accepts this, but Baseten would receive cpu "0"; use e.g. cpu_count=1',
    STOPPED,
]
BAD_MODEL_LINES = [
    'truss-instance: bad_model.py:5:104: error TI042 [echo] gpu="A10G", gpu_count=0: no GPU',
    "truss-instance:   truss accepts this and writes accelerator: null with use_gpu: true (no GPU); use gpu_count=1 or more, or remove gpu",
    STOPPED,
]
MODEL_LINES = [
    "truss-instance: my_model.py [echo, entrypoint] → A10Gx4x16 ($0.02012/min), chain lock missing (run `truss-instance lock my_model.py`)",
    "truss-instance: recorded deployment of echo (A10Gx4x16) in truss-instance.my_model.lock",
]
MODES = ["explicit", "automatic", f"explicit@{TRUSS_OLDEST}", f"automatic@{TRUSS_OLDEST}"]
MODEL_BLOCKED_MODES = ["explicit", f"automatic@{TRUSS_OLDEST}"]
CASES = {  # name → argv after the program (before --remote fake --non-interactive)
    "chain-blocked": ("chains", "push", "bad_chain.py"),
    "chain-good": ("chains", "push", "chain.py"),
    "model-blocked": ("push", "bad_model.py"),  # the same check as chains push: two modes are enough
    "model-good": ("push", "my_model.py"),
}


class Outcome(NamedTuple):
    proc: subprocess.CompletedProcess[str]
    ops: list[str]
    ws: Path


def _small_venv(root: Path, parent: Venv) -> Venv:
    """A venv over `parent` with the real .pth at the root of site-packages and a copy of the working tree's package."""
    venv = bare_venv(root, parent.purelib)
    shutil.copy2(PROJECT / "hooks" / PTH, venv.purelib / PTH)
    shutil.copytree(PROJECT / "truss_instance_plugin", venv.purelib / "truss_instance_plugin", ignore=shutil.ignore_patterns("__pycache__"))
    copy_script(parent.script("truss"), venv)
    return venv


def _run(argv: list[str], ws: Path, parent_bin: Path) -> Outcome:
    with FakeBaseten() as server:
        env = {k: v for k, v in truss_env(ws.parent / "home", server.url).items() if not k.startswith("PYTHON")}
        env["PATH"] = f"{parent_bin}{os.pathsep}{env.get('PATH', '')}"  # truss's code gen runs `ruff` from PATH
        tmp = ws.parent / "tmp"  # truss generates chainlet code in $TMPDIR/.chains_generated: one per run, or parallel runs race
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
        proc = subprocess.run(
            [*argv, "--remote", "fake", "--non-interactive"], cwd=ws, env=env, capture_output=True, text=True, timeout=180,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    return Outcome(proc, server.operations(), ws)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    """Every case in every mode, run on a thread pool (each truss process spends seconds importing truss)."""
    base = tmp_path_factory.mktemp("chains-push")
    newest, oldest = running_venv(), truss_venv(TRUSS_OLDEST)
    venvs = {"": _small_venv(base / "venv-newest", newest), TRUSS_OLDEST: _small_venv(base / "venv-oldest", oldest)}
    parents = {"": newest, TRUSS_OLDEST: oldest}

    def program(mode: str) -> tuple[list[str], Path]:
        kind, _, truss = mode.partition("@")
        venv, parent = venvs[truss], parents[truss]
        if kind == "automatic":
            return [str(venv.script("truss"))], parent.bin
        if not truss:
            return [str(Path(sys.executable).parent / "truss-instance")], parent.bin
        return [str(venv.python), "-m", "truss_instance_plugin"], parent.bin

    def go(case: str, mode: str) -> Outcome:
        ws = base / f"{case}-{mode}" / "ws"
        ws.mkdir(parents=True)
        for name, text in FILES.items():
            (ws / name).write_text(text)
        argv, parent_bin = program(mode)
        return _run([*argv, *CASES[case]], ws, parent_bin)

    with ThreadPoolExecutor(max_workers=max(2, min(6, (os.cpu_count() or 2)))) as pool:
        wanted = [(c, m) for c in CASES for m in MODES if c != "model-blocked" or m in MODEL_BLOCKED_MODES]
        futures = {(c, m): pool.submit(go, c, m) for c, m in wanted}
        return {k: f.result() for k, f in futures.items()}


def said(out: Outcome) -> str:
    p = out.proc
    return f"exit {p.returncode}: {p.args}\nops {out.ops}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"


def ours(stream: str) -> list[str]:
    return [line for line in stream.splitlines() if line.startswith(PREFIX)]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    ("case", "mode", "expected"),
    [*(("chain-blocked", m, BAD_CHAIN_LINES) for m in MODES), *(("model-blocked", m, BAD_MODEL_LINES) for m in MODEL_BLOCKED_MODES)],
)
def test_invalid_compute_is_blocked_before_any_request(
    outcomes: dict[tuple[str, str], Outcome], case: str, mode: str, expected: list[str]
) -> None:
    out = outcomes[case, mode]

    assert out.proc.returncode == 1, said(out)
    assert out.ops == [], said(out)  # the fake server saw no request at all
    assert out.proc.stdout == "", said(out)
    assert out.proc.stderr.splitlines() == expected, said(out)  # truss itself never got to say anything
    assert sorted(p.name for p in out.ws.iterdir()) == sorted(FILES)  # no lockfile, no generated files


def test_valid_chain_prints_prediction_then_truss_proceeds(outcomes: dict[tuple[str, str], Outcome], mode: str) -> None:
    out = outcomes["chain-good", mode]

    assert out.proc.stderr.splitlines()[:3] == CHAIN_LINES, said(out)  # before anything truss writes on stderr
    assert ours(out.proc.stderr) == CHAIN_LINES, said(out)  # nothing recorded: the push did not succeed
    assert ours(out.proc.stdout) == []
    # The guard let truss go on: its first request (teams), then a chains call the fake does not implement.
    assert out.ops[0] == "teams", said(out)
    assert any(op.startswith("unknown:{ chains(") for op in out.ops), said(out)
    assert out.proc.returncode == 1, said(out)
    assert "fake baseten does not implement" in out.proc.stdout + out.proc.stderr
    assert not (out.ws / "truss-instance.chain.lock").exists()


def test_python_file_model_is_pushed_and_recorded(outcomes: dict[tuple[str, str], Outcome], mode: str) -> None:
    out = outcomes["model-good", mode]

    assert out.proc.returncode == 0, said(out)
    assert out.ops == PUSH_OPS, said(out)
    assert out.proc.stderr.splitlines()[0] == MODEL_LINES[0], said(out)
    assert ours(out.proc.stderr) == MODEL_LINES, said(out)
    lock: dict[str, Any] = yaml.safe_load((out.ws / "truss-instance.my_model.lock").read_text())
    assert lock["entrypoint"] == "echo"
    entry = lock["chainlets"]["echo"]
    assert entry["resolved"]["instance_type"] == "A10Gx4x16"
    assert entry["deployment"] == {
        "deployment_id": "fakedeployment1",
        "environment": None,
        "instance_type": "A10Gx4x16",
        "model_id": "fakemodel1",
        "model_name": "echo",
        "request": entry["request"],
        "request_hash": entry["request_hash"],
        "resources": {"accelerator": "A10G", "cpu": "4", "memory": "16Gi"},
        "source": "truss push",
    }
