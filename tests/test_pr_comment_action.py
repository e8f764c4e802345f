"""action.yml, the composite action: its `run:` steps run with bash, as a runner runs them (`bash --noprofile --norc
-eo pipefail`), in a shallow clone of a pull request's branch, with GitHub Actions' variables pointing at the loopback
fake API (tests/fake_github.py).

The runner's parts are played here: `${{ }}` expressions in `env:` (inputs, step outputs, github.token), GITHUB_OUTPUT
between steps. `uses:` steps (actions/setup-python) are not run: without its `python-path` output the install step
uses python3, as the action does with `python-version: ''`. In the steps test the install step is replaced by the
package already installed (its console script linked where the step puts it); the install step itself runs, for
real, in test_the_install_step_installs_this_checkout (dependencies from the package registry, as in test_packaging).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_github import REPO, TOKEN, FakeGitHub
from support import commit, git, model
from test_pr_comment import L4, L4_BIG, SDXL

from truss_instance_plugin import __version__
from truss_instance_plugin.review.units import MARKER

PROJECT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((PROJECT / "action.yml").read_text())
INSTALL = "install truss-instance from this action's checkout"
SCRIPT = Path(sys.executable).parent / "truss-instance"


def expand(value: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    """The runner's `${{ }}` substitution, for the expressions the action uses (any other one fails the test)."""

    def one(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if found := re.fullmatch(r"inputs\.([\w-]+)", expr):
            return inputs[found.group(1)]
        if found := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return outputs.get(found.group(1), {}).get(found.group(2), "")
        if expr == "github.token":
            return TOKEN
        raise AssertionError(f"an expression this test does not evaluate: {expr}")

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def run_action(
    with_: dict[str, str], env: dict[str, str], cwd: Path, skip: tuple[str, ...] = (INSTALL,)
) -> list[subprocess.CompletedProcess[str]]:
    """Each `run:` step of action.yml in order (until one fails), as the runner would; `skip`: steps by name."""
    inputs = {name: expand(str(spec.get("default", "")), {}, {}) for name, spec in ACTION["inputs"].items()}
    inputs |= with_
    outputs: dict[str, dict[str, str]] = {}
    done = []
    for i, step in enumerate(ACTION["runs"]["steps"]):
        if "uses" in step or step.get("name") in skip:
            continue
        assert step["shell"] == "bash" and "if" not in step
        out = Path(env["RUNNER_TEMP"]) / f"output-{i}"
        out.write_text("")
        script = Path(env["RUNNER_TEMP"]) / f"step-{i}.sh"
        script.write_text(step["run"])
        step_env = env | {k: expand(str(v), inputs, outputs) for k, v in step.get("env", {}).items()} | {"GITHUB_OUTPUT": str(out)}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        done.append(proc)
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in out.read_text().splitlines())
        if proc.returncode:
            break
    return done


def checkout(source: Path) -> Path:
    """A copy of the project's tracked files, as `uses:` checks an action out (its own folder: GITHUB_ACTION_PATH)."""
    files = subprocess.run(["git", "-C", str(PROJECT), "ls-files", "-z"], capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if (PROJECT / f).is_file():
            (source / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / f, source / f)
    return source


def test_inputs_reach_the_scripts_only_through_env() -> None:
    """No `${{ }}` inside a script (a value there is shell code: script injection); the one action used is pinned."""
    assert set(ACTION["inputs"]) == {
        "base",
        "behavior",
        "tag",
        "fail-above-usd-per-month",
        "fail-above-percent",
        "python-version",
        "github-token",
    }
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", "")
        if "uses" in step:
            assert re.fullmatch(r"actions/setup-python@[0-9a-f]{40}", step["uses"])


@pytest.fixture
def runner(git_repo: Path, tmp_path: Path) -> dict[str, Any]:
    """origin: main (llm, sdxl) and a pull request's branch `feature` (llm's cpu doubled); the job's workspace is a
    depth-1 clone of `feature`, without origin/main, as actions/checkout leaves it."""
    model("models/llm", L4)
    model("models/sdxl", SDXL)
    commit("base")
    git("checkout", "-q", "-b", "feature")
    Path("models/llm/config.yaml").write_text(L4_BIG)
    commit("bigger llm")
    workspace = tmp_path / "workspace"
    git("clone", "-q", "--depth=1", "--branch", "feature", f"file://{git_repo}", str(workspace))
    temp = tmp_path / "runner-temp"
    (temp / "truss-instance-action" / "bin").mkdir(parents=True)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": git("rev-parse", "feature"), "ref": "feature"}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_", "TRUSS_INSTANCE_"))}
    env |= {
        "GITHUB_ACTIONS": "true", "GITHUB_ACTION_PATH": str(checkout(tmp_path / "action")), "RUNNER_TEMP": str(temp),
        "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_PATH": str(event), "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_WORKSPACE": str(workspace),
    }  # fmt: skip
    return {
        "env": env,
        "origin": git_repo,
        "workspace": workspace,
        "temp": temp,
        "base": git("rev-parse", "--short=7", "main"),
        "head": git("rev-parse", "--short=7", "feature"),
    }


@pytest.mark.e2e
def test_the_steps_fetch_the_base_and_keep_the_comment(runner: dict[str, Any]) -> None:
    (runner["temp"] / "truss-instance-action" / "bin" / "truss-instance").symlink_to(SCRIPT)  # the package installed here
    workspace = runner["workspace"]
    assert subprocess.run(["git", "rev-parse", "--verify", "-q", "origin/main"], cwd=workspace, capture_output=True).returncode == 1
    with FakeGitHub() as fake:
        env = runner["env"] | {"GITHUB_API_URL": fake.url}
        steps = run_action({"fail-above-usd-per-month": "2000"}, env, workspace)
        assert [(p.returncode, p.stderr) for p in steps] == [
            (0, f"From file://{runner['origin']}\n * [new branch]      main       -> origin/main\n"),
            (0, f"truss-instance: posted comment 1001 on {REPO}#7\n"),
        ]
        body = fake.bodies(7)[0]
        assert body.splitlines()[2] == f"`origin/main` ({runner['base']}) → `feature` ({runner['head']})"
        assert body.splitlines()[-1] == MARKER
        assert [(m, p) for m, p, _ in fake.sent()] == [
            ("GET", f"/repos/{REPO}/issues/7/comments?per_page=100"),
            ("POST", f"/repos/{REPO}/issues/7/comments"),
        ]
        assert steps[1].stdout.startswith(f"origin/main ({runner['base']}) → working tree\n")

        # the next push: a gate that fails, another behaviour, origin/main already there
        steps = run_action({"fail-above-usd-per-month": "1000", "behavior": "delete-and-new"}, env, workspace)
        assert [p.returncode for p in steps] == [0, 1]
        assert steps[1].stderr == (
            "truss-instance: the total rises by $1,134/month, above --fail-above-usd-per-month 1000\n"
            f"truss-instance: deleted comment 1001 on {REPO}#7\n"
            f"truss-instance: posted comment 1002 on {REPO}#7\n"
        )
        assert [m for m, _, _ in fake.sent()] == ["GET", "DELETE", "POST"]
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text().count("**+$1,134/month across 1 model**") == 2


@pytest.mark.e2e
def test_no_pull_request_and_no_base_stops_at_the_base_step(runner: dict[str, Any]) -> None:
    env = {k: v for k, v in runner["env"].items() if k != "GITHUB_BASE_REF"}
    [step] = run_action({}, env, runner["workspace"])
    assert (step.returncode, step.stderr) == (2, "truss-instance: no base: not a pull request, and the input 'base' is empty\n")


@pytest.mark.e2e
def test_the_install_step_installs_this_checkout(runner: dict[str, Any]) -> None:
    """The install step for real: a virtualenv under RUNNER_TEMP, this checkout built and installed into it by pip."""
    temp = runner["temp"]
    shutil.rmtree(temp / "truss-instance-action")
    [install] = [s for s in ACTION["runs"]["steps"] if s.get("name") == INSTALL]
    others = tuple(s["name"] for s in ACTION["runs"]["steps"] if "run" in s and s is not install)
    env = runner["env"] | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # python3: this venv's
    [step] = run_action({}, env, runner["workspace"], skip=others)
    assert step.returncode == 0, step.stderr  # pip may warn about the machine's own index settings
    got = subprocess.run(
        [str(temp / "truss-instance-action" / "bin" / "truss-instance"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert (got.returncode, got.stdout) == (0, f"truss-instance {__version__}\n")
    code = "import truss_instance_plugin; print(truss_instance_plugin.__file__)"
    where = subprocess.run(
        [str(temp / "truss-instance-action" / "bin" / "python"), "-c", code],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.stdout.startswith(str(temp / "truss-instance-action"))  # installed, not the checkout on sys.path
