"""The fit verdict where a change is reviewed or pushed: `diff` says whether the new type still fits (reading the sizes
snapshot of the revision itself), and the push guard blocks a model that does not fit (TI300 is an error like any)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support import Run
from test_fit_check import GLM, GLM_CONFIG, GLM_WEIGHTS, SHA, truss

from truss_instance_plugin.core.sizes import Entry, Sizes, render_sizes
from truss_instance_plugin.integrations import push_checks as push

GLM8 = GLM.replace("--tp-size 4", "--tp-size 8")
MODELS = {"zai-org/GLM-4.5-FP8@main": Entry(SHA, GLM_WEIGHTS, None, GLM_CONFIG, None)}
NOT_FIT = "  fit: does not fit on H100:4: needs 95.5 GiB of 56.0 GiB per GPU (--mem-fraction-static 0.7 of 80 GiB)"


def git(root: Path, *argv: str) -> None:
    subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(work: Path) -> Path:
    """A repository whose commit has GLM on H100:8 with --tp-size 8 (it fits)."""
    folder = truss(work, "glm", GLM8, MODELS)
    git(work, "init", "-q")
    git(work, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git(work, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "glm")
    return folder


def test_diff_says_the_new_type_no_longer_fits(run: Run, repo: Path) -> None:
    config = repo / "config.yaml"
    config.write_text(GLM.replace("accelerator: H100:8", "accelerator: H100:4"))  # half the GPUs, --tp-size 4
    code, out, _ = run("diff")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("glm: H100:8 → H100:4")
    assert lines[4] == NOT_FIT
    code, out, _ = run("diff", "--format", "json")
    unit = json.loads(out)["units"][0]
    assert (unit["fit"]["verdict"], unit["fit"]["tensor_parallel"], unit["fit"]["gpus"]) == ("does-not-fit", 4, 4)
    code, out, _ = run("diff", "--format", "markdown")
    assert "> **Memory** `glm`: `does not fit on H100:4: needs 95.5 GiB of 56.0 GiB per GPU (--mem-fraction-static 0.7 of 80 GiB)`" in out


def test_diff_at_a_commit_reads_that_commit_s_sizes_snapshot(run: Run, repo: Path) -> None:
    (repo / "config.yaml").write_text(GLM.replace("accelerator: H100:8", "accelerator: H100:4"))
    git(repo.parent, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "fewer GPUs")
    (repo / "truss-instance.sizes.json").unlink()  # the work tree's is gone: the commit's blob still says
    code, out, _ = run("diff", "HEAD~1", "HEAD")
    assert code == 0 and out.splitlines()[4] == NOT_FIT


def test_an_unchanged_price_shows_no_fit_line(run: Run, repo: Path) -> None:
    assert run("diff") == (0, "", "")


def test_the_push_guard_blocks_a_model_that_does_not_fit(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truss(work, "glm", GLM, MODELS)
    params = {
        "target_directory": "glm", "config": None, "promote": False, "environment": None,
        "preserve_env_instance_type": None, "watch_after_push": False, "model_name": None,
    }  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        push.before_push(params)
    assert exc.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("truss-instance: glm/config.yaml:5:100: error TI300 does not fit: 84.0 GiB of weights")
    assert err[-1] == (
        "truss-instance: push stopped before any network call; fix the errors above (or set TRUSS_INSTANCE_DISABLE=1 to skip the check)"
    )
    (work / "glm" / "config.yaml").write_text(GLM8)
    assert push.before_push(params) is not None  # with --tp-size 8 it fits: the push goes on


def test_a_truss_chainlet_whose_config_names_a_model(run: Run, work: Path) -> None:
    """The chain's TrussChainlet deploys its truss_dir's config.yaml: its model is checked there, its findings point there."""
    chain = work / "chain"
    shutil.copytree(Path(__file__).parent / "chains_fixtures" / "forms" / "truss_chainlet", chain)
    (chain / "wrapped" / "config.yaml").write_text(GLM)
    (chain / "wrapped" / "truss-instance.sizes.json").write_bytes(render_sizes(Sizes("https://huggingface.co", MODELS)))
    code, out, _ = run("check", "--no-lock", "chain/chain.py")
    assert code == 1
    assert out.splitlines()[0].startswith("chain/wrapped/config.yaml:5:100: error TI300 [Wrapped] does not fit: 84.0 GiB of weights")
