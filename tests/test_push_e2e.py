"""End to end: the real truss CLI in a subprocess, behind the guard, against the loopback FakeBaseten.

Both modes run every push case:
- explicit:  `truss-instance push ...` (the console script next to sys.executable);
- automatic: plain `truss push ...` from a throw-away venv where pip really installed the package,
  so the .pth at the root of site-packages is the one users get (built once per session).
Both run against two trusses, the ends of the range the `truss` extra allows: the newest (the one this
interpreter has) and the oldest, TRUSS_OLDEST (modes `explicit@0.15.12`, `automatic@0.15.12`), from a venv
that is built once per machine and cached (see helpers_venv.truss_venv).

Every truss process pays ~2 s of CPU just to import truss, so the subprocess work of all selected
tests is started up front on a small thread pool (the venv build runs meanwhile) and each test
asserts on its own scenario's outcome. Each scenario has its own workspace, HOME and server, so the
results do not depend on the order or overlap. Nothing leaves 127.0.0.1 except the one-off
`pip install` that builds the venvs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest
import yaml

# Make the helpers importable under --import-mode=importlib too.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from fake_baseten import MODEL_PY, FakeBaseten, truss_env
from helpers_venv import PROJECT, PTH, START, TRUSS_OLDEST, Venv, bare_venv, build_wheel, copy_script, installed_venv, truss_venv

from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT

pytestmark = pytest.mark.e2e

PREFIX = "truss-instance: "
PUSH_OPS = ["teams", "models", "models", "truss_validation", "model_s3_upload_credentials", "s3_put"]
STOPPED = "truss-instance: push stopped before any network call; fix the errors above (or set TRUSS_INSTANCE_DISABLE=1 to skip the check)"
TI003 = 'truss-instance: models/broken/config.yaml:6:8: error TI003 cpu "-1": must be greater than 0'
PREDICT_4 = "truss-instance: models/sdxl → A10Gx4x16 ($0.02012/min), lock up to date"
PREDICT_5 = "truss-instance: models/sdxl → A10Gx8x32 ($0.02424/min), lock up to date"
LOCK = "models/sdxl/truss-instance.lock"
RECORDED_4 = f"truss-instance: recorded deployment of sdxl (A10Gx4x16) in {LOCK}"
RECORDED_8 = f"truss-instance: recorded deployment of sdxl (A10Gx8x32) in {LOCK}"
FIRST_4 = "truss-instance: " + FIRST_DEPLOYMENT.format(instance="A10Gx4x16")  # after a push that created the model
FIRST_8 = "truss-instance: " + FIRST_DEPLOYMENT.format(instance="A10Gx8x32")
WORKERS = max(2, min(4, (os.cpu_count() or 2) + 1))
NEWEST = "newest"
MODES = ["explicit", "automatic"]  # newest truss
OLD_MODES = [f"{m}@{TRUSS_OLDEST}" for m in MODES]

SDXL = """\
model_name: sdxl
python_version: py311
resources:
  accelerator: A10G
  cpu: "4"
  memory: 16Gi
  use_gpu: true
"""
BROKEN = """\
model_name: broken
python_version: py311
resources:
  accelerator: A10G
  use_gpu: true
  cpu: "-1"
  memory: 16Gi
"""

Proc = subprocess.CompletedProcess[str]
F = TypeVar("F", bound=Callable[..., Any])


class Mode(NamedTuple):
    """How a push is started, and where its `truss-instance` lives."""

    name: str
    push: tuple[str, ...]  # argv up to and including "push"
    truss_instance: str


class Outcome(NamedTuple):
    """What one push scenario left behind."""

    proc: Proc
    server: FakeBaseten | None  # stopped; its records stay readable
    ws: Path
    before: dict[str, Any] | None  # the lockfile just before the push


# -- processes ------------------------------------------------------------------------------------


def run_process(argv: list[str | Path], cwd: Path, server_url: str = "http://127.0.0.1:9", **env: str) -> Proc:
    """One subprocess with a private HOME (next to cwd) that can reach only `server_url` on loopback."""
    environ = {k: v for k, v in truss_env(cwd.parent / "home", server_url).items() if not k.startswith("PYTHON")}
    environ.update(env)  # after truss_env, which drops every TRUSS_* variable
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=environ, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def said(proc: Proc) -> str:
    return f"exit {proc.returncode}: {proc.args}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def make_ws(root: Path) -> Path:
    """A workspace with models/sdxl (good, no lock yet) and models/broken (cpu "-1" at 6:8)."""
    ws = root / "ws"
    for name, config in (("sdxl", SDXL), ("broken", BROKEN)):
        folder = ws / "models" / name
        (folder / "model").mkdir(parents=True)
        (folder / "config.yaml").write_text(config)
        (folder / "model" / "model.py").write_text(MODEL_PY)
    return ws


def workdir(root: Path) -> Path:
    """An empty working directory of its own (run() puts HOME beside it)."""
    cwd = root / "cwd"
    cwd.mkdir(parents=True)
    return cwd


def lockfile(ws: Path) -> dict[str, Any]:
    data = yaml.safe_load((ws / LOCK).read_text())
    assert isinstance(data, dict)
    return data


def ours(stream: str) -> list[str]:
    """Our lines, in order."""
    return [line for line in stream.splitlines() if line.startswith(PREFIX)]


def only(server: FakeBaseten | None, operation: str) -> dict[str, Any]:
    """The single request with this operation name."""
    assert server is not None
    found = [r for r in server.requests if r["operation"] == operation]
    assert len(found) == 1, server.operations()
    return found[0]


def sent_resources(server: FakeBaseten | None, operation: str) -> tuple[object, ...]:
    res = only(server, operation)["config"]["resources"]
    return res["accelerator"], res["cpu"], res["memory"], res["use_gpu"]


def operations(out: Outcome) -> list[str]:
    assert out.server is not None
    return out.server.operations()


# -- scenarios: the subprocess part of each test ---------------------------------------------------

Scenario = Callable[["Runner", Mode, Path], Any]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


def ti(mode: Mode, ws: Path, *args: str, expect: int) -> Proc:
    """One of our own commands (lock, adopt); it never needs the network."""
    proc = run_process([mode.truss_instance, *args], ws)
    assert proc.returncode == expect, said(proc)
    return proc


def write_lock(mode: Mode, ws: Path) -> None:
    """`truss-instance lock models/sdxl`, which must write the lockfile (its exit code is test_cli's business)."""
    proc = run_process([mode.truss_instance, "lock", "models/sdxl"], ws)
    assert proc.returncode in (0, 1) and any(line.startswith(f"wrote {LOCK} (") for line in proc.stdout.splitlines()), said(proc)


def push(mode: Mode, ws: Path, server: FakeBaseten, *args: str, **env: str) -> Proc:
    """`<mode> push <args> --remote fake --non-interactive` in ws against the fake server."""
    return run_process([*mode.push, *args, "--remote", "fake", "--non-interactive"], ws, server.url, **env)


def _push_scenario(
    *args: str, fake: dict[str, Any] | None = None, lock: bool = False, env: dict[str, str] | None = None,
    prepare: Callable[[Mode, Path], None] | None = None,
) -> Scenario:  # fmt: skip
    def go(runner: Runner, mode: Mode, root: Path) -> Outcome:
        ws = make_ws(root)
        if lock:
            write_lock(mode, ws)
        if prepare is not None:
            prepare(mode, ws)
        before = lockfile(ws) if (ws / LOCK).exists() else None
        with FakeBaseten(**(fake or {})) as server:
            proc = push(mode, ws, server, *args, **(env or {}))
        return Outcome(proc, server, ws, before)

    return go


def _adopt_then_edit(mode: Mode, ws: Path) -> None:
    ti(mode, ws, "adopt", "models/sdxl", expect=0)
    config = ws / "models" / "sdxl" / "config.yaml"
    config.write_text(config.read_text().replace('cpu: "4"', 'cpu: "5"'))
    write_lock(mode, ws)  # re-resolved for the edit; the adopted record is kept


SCENARIOS.update(
    {
        "blocked": _push_scenario("models/broken"),
        "good": _push_scenario("models/sdxl", lock=True),
        "promote-preserve": _push_scenario(
            "models/sdxl", "--promote", lock=True, prepare=_adopt_then_edit,
            fake={"existing_models": {"sdxl": "m1"}, "instance_type": "A10Gx4x16"},  # Baseten keeps the env's type
        ),
        "promote-no-preserve": _push_scenario(
            "models/sdxl", "--promote", "--no-preserve-env-instance-type", lock=True, prepare=_adopt_then_edit,
            fake={"existing_models": {"sdxl": "m1"}, "instance_type": "A10Gx8x32"},  # Baseten applies the config
        ),
        "json-blocked": _push_scenario("models/broken", "--output", "json"),
        "json-good": _push_scenario("models/sdxl", "--output", "json", lock=True),
        "disabled": _push_scenario("models/broken", env={"TRUSS_INSTANCE_DISABLE": "1"}),
        "mismatch": _push_scenario("models/sdxl", lock=True, fake={"instance_type": "A10Gx8x32"}),
    }
)  # fmt: skip


@scenario("help")
def _help(runner: Runner, mode: Mode, root: Path) -> Proc:
    return run_process([*mode.push, "--help"], workdir(root))


RERUN = """\
import json, site, sys, sysconfig
from truss_instance_plugin import _autopush as m

def finders():
    return sum(isinstance(f, m._Finder) for f in sys.meta_path)

out = {"argv0": sys.argv[0].rsplit("/", 1)[-1], "at_start": finders()}
purelib = sysconfig.get_paths()["purelib"]
line = open(purelib + "/truss_instance_plugin.pth").read()
site.addsitedir(purelib)  # a second site pass runs every .pth again
exec(line)                # and once more by hand
out["after_rerun"] = finders()
import truss.cli.cli as cli
cb = cli.truss_cli.commands["push"].callback
out["after_import"] = finders()
out["guarded"] = getattr(cb, "__truss_instance_guarded__", False)
out["double"] = getattr(getattr(cb, "__wrapped__", None), "__truss_instance_guarded__", False)
site.addsitedir(purelib)
exec(line)
out["same_after_rerun"] = cli.truss_cli.commands["push"].callback is cb
print(json.dumps(out))
"""


@scenario("pth-twice")
def _pth_twice(runner: Runner, mode: Mode, root: Path) -> Proc:
    cwd = workdir(root)
    script = cwd / "truss"  # argv[0] ends in `truss`: the .pth acts
    script.write_text(RERUN)
    return run_process([runner.venv().python, script], cwd)


def _damaged_venv(how: str) -> Scenario:
    """A dedicated small venv holding a copy of the installed package, damaged in one way."""

    def go(runner: Runner, mode: Mode, root: Path) -> dict[str, Proc]:
        auto = runner.venv()
        small = bare_venv(root / "venv")
        for name in (PTH, START):
            shutil.copy2(auto.purelib / name, small.purelib / name)
        package = small.purelib / "truss_instance_plugin"
        shutil.copytree(auto.purelib / "truss_instance_plugin", package, ignore=shutil.ignore_patterns("__pycache__"))
        truss = copy_script(auto.script("truss"), small)
        if how == "removed":  # half-removed: the package folder is gone, the .pth and .start stayed behind
            shutil.rmtree(package)
        elif how == "hook-raises":  # present but broken at import time
            (package / "_autopush.py").write_text("raise RuntimeError('half-upgraded')\n")
        elif how == "guard-raises":  # the hook imports, the guard does not
            (package / "integrations" / "push.py").write_text("raise ImportError('half-upgraded')\n")
        find = "import importlib.util as u; print(u.find_spec('truss_instance_plugin') is not None)"
        cwd = workdir(root)
        other = cwd / "mytruss"  # argv[0] ends in "truss" (the .pth line tries our import), but it is another program
        other.write_text("print('ran')\n")
        return {
            "importable": run_process([small.python, "-c", find], cwd),
            "python -c pass": run_process([small.python, "-c", "pass"], cwd),
            "python -S -c pass": run_process([small.python, "-S", "-c", "pass"], cwd),
            "python mytruss": run_process([small.python, other], cwd),
            "truss --help": run_process([truss, "--help"], cwd),
        }

    return go


for _how in ("removed", "hook-raises", "guard-raises"):
    SCENARIOS[f"damaged-{_how}"] = _damaged_venv(_how)


def uses(name: str | None, mode: str | None = None) -> Callable[[F], F]:
    """Declare the scenario a test reads (None: its `scenario` parameter), so it can start early."""

    def mark(fn: F) -> F:
        fn.e2e_scenario = (name, mode)  # type: ignore[attr-defined]
        return fn

    return mark


# -- the runner --------------------------------------------------------------------------------------


def truss_of(mode: str) -> str:
    """Which truss a mode runs: NEWEST or a version."""
    return mode.partition("@")[2] or NEWEST


class Runner:
    """Runs scenarios on a thread pool, at most once each; builds the venvs alongside (one at a time)."""

    def __init__(self, base: Path, wanted: list[tuple[str, str]], trusses: list[str]) -> None:
        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="e2e")
        self.builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-venv")
        self._wheel: Future[Path] | None = None
        self._venvs: dict[str, Future[Venv]] = {}
        self._lock = threading.Lock()
        self.futures: dict[tuple[str, str], Future[Any]] = {}
        for truss in trusses:
            self._start_venv(truss)
        # The newest truss's explicit mode first (it needs no venv), the old truss last (its venv may be built from scratch).
        for key in sorted(wanted, key=lambda k: (truss_of(k[1]) != NEWEST, not k[1].startswith("explicit"))):
            self.submit(*key)

    def _build(self, truss: str) -> Venv:
        assert self._wheel is not None
        parent = None if truss == NEWEST else truss_venv(truss)
        return installed_venv(self.base / f"venv-{truss}", self._wheel.result(), parent)

    def _start_venv(self, truss: str) -> Future[Venv]:
        with self._lock:
            if self._wheel is None:
                self._wheel = self.builder.submit(build_wheel, self.base / "wheel")
            if truss not in self._venvs:
                self._venvs[truss] = self.builder.submit(self._build, truss)
            return self._venvs[truss]

    def venv(self, truss: str = NEWEST) -> Venv:
        """The venv where pip installed the package, on top of this truss (waits for the build)."""
        try:
            return self._start_venv(truss).result(timeout=1800)
        except (RuntimeError, subprocess.SubprocessError) as e:
            pytest.fail(f"cannot build the venv for truss {truss}: {e}")

    def mode(self, name: str) -> Mode:
        if name == "explicit":
            exe = Path(sys.executable).parent / "truss-instance"
            if not exe.exists():
                pytest.skip("truss-instance is not installed next to this interpreter")
            return Mode(name, (str(exe), "push"), str(exe))
        venv = self.venv(truss_of(name))
        ours = str(venv.script("truss-instance"))
        program = ours if name.startswith("explicit") else str(venv.script("truss"))
        return Mode(name, (program, "push"), ours)

    def _go(self, name: str, mode: str) -> Any:
        return SCENARIOS[name](self, self.mode(mode), self.base / f"{name}-{mode}")

    def submit(self, name: str, mode: str) -> Future[Any]:
        with self._lock:
            if (name, mode) not in self.futures:
                self.futures[name, mode] = self.pool.submit(self._go, name, mode)
            return self.futures[name, mode]

    def get(self, name: str, mode: str) -> Any:
        return self.submit(name, mode).result(timeout=900)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.builder.shutdown(wait=True, cancel_futures=True)


def _wanted(items: list[pytest.Item]) -> tuple[list[tuple[str, str]], list[str]]:
    """Scenarios of the selected tests of this module, and the trusses whose venvs they need."""
    wanted: list[tuple[str, str]] = []
    for item in items:
        fn = getattr(item, "function", None)
        declared = getattr(fn, "e2e_scenario", None)
        if declared is None:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        name, mode = declared
        name = name or params["scenario"]
        mode = mode or params["mode"]
        wanted.append((name, mode))
    trusses = {truss_of(mode) for _, mode in wanted if mode != "explicit"}
    if any(getattr(item, "function", None) is not None and "auto_venv" in getattr(item, "fixturenames", ()) for item in items):
        trusses.add(NEWEST)
    return wanted, sorted(trusses, key=lambda t: t != NEWEST)


@pytest.fixture(scope="session")
def runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    wanted, trusses = _wanted(list(request.session.items))
    r = Runner(tmp_path_factory.mktemp("e2e"), wanted, trusses)
    yield r
    r.close()


@pytest.fixture(scope="session")
def auto_venv(runner: Runner) -> Venv:
    """A venv where pip installed the project (the wheel, with its .pth), on top of the newest truss."""
    return runner.venv()


@pytest.fixture(params=MODES + OLD_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Both ways of guarding `truss push`, with the newest and the oldest supported truss."""
    return str(request.param)


# -- 1. a bad config never reaches the server ---------------------------------------------------------


@uses("blocked")
def test_bad_config_is_stopped_before_any_request(runner: Runner, mode: str) -> None:
    out: Outcome = runner.get("blocked", mode)

    assert out.proc.returncode == 1, said(out.proc)
    assert operations(out) == []
    assert out.proc.stdout == ""
    lines = out.proc.stderr.splitlines()
    assert lines[0] == TI003
    assert lines[-1] == STOPPED
    assert all(line.startswith(PREFIX) for line in lines), said(out.proc)  # truss itself never got to say anything
    assert not (out.ws / "models" / "broken" / "truss-instance.lock").exists()


# -- 2. a good config reaches the server unchanged; the lock records Baseten's answer -------------------


@uses("good")
def test_good_config_is_pushed_and_recorded(runner: Runner, mode: str) -> None:
    out: Outcome = runner.get("good", mode)

    assert out.proc.returncode == 0, said(out.proc)
    assert operations(out) == [*PUSH_OPS, "create_model_from_truss"]
    for op in ("truss_validation", "create_model_from_truss"):
        assert sent_resources(out.server, op) == ("A10G", "4", "16Gi", True)
    assert ours(out.proc.stderr) == [PREDICT_4, RECORDED_4, FIRST_4]
    assert ours(out.proc.stdout) == []
    assert "Deploying truss using A10Gx4x16 instance type." in out.proc.stdout + out.proc.stderr
    before, after = out.before, lockfile(out.ws)
    assert before is not None and before["deployment"] == {}
    assert after["deployment"] == {
        "instance_type": "A10Gx4x16",
        "model_name": "sdxl",
        "model_id": "fakemodel1",
        "deployment_id": "fakedeployment1",
        "environment": None,
        "request": before["request"],
        "request_hash": before["request_hash"],
        "resources": {"accelerator": "A10G", "cpu": "4", "memory": "16Gi"},
        "source": "truss push",
    }
    assert {k: v for k, v in after.items() if k != "deployment"} == {k: v for k, v in before.items() if k != "deployment"}


# -- 3. an existing model, pushed with --promote after a resources edit (cpu "4" → "5") -----------------


@uses(None)
@pytest.mark.parametrize("scenario", ["promote-preserve", "promote-no-preserve"])
def test_promote_existing_model_after_resources_edit(runner: Runner, mode: str, scenario: str) -> None:
    out: Outcome = runner.get(scenario, mode)
    preserve = scenario == "promote-preserve"

    assert out.proc.returncode == 0, said(out.proc)
    assert operations(out) == [*PUSH_OPS, "create_model_version_from_truss"]
    query = only(out.server, "create_model_version_from_truss")["body"]["query"]
    assert 'model_id: "m1"' in query
    assert 'environment_name: "production"' in query
    assert f"preserve_env_instance_type: {'true' if preserve else 'false'}" in query
    assert sent_resources(out.server, "create_model_version_from_truss") == ("A10G", "5", "16Gi", True)
    assert out.before is not None
    adopted, dep = out.before["deployment"], lockfile(out.ws)["deployment"]
    assert (adopted["instance_type"], adopted["environment"], adopted["source"]) == ("A10Gx4x16", "production", "adopt")
    output = out.proc.stdout + out.proc.stderr
    if preserve:
        assert ours(out.proc.stderr) == [
            PREDICT_5,
            "truss-instance: your resources edits are ignored; the production environment keeps A10Gx4x16 "
            "(pass --no-preserve-env-instance-type to apply them)",
            RECORDED_4,
        ]
        assert "Resources from the config will be ignored" in output
        # Baseten kept the old type: the baseline stays the adopted request, so the edit keeps being reported.
        assert dep["instance_type"] == "A10Gx4x16"
        assert (dep["request_hash"], dep["resources"]) == (adopted["request_hash"], adopted["resources"])
    else:
        assert ours(out.proc.stderr) == [
            PREDICT_5,
            "truss-instance: the production environment moves from A10Gx4x16 to A10Gx8x32 (+$0.25/h)",
            RECORDED_8,
        ]
        assert "Resources from the config will be ignored" not in output
        assert dep["instance_type"] == "A10Gx8x32"
        assert dep["request"]["millicores"] == 5000
        assert dep["resources"]["cpu"] == "5"
    assert "predicted_instance_type" not in dep
    assert (dep["model_id"], dep["deployment_id"], dep["environment"], dep["source"]) == (
        "m1", "fakedeployment1", "production", "truss push",
    )  # fmt: skip


# -- 4. --output json: stdout stays machine-readable (truss 0.15.12 has no --output) ----------------------


@uses("json-blocked")
@pytest.mark.parametrize("mode", MODES)
def test_json_output_blocked(runner: Runner, mode: str) -> None:
    out: Outcome = runner.get("json-blocked", mode)

    assert out.proc.returncode == 1, said(out.proc)
    assert operations(out) == []
    assert out.proc.stdout.count("\n") == 1  # one JSON document on one line, as truss prints its errors
    error = json.loads(out.proc.stdout)["error"]
    assert set(error) == {"message", "diagnostics"}
    assert error["message"] == "truss-instance blocked the push: 1 error(s) in models/broken/config.yaml"
    [diag] = error["diagnostics"]
    assert {k: diag[k] for k in ("code", "severity", "message", "line", "col")} == {
        "code": "TI003", "severity": "error", "message": 'cpu "-1": must be greater than 0', "line": 6, "col": 8,
    }  # fmt: skip
    lines = out.proc.stderr.splitlines()
    assert (lines[0], lines[-1]) == (TI003, STOPPED)


@uses("json-good")
@pytest.mark.parametrize("mode", MODES)
def test_json_output_success_is_exactly_truss_json(runner: Runner, mode: str) -> None:
    out: Outcome = runner.get("json-good", mode)

    assert out.proc.returncode == 0, said(out.proc)
    assert operations(out) == [*PUSH_OPS, "create_model_from_truss"]
    assert out.server is not None
    url = out.server.url
    assert json.loads(out.proc.stdout) == {
        "model_id": "fakemodel1",
        "model_version_id": "fakedeployment1",
        "predict_url": f"{url}/model-fakemodel1/deployment/fakedeployment1/predict",
        "logs_url": f"{url}/models/fakemodel1/logs/fakedeployment1",
        "is_draft": False,
    }
    assert ours(out.proc.stderr) == [PREDICT_4, RECORDED_4, FIRST_4]
    assert lockfile(out.ws)["deployment"]["deployment_id"] == "fakedeployment1"


# -- 5. TRUSS_INSTANCE_DISABLE=1: truss alone -----------------------------------------------------------


@uses("disabled")
def test_disable_lets_a_bad_config_through_untouched(runner: Runner, mode: str) -> None:
    out: Outcome = runner.get("disabled", mode)

    assert out.proc.returncode == 0, said(out.proc)
    assert operations(out) == [*PUSH_OPS, "create_model_from_truss"]
    assert only(out.server, "create_model_from_truss")["config"]["resources"]["cpu"] == "-1"
    assert "truss-instance" not in out.proc.stderr
    assert "truss-instance" not in out.proc.stdout
    assert "Model broken was successfully pushed" in out.proc.stdout + out.proc.stderr
    assert not (out.ws / "models" / "broken" / "truss-instance.lock").exists()


# -- 6. Baseten chose another type than predicted ---------------------------------------------------------


@uses("mismatch")
def test_reported_type_differs_from_prediction(runner: Runner, mode: str) -> None:
    out: Outcome = runner.get("mismatch", mode)

    assert out.proc.returncode == 0, said(out.proc)
    assert operations(out) == [*PUSH_OPS, "create_model_from_truss"]
    assert ours(out.proc.stderr) == [
        PREDICT_4,
        "truss-instance: warning: Baseten chose A10Gx8x32, the prediction was A10Gx4x16; the catalog may be stale "
        "(check `truss-instance catalog` against Baseten's instance list and upgrade truss-instance)",
        RECORDED_8,
        FIRST_8,
    ]
    dep = lockfile(out.ws)["deployment"]
    assert (dep["instance_type"], dep["predicted_instance_type"]) == ("A10Gx8x32", "A10Gx4x16")
    assert (dep["model_id"], dep["deployment_id"], dep["source"]) == ("fakemodel1", "fakedeployment1", "truss push")


# -- 7. `truss-instance push --help` is truss's help ------------------------------------------------------


@uses("help")
@pytest.mark.parametrize("mode", ["explicit", f"explicit@{TRUSS_OLDEST}"])
def test_push_help_shows_truss_options(runner: Runner, mode: str) -> None:
    proc: Proc = runner.get("help", mode)

    assert proc.returncode == 0, said(proc)
    assert proc.stderr == ""
    assert "Usage: truss-instance push [OPTIONS] [TARGET_DIRECTORY]" in proc.stdout
    for option in ("--promote", "--environment", "--no-preserve-env-instance-type", "--non-interactive"):
        assert option in proc.stdout, option
    assert ("--output" in proc.stdout) is (mode == "explicit")  # truss 0.15.12 had no --output


# -- 8. the .pth never breaks Python start-up --------------------------------------------------------------


def test_wheel_puts_pth_and_start_at_site_packages_root(auto_venv: Venv) -> None:
    for name in (PTH, START):
        assert (auto_venv.purelib / name).read_text() == (PROJECT / "hooks" / name).read_text()
    assert (auto_venv.purelib / "truss_instance_plugin" / "_autopush.py").is_file()
    assert not list(auto_venv.purelib.glob("__editable__*"))


def test_pth_is_inert_outside_truss(auto_venv: Venv, tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    probe = "import sys; print(sorted(m for m in sys.modules if m.startswith('truss')))"
    proc = run_process([auto_venv.python, "-c", probe], cwd)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "[]\n", ""), said(proc)
    for argv in (("-c", "pass"), ("-S", "-c", "pass"), ("-I", "-c", "pass")):
        proc = run_process([auto_venv.python, *argv], cwd)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), said(proc)


@uses("pth-twice", mode="automatic")
def test_pth_runs_twice_idempotently(runner: Runner) -> None:
    proc: Proc = runner.get("pth-twice", "automatic")

    assert proc.returncode == 0, said(proc)
    assert proc.stderr == ""
    assert json.loads(proc.stdout) == {
        "argv0": "truss", "at_start": 1, "after_rerun": 1, "after_import": 0,
        "guarded": True, "double": False, "same_after_rerun": True,
    }  # fmt: skip


@uses(None, mode="automatic")
@pytest.mark.parametrize("scenario", ["damaged-removed", "damaged-hook-raises", "damaged-guard-raises"])
def test_damaged_install_never_breaks_start_up(runner: Runner, scenario: str) -> None:
    procs: dict[str, Proc] = runner.get(scenario, "automatic")

    removed = scenario == "damaged-removed"
    assert procs["importable"].stdout == f"{not removed}\n", "precondition: a removed package is not importable from elsewhere"
    for what in ("python -c pass", "python -S -c pass", "python mytruss"):  # any other program: silent and unbroken
        proc = procs[what]
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ran\n" if what == "python mytruss" else "", ""), said(proc)
    proc = procs["truss --help"]  # truss still runs, and says in one line that the check is off, why, and how to mend it
    assert proc.returncode == 0, said(proc)
    assert "Usage: truss [OPTIONS] [COMMAND] [ARGS]..." in proc.stdout
    why = {
        "damaged-removed": "ModuleNotFoundError: No module named 'truss_instance_plugin'",
        "damaged-hook-raises": "RuntimeError: half-upgraded",
        "damaged-guard-raises": "ImportError: half-upgraded",
    }[scenario]
    assert proc.stderr == (
        f"truss-instance: automatic check disabled: {why}; truss runs unguarded "
        "(reinstall truss-instance-plugin, or delete truss_instance_plugin.pth)\n"
    ), said(proc)


@pytest.mark.parametrize(("value", "imported"), [("", True), ("1", False), ("true", False), (" Yes ", False), ("0", True)])
def test_disable_imports_nothing_of_ours_into_truss(auto_venv: Venv, tmp_path: Path, value: str, imported: bool) -> None:
    """TRUSS_INSTANCE_DISABLE=1 is checked by the .pth line itself: not even our package is imported."""
    cwd = workdir(tmp_path)
    program = tmp_path / "bin" / "truss"  # argv[0] ends with "truss", as for the console script
    program.parent.mkdir()
    program.write_text("import sys\nprint(sorted(m for m in sys.modules if m.startswith('truss_instance_plugin')))\n")
    proc = run_process([auto_venv.python, str(program)], cwd, TRUSS_INSTANCE_DISABLE=value)
    expected = "['truss_instance_plugin', 'truss_instance_plugin._autopush']\n" if imported else "[]\n"
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, expected, ""), said(proc)
