"""Which files are models: one answer from every entry point. `check .`, `lock .`, `diff` (at a commit and in the work
tree) and the pre-commit hooks apply the rule in discover.py; real git repositories in temp dirs, exact outputs."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support import REPO, Run, make_truss
from test_precommit import HookRepo, env, hook_repo, needs_git, pre_commit_run  # noqa: F401 (env, hook_repo: its fixtures)

from truss_instance_plugin import gitrev
from truss_instance_plugin.discover import collect_configs
from truss_instance_plugin.errors import PathError
from truss_instance_plugin.review.revisions import snapshots
from truss_instance_plugin.review.units import Revision

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

COMFY = 'model_name: comfyui\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'  # A10Gx4x16
ANIME = 'model_name: anime-style-transfer\nresources:\n  accelerator: A100\n  cpu: "4"\n  memory: 16Gi\n'  # A100:12x144
NESTED = "comfyui-truss/examples/anime-style-transfer"  # as in the public truss-examples repository


def git_env(base: Path) -> dict[str, str]:
    """git without the user's or the system's config, and with an author."""
    (base / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    out = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    out.update(GIT_CONFIG_GLOBAL=str(base / "gitconfig"), GIT_CONFIG_NOSYSTEM="1")
    for who in ("AUTHOR", "COMMITTER"):
        out.update({f"GIT_{who}_NAME": "Test", f"GIT_{who}_EMAIL": "test@example.com"})
    return out


def git(root: Path, environ: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env=environ, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository as the working directory."""
    environ = git_env(tmp_path)
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        if key.startswith("GIT_"):
            monkeypatch.setenv(key, value)
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    git(root, environ, "init", "-q")
    return root


def truss(folder: str, config: str) -> None:
    """A truss folder: config.yaml and model/model.py."""
    (Path(folder) / "model").mkdir(parents=True, exist_ok=True)
    (Path(folder) / "model" / "model.py").write_text("class Model:\n    pass\n")
    (Path(folder) / "config.yaml").write_text(config)


def commit(root: Path) -> None:
    git(root, dict(os.environ), "add", "-A")
    git(root, dict(os.environ), "commit", "-q", "-m", "change")


HOOK_FILES = re.compile(r"(^|/)(config\.yaml|truss-instance(\.[^/]+)?\.lock|[^/]+\.py)$")  # .pre-commit-hooks.yaml's


def hook_files(root: Path) -> list[str]:
    """The files pre-commit passes to our hooks with --all-files: tracked, matching `files:`, not symbolic links."""
    listed = git(root, dict(os.environ), "ls-files", "-z").split("\0")
    return [p for p in listed if p and HOOK_FILES.search(p) and not (root / p).is_symlink()]


# A truss inside another truss's folder ------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_truss_inside_another_truss_is_a_model_everywhere(repo: Path, run: Run) -> None:
    """comfyui-truss/examples/anime-style-transfer was locked by the hook, but `check .`, `lock .` and `diff` never saw
    it: a change of its accelerator from A100 to H100 (+$1,825/month) passed the cost review silently."""
    truss("comfyui-truss", COMFY)
    truss(NESTED, ANIME)
    assert run("lock", ".") == (
        0,
        "wrote comfyui-truss/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n"
        f"wrote {NESTED}/truss-instance.lock (new): A100:12x144 $0.06667/min\n"
        "wrote 2 locks\n",
        "",
    )
    assert run("check", "-v", ".") == (
        0,
        "comfyui-truss/config.yaml: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)\n"
        f"{NESTED}/config.yaml: A100:12x144  $0.06667/min  $4.00/h  $2,920/month  (1× A100 80 GiB, 12 vCPU, 144 GiB)\n",
        "",
    )
    commit(repo)
    head = git(repo, dict(os.environ), "rev-parse", "--short=7", "HEAD").strip()
    Path(NESTED, "config.yaml").write_text(ANIME.replace("A100", "H100"))
    assert run("diff") == (
        0,
        f"HEAD ({head}) → working tree\n"
        f"{NESTED}: A100:12x144 → H100  +$2.50/h (+$1,825/month, +62%)  resources edit (accelerator)\n"
        "  before  $0.06667/min  $4.00/h  $2,920/month\n"
        "  after   $0.10833/min  $6.50/h  $4,745/month\n"
        "total: $3,801/month → $5,626/month  +$2.50/h (+$1,825/month, +48%) across 1 model; 1 unchanged\n",
        "",
    )
    assert run("check", ".")[0] == 1  # the lock is stale: TI101
    files = hook_files(repo)
    assert collect_configs(files, hook=True, chains=True) == collect_configs(["."], chains=True)  # the same two models
    assert run("lock", "--hook", *files) == (
        1,
        f"wrote {NESTED}/truss-instance.lock (updated): A100:12x144 → H100 $0.10833/min  +$2.50/h (+$1,825/month)\n"
        f"wrote 1 lock, 1 up to date\nto commit it: git add -- {NESTED}/truss-instance.lock\n",
        "",
    )
    assert run("check", "--hook", *files) == (0, "", "")
    assert run("check", ".") == (0, "", "")


@pytest.mark.e2e
def test_adopt_of_a_truss_folder_takes_its_own_model(repo: Path, run: Run) -> None:
    """A folder is walked, nested trusses and all; but `adopt` takes one model: a truss folder names its own."""
    truss("comfyui-truss", COMFY)
    truss(NESTED, ANIME)
    code, out, err = run("adopt", "comfyui-truss")
    assert (code, out.splitlines()[0], err) == (0, "recorded deployment of comfyui (A10Gx4x16) in comfyui-truss/truss-instance.lock", "")
    assert sorted(p.as_posix() for p in Path().rglob("truss-instance.lock")) == ["comfyui-truss/truss-instance.lock"]
    assert run("adopt", ".") == (2, "", "truss-instance: adopt takes one model; . holds 2\n")


@pytest.mark.e2e
def test_what_a_walk_skips_the_hook_skips(repo: Path, run: Run) -> None:
    """Files pre-commit passes stand for what a walk of the repository finds for them: nothing in a hidden folder,
    node_modules, a virtualenv or a truss's model/ folder, and no chain file inside a truss's folder."""
    truss("m", COMFY)
    truss("m/model/inner", COMFY)  # in a truss's code: no truss of its own
    Path("m/tool.py").write_text("import truss_chains\n")  # a truss's own Python file: no chain file
    truss(".github/m", COMFY)
    truss("node_modules/pkg", COMFY)
    truss("env/lib/m", COMFY)
    Path("env/pyvenv.cfg").write_text("home = /usr\n")
    Path("other").mkdir()
    Path("other/config.yaml").write_text("lint: true\n")  # another tool's config.yaml, named by the hook: skipped
    truss("other/sub", COMFY)  # and it hides nothing
    commit(repo)
    files = hook_files(repo)
    assert len(files) == 14
    clean = "A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)"
    wrote = "wrote m/truss-instance.lock (new): A10Gx4x16 $0.02012/min\nwrote other/sub/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n"
    staged = "wrote 2 locks\nto commit them: git add -- m/truss-instance.lock other/sub/truss-instance.lock\n"
    assert run("lock", "--hook", *files) == (1, wrote + staged, "")
    assert sorted(p.as_posix() for p in Path().rglob("truss-instance.lock")) == ["m/truss-instance.lock", "other/sub/truss-instance.lock"]
    assert run("check", "--hook", "-v", *files) == (0, f"m/config.yaml: {clean}\nother/sub/config.yaml: {clean}\n", "")
    assert run("check", "-v", ".") == (0, f"m/config.yaml: {clean}\nother/sub/config.yaml: {clean}\n", "")


@pytest.mark.e2e
@needs_git
def test_pre_commit_locks_the_models_check_finds(repo: Path, hook_repo: HookRepo, env: dict[str, str], run: Run) -> None:  # noqa: F811
    """pre-commit itself (--all-files: every tracked config.yaml, lockfile and .py file): the models a walk finds, the
    nested truss too, and nothing a walk skips."""
    truss("comfyui-truss", COMFY)
    truss(NESTED, ANIME)
    truss(".github/m", COMFY)
    truss("env/lib/m", COMFY)
    Path("env/pyvenv.cfg").write_text("home = /usr\n")
    Path("comfyui-truss/tool.py").write_text("import truss_chains\n")  # the truss's own code: no chain file
    git(repo, env, "add", "-A")
    got = pre_commit_run(repo, hook_repo, env, "truss-instance-lock")
    log = got.stdout + got.stderr
    assert got.returncode == 1, log
    assert [line for line in log.splitlines() if line.startswith("wrote ")] == [
        "wrote comfyui-truss/truss-instance.lock (new): A10Gx4x16 $0.02012/min",
        f"wrote {NESTED}/truss-instance.lock (new): A100:12x144 $0.06667/min",
        "wrote 2 locks",
    ]
    assert run("lock", ".") == (0, "", "")  # nothing left to lock
    assert sorted(p.as_posix() for p in Path().rglob("truss-instance.lock")) == [
        "comfyui-truss/examples/anime-style-transfer/truss-instance.lock",
        "comfyui-truss/truss-instance.lock",
    ]


def test_a_module_named_by_the_hook_stands_for_the_chain_that_imports_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    """A chain's local module is read as part of the chain (a walk does not lock it on its own): named by pre-commit,
    it stands for the chain file that imports it, as a lockfile stands for its config."""
    shutil.copytree(REPO / "tests" / "chains_fixtures" / "forms" / "whisper", tmp_path / "w")
    monkeypatch.chdir(tmp_path)
    chain = (
        "wrote w/truss-instance.chain.lock (new): [Transcribe] 1x2 $0.00058/min\n"
        "wrote w/truss-instance.chain.lock (new): [Whisper] A10Gx4x16 $0.02012/min\n"
        "to commit it: git add -- w/truss-instance.chain.lock\n"
    )
    assert run("lock", "--hook", "w/whisper_chainlet.py") == (1, chain, "")
    assert sorted(os.listdir("w")) == ["chain.py", "truss-instance.chain.lock", "whisper_chainlet.py"]
    assert run("check", "--hook", "w/whisper_chainlet.py", "w/chain.py") == (0, "", "")
    assert run("lock", "w") == (0, "", "")


def test_a_walk_follows_no_symbolic_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    """A symbolic link is neither a file nor a folder to a walk, as in a git tree (diff never reads one): a config.yaml
    linked into another folder is a model when that folder is named, not when a walk passes by."""
    monkeypatch.chdir(tmp_path)
    truss("m", COMFY)
    (tmp_path / "n" / "model").mkdir(parents=True)
    (tmp_path / "n" / "config.yaml").symlink_to("../m/config.yaml")
    (tmp_path / "c.py").symlink_to(REPO / "tests" / "chains_fixtures" / "forms" / "whisper" / "chain.py")
    assert run("lock", ".") == (0, "wrote m/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")
    assert run("lock", "n") == (0, "wrote n/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")


# The walk, the hook and diff's listing agree ------------------------------------------------------------------------

NAMES = ("a", "b", "config.yaml", "x.py", "y.py", ".h", "node_modules", "pyvenv.cfg", "model", "data")
NAMES += ("truss-instance.lock", "p.yaml", "truss-instance.p.lock", "truss-instance.x.lock")
CONTENT = {
    "truss": "model_name: m\nresources:\n  cpu: '1'\n",
    "tool": "lint: true\n",  # another tool's config.yaml
    "chain": "import truss_chains\n",
    "chain-x": "import truss_chains\nimport x\n",  # imports its sibling x.py: that one is read as part of it
    "plain": "import os\n",
}
LINKS = {"link-file": "keep", "link-dir": ".", "link-up": "..", "dangling": "nowhere"}


def folders(entries: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    """A folder: names -> files, links or folders."""
    return st.dictionaries(st.sampled_from(NAMES), entries, max_size=5)


TREES = st.recursive(st.sampled_from([*CONTENT, *LINKS]), folders, max_leaves=14)


def build(folder: Path, tree: dict[str, object]) -> None:
    """`tree` in `folder`, each folder with a file `keep` (git records no empty folder)."""
    (folder / "keep").write_text("k\n")
    for name, sub in tree.items():
        path = folder / name
        if isinstance(sub, dict):
            path.mkdir()
            build(path, sub)
        elif sub in CONTENT:
            path.write_text(CONTENT[str(sub)])
        else:
            path.symlink_to(LINKS[str(sub)])


@pytest.mark.e2e
@settings(max_examples=settings.default.max_examples // 2)  # each example builds a repository and runs git a few times
@given(tree=TREES.filter(lambda t: isinstance(t, dict)))
@example(tree={"config.yaml": "truss", "data": {"config.yaml": "truss", "x.py": "chain"}, "x.py": "chain"})  # nested
@example(tree={"config.yaml": "tool", "a": {"config.yaml": "truss"}, "x.py": "chain-x", "y.py": "chain"})  # hides nothing
@example(tree={"a": {"config.yaml": "truss", "model": {"config.yaml": "truss", "x.py": "chain"}}})  # a truss's code
@example(tree={"a": {"config.yaml": "tool", "truss-instance.lock": "link-file", "x.py": "chain"}})  # a link is no lock
@example(
    tree={"a": {"config.yaml": "link-file", "model": {"b": "plain"}, "x.py": "chain"}, "b": {"pyvenv.cfg": "link-file", "x.py": "chain"}}
)
@example(tree={"a": {"p.yaml": "tool", "truss-instance.p.lock": "tool", "x.py": "chain-x", "truss-instance.x.lock": "tool"}})
def test_the_walk_the_hook_and_diff_find_the_same_models(tree: dict[str, object]) -> None:
    """On any tree (symbolic links, hidden folders, virtualenvs, node_modules, nested trusses, chain files that import
    each other, lockfiles, other tools' config.yaml): what `check .` finds, what the hooks find for every file
    pre-commit passes, and what diff prices at a commit and in the work tree are the same files. Apart from this: `.`
    names its own config.yaml, checked as is (diff has no PATH, and reads no symbolic link)."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp), mock.patch.dict(os.environ, git_env(Path(tmp)), clear=True):
        environ = dict(os.environ)
        root = Path(tmp) / "repo"
        root.mkdir()
        build(root, tree)
        git(root, environ, "init", "-q")
        git(root, environ, "add", "-A")
        git(root, environ, "commit", "-q", "-m", "tree")
        commit_id = git(root, environ, "rev-parse", "HEAD").strip()
        with gitrev.Blobs(str(root)) as blobs:
            at_commit, in_work_tree = snapshots(str(root), Revision("HEAD", commit_id), Revision("working tree", None), blobs)
        listed = sorted(at_commit.units)
        assert sorted(in_work_tree.units) == listed
        os.chdir(root)
        files = hook_files(root)
        assert sorted(collect_configs(files, hook=True, chains=True) if files else []) == listed  # no file: no hook run
        try:
            walked = collect_configs(["."], chains=True)
        except PathError as e:  # nothing found: no config.yaml, no truss, or only a folder named config.yaml
            assert str(e).startswith(".: no ") or str(e).endswith("config.yaml: is a directory, not a config file"), e
            walked = []
        named = os.path.lexists("config.yaml") and not os.path.isdir("config.yaml")  # a file, or a link to none or one
        assert sorted(walked) == sorted({*listed, *(["config.yaml"] if named else [])})


@pytest.mark.parametrize("folder", ["env", "venv", "site-packages"])
@pytest.mark.usefixtures("cwd")
def test_folders_named_like_virtualenvs_are_checked(run: Run, folder: str) -> None:
    make_truss(f"{folder}/m", 'model_name: p\nresources:\n  cpu: "-1"\n')
    make_truss(".venv-real/m", 'model_name: p\nresources:\n  cpu: "-1"\n')
    Path(".venv-real/pyvenv.cfg").write_text("home = /usr\n")
    make_truss("real/m", 'model_name: p\nresources:\n  cpu: "-2"\n')
    Path("real/pyvenv.cfg").write_text("home = /usr\n")
    code, out, _ = run("check", "--no-lock", "--format", "parsable", ".")
    assert (code, out.splitlines()) == (1, [f'{folder}/m/config.yaml:3:8: [error] TI003 cpu "-1": must be greater than 0'])
