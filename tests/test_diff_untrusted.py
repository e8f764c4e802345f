"""`diff` on a stranger's commits: crafted git trees, TrussChainlets that point outside, huge blobs, odd revisions.

Trees git itself would not build (`..`, `.git`, control characters) are made with `git hash-object -t tree --literally`
and `git commit-tree`, as a hostile pull request can push them (`git fsck` only warns). Real git, real repositories.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import TRUSS_INSTANCE, Run, commit, git, model
from test_diff import CHAIN, HELPER, SMALL, chain, repo, sha

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths and symlinks"), pytest.mark.e2e]
__all__ = ["repo"]  # the fixture, shared with test_diff

Node = bytes | list[tuple[bytes, "Node"]] | tuple[str, bytes]  # a blob, a tree, or ("link", target)


def git_in(*args: str, data: bytes = b"") -> str:
    """git with bytes on stdin (the cwd's repository)."""
    return subprocess.run(["git", *args], input=data, capture_output=True, check=True).stdout.decode().strip()


def tree(entries: Sequence[tuple[bytes, Node]]) -> str:
    """A tree object with exactly these entries, in this order, whatever their names (git's checks bypassed)."""
    body = b""
    for name, node in entries:
        if isinstance(node, bytes):
            mode, oid = b"100644", git_in("hash-object", "-w", "--stdin", data=node)
        elif isinstance(node, tuple):
            mode, oid = b"120000", git_in("hash-object", "-w", "--stdin", data=node[1])
        else:
            mode, oid = b"40000", tree(node)
        body += mode + b" " + name + b"\0" + bytes.fromhex(oid)
    return git_in("hash-object", "-w", "-t", "tree", "--literally", "--stdin", data=body)


def commit_tree(entries: Sequence[tuple[bytes, Node]], message: str = "crafted") -> str:
    """A commit of this tree on top of HEAD, made HEAD (the work tree is left as it is)."""
    oid = git_in("commit-tree", tree(entries), "-p", "HEAD", "-m", message)
    git_in("update-ref", "HEAD", oid)
    return oid


def chain_tree(cpu: int = 4, app: str = CHAIN, extra: Sequence[tuple[bytes, Node]] = ()) -> list[tuple[bytes, Node]]:
    """chains/app.py and chains/helper.py (test_diff's chain) as tree entries, and `extra` inside chains/."""
    helper = HELPER.replace("CPU", str(cpu)).encode()
    return [(b"chains", [(b"app.py", app.encode()), (b"helper.py", helper), *extra])]


CHANGED = [  # test_diff's chain with the Worker's cpu_count 4 -> 8, from HEAD~1 to HEAD
    "chains/app.py [Worker]: A10Gx4x16 → A10Gx8x32  +$0.25/h (+$180/month, +20%)  resources edit (cpu)",
    "  before  $0.02012/min  $1.21/h  $881/month",
    "  after   $0.02424/min  $1.45/h  $1,062/month",
    "total: $907/month → $1,087/month  +$0.25/h (+$180/month, +20%) across 1 model; 1 unchanged",
]


LS_TREE_REFUSES = (
    "truss-instance: cannot list the files of HEAD ({}): fatal: empty filename in tree entry; "
    "this repository lacks it or holds it damaged (`git fsck` tells)\n"
)


def unsafe_line(path: str, why: str) -> str:
    return f'truss-instance: HEAD ({sha()}): unsafe path in the tree: "{path}" ({why}); nothing is read from it\n'


# Item 1: a tree's paths never leave the repository, and nothing is written ---------------------------------


def test_dot_dot_entries_are_refused_and_nothing_is_written(repo: Path, tmp_path: Path) -> None:
    """A `..` entry below a chain's folder made diff write `chains/../../../victim.py` beside its temporary folder
    (here TMPDIR), over the file there, with exit 0. Now no revision file is written anywhere: the path is refused."""
    chain(cpu=4)
    commit("base")
    victim = tmp_path / "victim.py"
    victim.write_bytes(b"ORIGINAL\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    dotdot = [(b"..", [(b"..", [(b"..", [(b"victim.py", b"import truss_chains\nPWNED = 1\n")])])])]
    commit_tree(chain_tree(cpu=8, extra=dotdot))
    env = {**os.environ, "TMPDIR": str(scratch)}
    got = subprocess.run([str(TRUSS_INSTANCE), "diff", "HEAD~1", "HEAD"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (2, "", unsafe_line("chains/../../../victim.py", 'a ".." part'))
    assert victim.read_bytes() == b"ORIGINAL\n"
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "path", "why"),
    [
        ([(b".GIT", [(b"config.yaml", SMALL.encode())])], "chains/.GIT/config.yaml", 'a ".GIT" part'),
        ([(b".", [(b"x.py", b"x = 1\n")])], "chains/./x.py", 'a "." part'),
        ([(b"/etc/x.py", b"x = 1\n")], "chains//etc/x.py", "an empty part"),
        ([(b"evil\n::error file=x::forged.py", b"x = 1\n")], "chains/evil\\n::error file=x::forged.py", "a control character"),
        ([(b"\x1b[31mred\x9b.lock", b"")], "chains/\\x1b[31mred\\x9b.lock", "a control character"),
        ([(b"caf\xe9\x07.yaml", b"")], "chains/caf\\xe9\\x07.yaml", "a control character"),
    ],
    ids=["dot-git", "dot", "absolute", "newline", "escape", "not-utf8"],
)
def test_an_unsafe_path_diff_would_read_names_the_commit_and_the_path_escaped(
    repo: Path, run: Run, extra: list[tuple[bytes, Node]], path: str, why: str
) -> None:
    chain(cpu=4)
    commit("base")
    commit_tree(chain_tree(cpu=8, extra=extra))
    assert run("diff", "HEAD~1", "HEAD") == (2, "", unsafe_line(path, why))


def test_an_empty_name_is_refused_by_git_itself(repo: Path, run: Run) -> None:
    chain(cpu=4)
    commit("base")
    commit_tree(chain_tree(cpu=8, extra=[(b"", [(b"x.py", b"x = 1\n")])]))
    assert run("diff", "HEAD~1", "HEAD") == (2, "", LS_TREE_REFUSES.format(sha()))


def test_unsafe_entries_diff_does_not_read_are_left_out(repo: Path, run: Run) -> None:
    chain(cpu=4)
    commit("base")
    commit_tree(chain_tree(cpu=8, extra=[(b"..", [(b"README.md", b"docs\n")]), (b"bell\x07.txt", b"")]))
    code, out, err = run("diff", "HEAD~1", "HEAD")
    assert (code, out.splitlines(), err) == (0, [f"HEAD~1 ({sha('HEAD~1')}) → HEAD ({sha()})", *CHANGED], "")


# The property: arbitrary entries, real git ---------------------------------------------------------------

_PART = st.one_of(
    st.sampled_from(["..", ".", "", ".git", ".Git", "sub", "a/b", "../..", "/abs", "x" * 300]),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x2030, exclude_characters="/"), min_size=1, max_size=8).filter(
        lambda s: s != "model"  # a model/ folder would make a config.yaml a truss: a unit, not a hostile entry
    ),
)
_LEAF = st.sampled_from(["x.py", "config.yaml", "n.yml", "t.txt", "truss-instance.x.lock"])
_DATA = st.sampled_from([b"x = 1\n", b"import truss_chains\n", b"name: other\n"])
_ENTRY = st.tuples(st.booleans(), st.lists(_PART, max_size=4), _LEAF, _DATA)  # (in the chain's folder, parts, leaf, bytes)


def _nest(_: bool, parts: list[str], leaf: str, data: bytes) -> tuple[bytes, Node]:
    node: tuple[bytes, Node] = (os.fsencode(leaf), data)
    for part in reversed(parts):
        node = (os.fsencode(part), [node])
    return node


def _unsafe(path: str) -> str | None:
    """The test's own reading of the rule (not the code's): which part makes a path unsafe."""
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return f'a "{part}" part' if part else "an empty part"
        if part.lower() == ".git":
            return f'a "{part}" part'
    return "a control character" if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in path) else None


def _escaped(path: str) -> str:
    """The test's own escaping of a path in the error line."""
    out = ""
    for c in path:
        n = ord(c)
        if c in '\\"':
            out += "\\" + c
        elif n < 32 or 127 <= n < 160 or n in (0x2028, 0x2029):
            out += {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c, f"\\x{n:02x}" if n < 256 else f"\\u{n:04x}")
        else:
            out += c
    return out


def _files(root: Path) -> dict[str, bytes]:
    """Every file and folder under `root` but git's own, with a file's bytes (what a write outside would change)."""
    state: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        state.update((os.path.join(folder, d) + "/", b"") for d in dirs)
        state.update((os.path.join(folder, f), Path(folder, f).read_bytes()) for f in files)
    return state


_EXAMPLES = iter(range(1 << 30))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=st.lists(_ENTRY, min_size=1, max_size=6))
def test_arbitrary_tree_entries_never_write_or_read_outside(
    repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: list[tuple[bool, list[str], str, bytes]]
) -> None:
    """Whatever HEAD's tree holds besides a chain, in the chain's folder or in another (`..`, `.`, empty and `.git`
    parts, slashes inside a name, control characters, long names, nesting; and a TrussChainlet pointing outside):
    nothing outside the repository is written (the temporary folder included) or read (the secret beside it is never
    printed). diff exits 2 with one line naming the commit and the first unsafe path it would read, or compares as it
    compares the same commits without those entries (when those in the chain's folder are all unsafe, left out: a
    config.yaml there would make the folder a truss)."""
    root = tmp_path / f"example-{next(_EXAMPLES)}"
    (root / "secret").mkdir(parents=True)
    (root / "secret" / "config.yaml").write_text('resources:\n  accelerator: "SECRET-in-the-file"\n')
    (root / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(root / "tmp"))
    monkeypatch.setattr("tempfile.tempdir", None)  # tempfile reads TMPDIR again
    git("init", "-q", str(root / "repo"))
    monkeypatch.chdir(root / "repo")
    out_py = f'import truss_chains as chains\n\n\nclass Out(chains.TrussChainlet):\n    truss_dir = "{root / "secret"}"\n'
    outside = (b"outside.py", out_py.encode())  # a chain file of one TrussChainlet that points at the secret
    base = git_in("commit-tree", tree(chain_tree(cpu=4, extra=[outside])), "-m", "base")
    git_in("update-ref", "HEAD", base)
    plain = commit_tree(chain_tree(cpu=8, extra=[outside]), "the same change without the entries")
    want = run("diff", "HEAD~1", "HEAD")
    git_in("update-ref", "HEAD", base)
    before = _files(root)
    inside, other = ([_nest(*e) for e in entries if e[0] == where] for where in (True, False))
    commit_tree([*chain_tree(cpu=8, extra=[outside, *inside]), (b"x", other)])
    got = run("diff", "HEAD~1", "HEAD")
    assert _files(root) == before
    assert "SECRET" not in got[1] + got[2]
    listed = subprocess.run(["git", "ls-tree", "-r", "-z", "--name-only", "HEAD"], capture_output=True, check=False)
    paths = os.fsdecode(listed.stdout).split("\0")
    first = next((p for p in paths if p.endswith((".py", ".yaml", ".yml", ".lock")) and _unsafe(p)), None)
    event("git refuses the tree" if listed.returncode else "an unsafe path is refused" if first else "compared")
    if listed.returncode != 0:  # an empty name: git refuses the tree
        assert (listed.stderr, got) == (b"fatal: empty filename in tree entry\n", (2, "", LS_TREE_REFUSES.format(sha())))
    elif first is not None:
        assert got == (2, "", unsafe_line(_escaped(first), str(_unsafe(first))))
    elif all(_unsafe("/".join(["chains", *parts, leaf])) for there, parts, leaf, _ in entries if there):
        assert got == (want[0], want[1].replace(plain[:7], sha()), want[2])
    else:
        assert got[0] == 0


# Item 2: at a commit only its blobs are read; a truss_dir outside the repository is a finding -------------------

SECRET = 'resources:\n  accelerator: "SECRET-VALUE"\n  cpu: "1"\n  memory: 2Gi\n'
WRAPPER = """import truss_chains as chains


class Wrapped(chains.TrussChainlet):
    truss_dir = "{}"


@chains.mark_entrypoint
class Front(chains.ChainletBase):
    def __init__(self, wrapped=chains.depends(Wrapped)) -> None:
        self._wrapped = wrapped
"""


def _wrapper(folder: str, note: str = "") -> None:
    Path("ch").mkdir(exist_ok=True)
    Path("ch/app.py").write_text(WRAPPER.format(folder) + note)


def _outside_line(rev: str, folder: str, shown: str) -> str:
    folder = folder if len(folder) <= 40 else folder[:37] + "..."  # as a message shortens a name
    return f'{rev}ch/app.py:5:17: error TI049 [Wrapped] truss_dir "{folder}" leads outside the repository (to {shown}); not read'


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_truss_dir_outside_the_repository_is_a_finding_never_a_read(repo: Path, run: Run, tmp_path: Path, relative: bool) -> None:
    """A TrussChainlet's truss_dir made `diff HEAD~1 HEAD` read that folder's config.yaml from the local disk and quote
    it (the secret appeared in the output). Now, at a commit and in the work tree, it is TI049 saying where it leads."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.yaml").write_text(SECRET)
    folder = "../../elsewhere" if relative else str(tmp_path / "elsewhere")
    shown = "../elsewhere" if relative else folder
    _wrapper(folder)
    commit("base")
    _wrapper(folder, "\n# touched\n")
    commit("head")
    code, out, err = run("diff", "HEAD~1", "HEAD")
    assert "SECRET" not in out + err
    assert (code, err.splitlines()[::2]) == (2, [_outside_line("HEAD~1:", folder, shown), _outside_line("HEAD:", folder, shown)])
    _wrapper(folder, "\n# touched again\n")
    code, out, err = run("diff")
    assert "SECRET" not in out + err
    assert (code, err.splitlines()[::2]) == (2, [_outside_line("HEAD:", folder, shown), _outside_line("", folder, shown)])


def test_at_a_commit_a_truss_dir_reads_that_commit_only(repo: Path, run: Run, tmp_path: Path) -> None:
    """A symbolic link at a commit is no file of its own (it is never followed), and a folder only in the work tree is
    not at the commit; a truss_dir in a sibling folder of the repository is read from the commit's blob."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.yaml").write_text(SECRET)
    _wrapper("linked")
    os.symlink(tmp_path / "elsewhere", "ch/linked")
    model("models/sibling", SMALL)
    commit("base")
    _wrapper("linked", "\n# touched\n")
    commit("head")
    code, out, err = run("diff", "HEAD~1", "HEAD")
    assert "SECRET" not in out + err
    no_config = 'HEAD~1:ch/app.py:5:17: error TI049 [Wrapped] truss_dir "linked": no config.yaml in ch/linked'
    assert (code, err.splitlines()[0]) == (2, no_config)
    code, out, err = run("diff", "HEAD~1")  # in the work tree the link leads outside
    assert (code, err.splitlines()[2]) == (2, _outside_line("", "linked", "../elsewhere"))
    _wrapper("../models/sibling")
    commit("a sibling folder")
    _wrapper("../models/sibling", "\n# touched\n")
    commit("touched")
    Path("models/sibling/config.yaml").write_text(SECRET)  # the work tree's copy is not the commits'
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "json")
    units = {u["chainlet"]: (u["status"], u["after"]["instance_type"]) for u in json.loads(out)["units"] if u["chainlet"]}
    assert (code, units, err) == (0, {"Front": ("unchanged", "1x2"), "Wrapped": ("unchanged", "1x2")}, "")


# Item 9: a blob is read no further than the limit a file on disk has -------------------------------------------

_PEAK = """import sys
from truss_instance_plugin.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:  # this process's peak memory (ru_maxrss would count the parent's, from fork)
    print(next(int(line.split()[1]) >> 10 for line in f if line.startswith("VmHWM:")), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc")
def test_a_huge_config_at_a_commit_is_TI090_and_never_read_whole(repo: Path) -> None:
    """A 300 MB config.yaml at a revision made diff use 604 MB (the blob read whole, then copied). Its size now
    decides before its content is read: the finding a file on disk gets, the process's memory far below the blob's."""
    model("models/big", SMALL)
    commit("base")
    size = 160 << 20
    with open("models/big/config.yaml", "a") as f:
        for _ in range(size >> 20):
            f.write("#" * (1 << 20))
    commit("huge")
    got = subprocess.run([sys.executable, "-c", _PEAK, "diff", "HEAD~1", "HEAD"], capture_output=True, text=True, timeout=300, check=False)
    *lines, mib = got.stderr.splitlines()
    too_large = "TI090 file is larger than 1024 KiB; not a truss config"
    assert (got.returncode, lines) == (
        2,
        [f"HEAD:models/big/config.yaml: error {too_large}", "  point PATH at the truss's config.yaml"],
    )
    assert got.stdout.splitlines()[1] == f"models/big: cannot price HEAD:models/big/config.yaml: {too_large}"
    assert int(mib) < (size >> 20) // 2  # the old reading held the blob twice


def test_a_huge_lock_at_a_commit_is_not_used(repo: Path, run: Run) -> None:
    """A lock larger than the lock limit is refused as on disk: the unit is priced from its config."""
    model("models/m", SMALL)
    commit("base")
    Path("models/m/truss-instance.lock").write_text("#" * (1 << 20))
    Path("models/m/config.yaml").write_text(SMALL.replace('"1"', '"2"'))
    commit("head")
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "json")
    (unit,) = json.loads(out)["units"]
    assert (code, unit["status"], unit["after"]["source"], err) == (0, "changed", "config", "")


# Revisions ------------------------------------------------------------------------------------------------------


def test_any_revision_git_resolves_to_one_commit(repo: Path, run: Run) -> None:
    """`:/text` (a commit by its message) was refused; `^HEAD` (an exclusion) got a shallow clone's hint in a full
    clone; a leading "-" would be an option to git."""
    model("models/m", SMALL)
    commit("the first one")
    Path("models/m/config.yaml").write_text(SMALL.replace('"1"', '"2"'))
    commit("second")
    code, out, _ = run("diff", ":/first", "HEAD")
    assert (code, out.splitlines()[0]) == (0, f":/first ({sha('HEAD~1')}) → HEAD ({sha()})")
    not_one = "not a single commit (an exclusion or a range); name one, e.g. HEAD~1 or origin/main"
    assert run("diff", "^HEAD") == (2, "", f"truss-instance: bad revision '^HEAD': {not_one}\n")
    assert run("diff", ":/no such message") == (2, "", f"truss-instance: bad revision ':/no such message': no such commit in {repo}\n")
    assert run("diff", "HEAD", "--", "-x")[0] == 2
    assert run("diff", "--", "-x") == (2, "", "truss-instance: bad revision '-x': it starts with '-', which git would read as an option\n")


def test_a_missing_object_in_a_full_clone_does_not_suggest_unshallow(repo: Path, run: Run) -> None:
    model("models/m", SMALL)
    commit("base")
    blob = git("rev-parse", "HEAD:models/m/config.yaml").strip()
    Path(".git/objects", blob[:2], blob[2:]).unlink()
    assert run("diff", "HEAD") == (
        2, "", f"truss-instance: object {blob} is missing; this repository lacks it or holds it damaged (`git fsck` tells)\n",
    )  # fmt: skip


# Coding cookies ---------------------------------------------------------------------------------------------------

UTF7_CHAIN = """# -*- coding: utf-7 -*-
import truss+AF8-chains as chains


class Hidden(chains.ChainletBase):
    remote+AF8-config = chains.RemoteConfig(compute=chains.Compute(cpu+AF8-count=CPU, memory="16Gi", gpu="A10G"))
"""


def test_a_chain_file_behind_a_coding_cookie_is_a_unit(repo: Path, run: Run) -> None:
    """`truss_chains` written in utf-7 (or unicode_escape) is no byte match: such files were silently no unit."""
    Path("ch").mkdir()
    Path("ch/u7.py").write_text(UTF7_CHAIN.replace("CPU", "4"))
    escaped = "# coding: unicode_escape\nimport truss\\u005fchains as chains\n\n\nclass Esc(chains.ChainletBase):\n    pass\n"
    Path("ch/esc.py").write_text(escaped)
    commit("base")
    Path("ch/u7.py").write_text(UTF7_CHAIN.replace("CPU", "8"))
    commit("head")
    code, out, err = run("diff", "HEAD~1", "HEAD")
    assert (code, out.splitlines()[1:], err) == (
        0,
        [
            "ch/u7.py [Hidden]: A10Gx4x16 → A10Gx8x32  +$0.25/h (+$180/month, +20%)  resources edit (cpu)",
            "  before  $0.02012/min  $1.21/h  $881/month",
            "  after   $0.02424/min  $1.45/h  $1,062/month",
            "total: $907/month → $1,087/month  +$0.25/h (+$180/month, +20%) across 1 model; 1 unchanged",
        ],
        "",
    )
    Path("ch/u7.py").write_text(UTF7_CHAIN.replace("CPU", "4"))
    assert run("diff")[1].splitlines()[1] == "ch/u7.py [Hidden]: A10Gx8x32 → A10Gx4x16  −$0.25/h (−$180/month, −17%)  resources edit (cpu)"


# Item 10a: many root chain files over a folder of many modules ------------------------------------------------------


def test_many_root_chains_over_many_modules_is_near_linear(repo: Path) -> None:
    """Each chain file's folder was written to a temporary folder per chain file and revision: 100 root chains over
    3,000 modules took 258 s (this shape, 60 x 2,000, over two minutes). Each blob is now read once, in memory; the
    limit is generous (the benchmark, benchmarks/bench_diff.py, measures the time)."""
    Path("chains").mkdir()
    for i in range(2000):
        Path(f"chains/mod_{i:04d}.py").write_text(f"VALUE_{i} = {i}\n")
    Path("chains/shared.py").write_text("CPU = 1\n")
    for i in range(60):
        Path(f"chains/chain_{i:02d}.py").write_text(
            "import truss_chains as chains\n\nfrom shared import CPU\n\n\n"
            f"class Chain{i}(chains.ChainletBase):\n"
            '    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=CPU, memory="2Gi"))\n'
        )
    commit("base")
    Path("chains/shared.py").write_text("CPU = 2\n")
    commit("head")
    got = subprocess.run([str(TRUSS_INSTANCE), "diff", "HEAD~1", "HEAD"], capture_output=True, text=True, timeout=60, check=False)
    assert (got.returncode, got.stderr, got.stdout.splitlines()[-1]) == (
        0, "", "total: $1,524/month → $4,546/month  +$4.14/h (+$3,022/month, +198%) across 60 models",
    )  # fmt: skip


def test_blobs_are_read_in_one_pass_and_a_large_one_stops_the_process(repo: Path, tmp_path: Path) -> None:
    """More ids than a pipe holds are written by a thread while the answers are read; a blob over its limit is cut at
    limit + 1 bytes and its process killed, the rest read by the next; a missing object ends the pass, never hangs."""
    from truss_instance_plugin.errors import GitError
    from truss_instance_plugin.gitrev import Blobs

    folder = tmp_path / "blobs"
    folder.mkdir()
    for i in range(3000):
        (folder / f"{i}").write_bytes(f"blob {i}\n".encode())
    (folder / "big").write_bytes(b"x" * (1 << 20))
    small = git_in("hash-object", "-w", *(str(folder / f"{i}") for i in range(3000))).split()
    big = git_in("hash-object", "-w", str(folder / "big"))
    with Blobs(str(repo)) as blobs:
        blobs.prefetch([*((o, 100) for o in small[:1500]), (big, 1000), *((o, 100) for o in small[1500:])])
        assert blobs.proc is not None  # the second process, still open for later reads
        assert [blobs.read(o, 100) for o in small] == [f"blob {i}\n".encode() for i in range(3000)]
        assert (blobs.read(big, 1000), blobs.read(big, 10)) == (b"x" * 1001, b"x" * 11)
        assert blobs.read(big, 1 << 20) == b"x" * (1 << 20)  # a larger limit reads it again, whole
    with Blobs(str(repo)) as blobs, pytest.raises(GitError) as e:
        blobs.prefetch([*((o, 100) for o in small[:1500]), ("0" * 40, 100), *((o, 100) for o in small[1500:])])
    assert str(e.value) == f"object {'0' * 40} is missing; this repository lacks it or holds it damaged (`git fsck` tells)"
