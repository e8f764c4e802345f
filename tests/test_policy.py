"""The built-in policy: [tool.truss-instance] in the nearest pyproject.toml (TI200–TI203)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import Run, make_truss, position

from truss_instance_plugin.core.policy import KEYS, Policy, find_policy, parse_policy
from truss_instance_plugin.diagnostics import clip
from truss_instance_plugin.errors import PolicyError

# A10Gx4x16: $0.02012/min = $1.2072/h. 4x16 (CPU): $0.00346/min = $0.2076/h.
GPU = 'model_name: gpu\nresources:\n  cpu: "4"\n  memory: 16Gi\n  accelerator: A10G\n'
CPU = 'model_name: cpu\nresources:\n  cpu: "4"\n  memory: 16Gi\n'
PINNED = "model_name: pinned\nresources:\n  instance_type: A10Gx4x16\n"
NO_RESOURCES = "model_name: defaults\npython_version: py311\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """project(policy_toml, name=config_text, ...): a project with trusses; the cwd is its root."""
    monkeypatch.chdir(tmp_path)

    def make(policy: str | None, **models: str) -> Path:
        if policy is not None:
            (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "models"\n\n[tool.truss-instance]\n{policy}')
        for name, text in models.items():
            (tmp_path / name / "model").mkdir(parents=True, exist_ok=True)
            (tmp_path / name / "config.yaml").write_text(text)
        return tmp_path

    return make


def diag_line(model: str, text: str, value: str, code: str, message: str) -> str:
    line, col = position(text, value)
    return f"{model}/config.yaml:{line}:{col}: error {code} {message}"


# TI200 max-usd-per-hour ----------------------------------------------------------------------


def test_price_limit_at_the_accelerator(run: Run, project: Callable[..., Path]) -> None:
    project("max-usd-per-hour = 1\n", gpu=GPU)
    code, out, _ = run("check", "--no-lock", "gpu")
    assert code == 1
    assert out == (
        diag_line("gpu", GPU, "A10G", "TI200", "A10Gx4x16 costs $1.21/h, over the $1/h limit") + "\n"
        "  max-usd-per-hour in pyproject.toml; request less, or raise the limit\n"
        "1 model: 1 error\n"
    )


def test_price_limit_at_the_pinned_instance_type_and_at_cpu(run: Run, project: Callable[..., Path]) -> None:
    project("max-usd-per-hour = 0.2\n", pinned=PINNED, cpu=CPU)
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "pinned", "cpu")
    line, col = position(PINNED, "A10Gx4x16")
    cline, ccol = position(CPU, '"4"')
    assert code == 1
    assert out.splitlines() == [
        f"pinned/config.yaml:{line}:{col}: [error] TI200 A10Gx4x16 costs $1.21/h, over the $0.2/h limit",
        f"cpu/config.yaml:{cline}:{ccol}: [error] TI200 4x16 costs $0.21/h, over the $0.2/h limit",
    ]


@pytest.mark.parametrize("limit", ["1.2072", "2", "100"])
def test_price_at_or_under_the_limit_passes(run: Run, project: Callable[..., Path], limit: str) -> None:
    project(f"max-usd-per-hour = {limit}\n", gpu=GPU)
    assert run("check", "--no-lock", "gpu") == (0, "", "")


def test_price_limit_counts_every_node(run: Run, project: Callable[..., Path]) -> None:
    text = "model_name: multi\nresources:\n  accelerator: H100:8\n  node_count: 2\n"
    project("max-usd-per-hour = 100\n", multi=text)
    code, out, _ = run("check", "--no-lock", "--format", "json", "multi")
    diags = {d["code"]: d for d in json.loads(out)["models"][0]["diagnostics"]}
    assert code == 1
    assert diags["TI200"]["message"].startswith("H100:8 (2 nodes) costs $")
    assert (diags["TI200"]["line"], diags["TI200"]["col"]) == position(text, "H100:8")


# TI201 allowed-accelerators ------------------------------------------------------------------


def test_accelerator_not_allowed_at_the_accelerator(run: Run, project: Callable[..., Path]) -> None:
    project('allowed-accelerators = ["L4", "H100"]\n', gpu=GPU, cpu=CPU)
    code, out, _ = run("check", "--no-lock", "gpu", "cpu")  # a CPU-only model never violates it
    assert code == 1
    assert (
        out
        == diag_line("gpu", GPU, "A10G", "TI201", "accelerator A10G is not allowed")
        + "\n  allowed-accelerators in pyproject.toml: L4, H100\n2 models: 1 error\n"
    )


def test_accelerator_of_a_pinned_type_at_the_instance_type(run: Run, project: Callable[..., Path]) -> None:
    project("allowed-accelerators = []\n", pinned=PINNED)
    code, out, _ = run("check", "--no-lock", "pinned")
    assert code == 1
    assert out.splitlines() == [
        diag_line("pinned", PINNED, "A10Gx4x16", "TI201", "accelerator A10G is not allowed"),
        "  allowed-accelerators in pyproject.toml: none (CPU only)",
        "1 model: 1 error",
    ]


def test_allowed_accelerator_passes(run: Run, project: Callable[..., Path]) -> None:
    project('allowed-accelerators = ["A10G"]\n', gpu=GPU, pinned=PINNED)
    assert run("check", "--no-lock", "gpu", "pinned") == (0, "", "")


# TI202 denied-instance-types -----------------------------------------------------------------


def test_denied_type_at_the_field_that_led_to_it(run: Run, project: Callable[..., Path]) -> None:
    project('denied-instance-types = ["A10Gx4x16", "4x16"]\n', gpu=GPU, cpu=CPU, pinned=PINNED)
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "gpu", "cpu", "pinned")
    assert code == 1
    assert out.splitlines() == [
        diag_line("gpu", GPU, "A10G", "TI202", "instance type A10Gx4x16 is denied").replace(": error TI202", ": [error] TI202"),
        diag_line("cpu", CPU, '"4"', "TI202", "instance type 4x16 is denied").replace(": error TI202", ": [error] TI202"),
        diag_line("pinned", PINNED, "A10Gx4x16", "TI202", "instance type A10Gx4x16 is denied").replace(": error TI202", ": [error] TI202"),
    ]


def test_a_type_not_denied_passes(run: Run, project: Callable[..., Path]) -> None:
    project('denied-instance-types = ["H100:8"]\n', gpu=GPU)
    assert run("check", "--no-lock", "gpu") == (0, "", "")


# TI203 require-lock --------------------------------------------------------------------------


def test_require_lock_at_the_resources_key_and_lock_fixes_it(run: Run, project: Callable[..., Path]) -> None:
    project("require-lock = true\n", gpu=GPU, defaults=NO_RESOURCES)
    code, out, _ = run("check", "--no-lock", "--format", "json", "gpu", "defaults")
    models = json.loads(out)["models"]
    assert code == 1
    got = [[(d["code"], d["line"], d["col"], d["message"]) for d in m["diagnostics"]] for m in models]
    line, col = position(GPU, "resources")
    assert got == [
        [("TI203", line, col, "truss-instance.lock is required")],
        [("TI203", 1, 1, "truss-instance.lock is required")],  # no resources key: the top of the file
    ]
    assert run("lock", "gpu", "defaults")[0] == 0  # wrote both: require-lock does not block the fix
    assert run("check", "gpu", "defaults") == (0, "", "")


def test_require_lock_false_and_no_policy_require_nothing(run: Run, project: Callable[..., Path]) -> None:
    project("require-lock = false\n", gpu=GPU)
    assert run("check", "--no-lock", "gpu") == (0, "", "")


# every key at once, and the JSON positions ------------------------------------------------------


def test_all_keys_violated_at_once(run: Run, project: Callable[..., Path]) -> None:
    policy = 'max-usd-per-hour = 1\nallowed-accelerators = ["L4"]\ndenied-instance-types = ["A10Gx4x16"]\nrequire-lock = true\n'
    project(policy, gpu=GPU)
    code, out, _ = run("check", "--no-lock", "--format", "json", "gpu")
    diags = json.loads(out)["models"][0]["diagnostics"]
    at = position(GPU, "A10G")
    assert code == 1
    assert [(d["code"], d["severity"], (d["line"], d["col"])) for d in diags] == [
        ("TI203", "error", position(GPU, "resources")),
        ("TI200", "error", at),
        ("TI201", "error", at),
        ("TI202", "error", at),
    ]


def test_policy_violations_block_lock(run: Run, project: Callable[..., Path]) -> None:
    project("max-usd-per-hour = 1\n", gpu=GPU)
    code, out, _ = run("lock", "gpu")
    assert code == 1
    assert "TI200" in out and not (project(None) / "gpu" / "truss-instance.lock").exists()


# the nearest pyproject.toml wins -----------------------------------------------------------------


def test_the_nearest_pyproject_wins(run: Run, project: Callable[..., Path]) -> None:
    root = project("max-usd-per-hour = 1\n", gpu=GPU)
    # a nested project with its own, looser policy
    (root / "team" / "gpu" / "model").mkdir(parents=True)
    (root / "team" / "gpu" / "config.yaml").write_text(GPU)
    (root / "team" / "pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 5\n")
    # a nested project without a policy: not governed by the outer one
    (root / "free" / "gpu" / "model").mkdir(parents=True)
    (root / "free" / "gpu" / "config.yaml").write_text(GPU)
    (root / "free" / "pyproject.toml").write_text('[project]\nname = "free"\n\n[tool.ruff]\nline-length = 100\n')
    # a folder without a pyproject.toml: the outer policy
    (root / "plain" / "gpu" / "model").mkdir(parents=True)
    (root / "plain" / "gpu" / "config.yaml").write_text(GPU)
    code, out, _ = run("check", "--no-lock", "--format", "parsable", ".")
    assert code == 1
    assert sorted(line.split(":", 1)[0] for line in out.splitlines()) == ["gpu/config.yaml", "plain/gpu/config.yaml"]
    assert run("check", "--no-lock", "team", "free") == (0, "", "")
    assert find_policy("team/gpu/config.yaml") == Policy(str(root / "team" / "pyproject.toml"), max_usd_per_hour=parse_policy(
        {"max-usd-per-hour": 5}, "x").max_usd_per_hour)  # fmt: skip
    assert find_policy("free/gpu/config.yaml") is None
    assert find_policy("plain/gpu/config.yaml") == find_policy("gpu/config.yaml")


def test_an_edited_policy_is_read_again(run: Run, project: Callable[..., Path]) -> None:
    root = project("max-usd-per-hour = 1\n", gpu=GPU)
    assert run("check", "--no-lock", "gpu")[0] == 1
    (root / "pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 1.5\nrequire-lock = false\n")
    assert run("check", "--no-lock", "gpu") == (0, "", "")


# a malformed table: exit 2, one clear line -----------------------------------------------------


T = "[tool.truss-instance] "
USD = T + "max-usd-per-hour must be a number of US dollars ≥ 0, like 5 or 2.5; got "
LIST = ' must be a list of names, like ["A10G", "L4"]; got '
KNOWN = "known: max-usd-per-hour, allowed-accelerators, denied-instance-types, require-lock, catalog, ignore, per-file-ignores"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('max-usd-per-hour = "cheap"\n', USD + "'cheap'"),
        ("max-usd-per-hour = -1\n", USD + "-1"),
        ("max-usd-per-hour = nan\n", USD + "nan"),
        ("max-usd-per-hour = inf\n", USD + "inf"),
        ("max-usd-per-hour = true\n", USD + "True"),
        ('allowed-accelerators = "A10G"\n', T + "allowed-accelerators" + LIST + "'A10G'"),
        ("denied-instance-types = [1]\n", T + "denied-instance-types" + LIST + "[1]"),
        ('require-lock = "yes"\n', T + "require-lock must be true or false; got 'yes'"),
        ("max-usd-per-hr = 5\n", f'unknown key(s) in [tool.truss-instance]: max-usd-per-hr (did you mean "max-usd-per-hour"?); {KNOWN}'),
        ("max-usd-per-hour = 5\nmax-usd-per-hour = 6\n", "not valid TOML: Cannot overwrite a value (at line 6, column 21)"),
    ],
    ids=["string", "negative", "nan", "inf", "bool", "list-as-string", "list-of-ints", "lock-string", "unknown-key", "bad-toml"],
)
def test_a_malformed_table_exits_2_with_a_clear_message(run: Run, project: Callable[..., Path], table: str, message: str) -> None:
    project(table, gpu=GPU)
    for command in (("check", "--no-lock", "gpu"), ("lock", "gpu"), ("explain", "gpu")):
        code, out, err = run(*command)
        assert (code, out, err) == (2, "", f"truss-instance: pyproject.toml: {message}\n"), command


def test_a_table_that_is_not_a_table(run: Run, project: Callable[..., Path]) -> None:
    root = project(None, gpu=GPU)
    (root / "pyproject.toml").write_text('[tool]\ntruss-instance = "strict"\n')
    assert run("check", "--no-lock", "gpu") == (2, "", "truss-instance: pyproject.toml: [tool.truss-instance] must be a table, not str\n")


def test_a_malformed_table_fails_even_a_model_with_errors(run: Run, project: Callable[..., Path]) -> None:
    project("require-lock = 1\n", bad="model_name: bad\nresources:\n  memory: 16GB\n")
    code, _, err = run("check", "--no-lock", "bad")
    assert code == 2 and err == "truss-instance: pyproject.toml: [tool.truss-instance] require-lock must be true or false; got 1\n"


def test_a_policy_in_another_directory_is_named_by_its_path(run: Run, project: Callable[..., Path], tmp_path: Path) -> None:
    project("max-usd-per-hour = 1\n", gpu=GPU)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    code, out, _ = run("check", "--no-lock", str(tmp_path / "gpu"))
    assert code == 1
    assert f"max-usd-per-hour in {tmp_path / 'pyproject.toml'};" in out


def test_parse_policy_unit() -> None:
    assert parse_policy({}, "p") == Policy("p")
    got = parse_policy({"max-usd-per-hour": 2.5, "allowed-accelerators": [" L4 "], "denied-instance-types": [], "require-lock": True}, "p")
    assert (str(got.max_usd_per_hour), got.allowed_accelerators, got.denied_instance_types, got.require_lock) == ("2.5", ("L4",), (), True)
    with pytest.raises(PolicyError, match="must be a table"):
        parse_policy([], "p")


@pytest.mark.parametrize("cwd", ["", "a", "a/b", "a/b/c", "a/b/c/d", "x"])
def test_a_relative_path_finds_the_pyproject_its_absolute_path_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cwd: str) -> None:
    """Folders are climbed as text, down to "", "." or ".." (then from the absolute path): the same answers."""
    from truss_instance_plugin.core.policy import _nearest_pyproject, clear_cache

    (tmp_path / "a" / "b" / "c" / "d").mkdir(parents=True)
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[tool.truss-instance]\n")
    (tmp_path / "a" / "b" / "pyproject.toml").write_text("[tool.truss-instance]\n")
    (tmp_path / "a" / "b" / "c" / ".git").mkdir()
    (tmp_path / "x" / "pyproject.toml").mkdir()  # a folder, not a file: not a pyproject.toml
    expected = {
        ".": "pyproject.toml", "a": "pyproject.toml", "a/b": "a/b/pyproject.toml", "a/b/c": None, "a/b/c/d": None,
        "x": "pyproject.toml", "x/y": "pyproject.toml",
    }  # fmt: skip
    monkeypatch.chdir(tmp_path / cwd)
    for order in (list(expected), list(expected)[::-1]):  # a parent answered first, or its child
        clear_cache()
        for name in order:
            rel = os.path.relpath(tmp_path / name)
            want = str(tmp_path / expected[name]) if expected[name] else None
            base, full = os.path.basename(rel), str(tmp_path / name)
            for spelling in (
                rel, "" if rel == "." else rel, f"{rel}/.", f"{rel}/../{base}" if base not in (".", "..") else rel,
                full, f"{full}/.", f"{tmp_path}/x/../{name}", f"{tmp_path}/./{name}",
            ):  # fmt: skip
                assert _nearest_pyproject(spelling) == want, (cwd, spelling)
    x = "a/b/c/d/../../../x/y/.."  # x: as text, a/b (with a pyproject.toml) is above it; it is not
    for spelling in (f"{tmp_path}/{x}", os.path.relpath(tmp_path / "a/b/c/d") + x.removeprefix("a/b/c/d")):
        clear_cache()
        assert _nearest_pyproject(spelling) == str(tmp_path / "pyproject.toml"), (cwd, spelling)


# A hostile pyproject.toml (a pull request's): exit 2 with one line, never an internal error ----------------------------

NUMBER = "not valid TOML for truss-instance: a number with too many digits or too large an exponent"
NESTED = "not valid TOML for truss-instance: arrays or tables nested too deeply"
DEEP = "[" * 200 + "]" * 200  # its repr is the same text
FORGED = "['A10G\\n::error file=x::forged']"
NUL = "'snap\\x00.json'"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("max-usd-per-hour = 9" + "0" * 308 + "\n", USD + clip("9" + "0" * 308)),
        ("max-usd-per-hour = 9" + "0" * 308 + ".5\n", USD + clip("9" + "0" * 308 + ".5")),
        ("max-usd-per-hour = 1" + "0" * 5000 + "\n", NUMBER),
        ("max-usd-per-hour = 1e99999999999999999999\n", NUMBER),
        ("max-usd-per-hour = 1e400\n", USD + "1E+400"),
        ("max-usd-per-hour = 0." + "0" * 400 + "1\n", USD + "1E-401"),
        ("max-usd-per-hour = 1_000_000_000_000_000\n", USD + "1000000000000000"),
        ("allowed-accelerators = " + "[" * 1000 + "]" * 1000 + "\n", NESTED),
        ("x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n", NESTED),
        ("denied-instance-types = " + DEEP + "\n", T + "denied-instance-types" + LIST + clip(DEEP)),
        ('allowed-accelerators = ["A10G\\n::error file=x::forged"]\n', T + "allowed-accelerators" + LIST + FORGED),
        ('catalog = "snap\\u0000.json"\n', T + 'catalog must be a catalog snapshot path, like "baseten-catalog.json"; got ' + NUL),
    ],
    ids=["309-digits", "309-digit-decimal", "5000-digits", "huge-exponent", "1e400", "tiny", "1e15", "deep-array", "deep-table",
         "long-repr", "forged-name", "nul-path"],
)  # fmt: skip
def test_a_hostile_policy_exits_2_with_one_line(run: Run, project: Callable[..., Path], table: str, message: str) -> None:
    project(table, gpu=GPU)
    for command in (("check", "--no-lock", "gpu"), ("lock", "gpu"), ("explain", "gpu")):
        assert run(*command) == (2, "", f"truss-instance: pyproject.toml: {message}\n"), command


def test_a_policy_number_is_read_exactly(project: Callable[..., Path]) -> None:
    """0.1 is 0.1 (float() would give 0.1000000000000000055511151231257827), 1.10 keeps its digits."""
    root = project("max-usd-per-hour = 0.1\n", gpu=GPU)
    assert find_policy(str(root / "gpu" / "config.yaml")) == Policy(str(root / "pyproject.toml"), max_usd_per_hour=Decimal("0.1"))


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "link-to-fifo", "too-large"])
def test_a_pyproject_that_is_not_a_regular_file_is_named(run: Run, project: Callable[..., Path], kind: str) -> None:
    """Never silently skipped (its policy would be lost) and never a hang: one line naming the file."""
    root = project(None, gpu=GPU)
    target = root / "pyproject.toml"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    elif kind == "link-to-fifo":
        os.mkfifo(root / "pipe")
        target.symlink_to(root / "pipe")
    else:
        target.write_bytes(b"[tool.truss-instance]\n" + b"#" * (1 << 20))
    why = "larger than 1 MiB; not read" if kind == "too-large" else "cannot read it: not a regular file"
    assert run("check", "--no-lock", "gpu") == (2, "", f"truss-instance: pyproject.toml: {why}\n")


def _toml(value: object) -> str:
    """A TOML spelling of a generated value (a str in `Raw` is written as is: numbers of any size and form)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


class Raw(str):
    """TOML text written verbatim."""


_NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=300, max_value=6000).map(lambda n: "9" * n),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: f"{d:e}".replace("E", "e")),
    st.sampled_from(["inf", "-inf", "nan", "+nan", "1e400", "1e-400", "0.1", "1_000.5", "0x7f", "0o17", "0b1", "-0.0", "5", "2.5"]),
    st.tuples(st.integers(-(10**25), 10**25), st.integers(0, 10**25)).map(lambda t: f"{t[0]}e{t[1]}"),
).map(Raw)
_VALUES = st.recursive(
    st.one_of(_NUMBERS, st.booleans(), st.text(max_size=12), st.sampled_from(["A10G", "H100:8", " L4 ", "", "x\n"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=max(200, settings.default.max_examples), deadline=None)
@given(
    st.dictionaries(st.sampled_from([*KEYS, "max-usd-per-hr", "x"]), _VALUES, max_size=4),
    st.integers(min_value=0, max_value=1100),
)
def test_arbitrary_policy_tables_are_a_policy_or_one_exit_2_line(table: dict[str, object], depth: int) -> None:
    """Any table (numbers of any size and spelling, nesting as deep as 1,100) is a Policy or a PolicyError of one line."""
    from truss_instance_plugin.core.policy import _read

    text = "[tool.truss-instance]\n" + "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in table.items())
    text += f"deep = {'[' * depth}{']' * depth}\n" if depth % 3 == 0 else ""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "pyproject.toml")
        Path(path).write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            got = _read(path, 0, 0)
        except PolicyError as e:
            assert "\n" not in str(e) and str(e).startswith(path), str(e)
        else:
            assert got is not None and isinstance(got.max_usd_per_hour, Decimal | None)


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


@pytest.mark.e2e
@pytest.mark.usefixtures("cwd")
def test_policy_above_the_repository_root_does_not_apply(run: Run) -> None:
    Path("pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 0.01\n")
    _git_init(Path("repo"))
    make_truss("repo/m", 'model_name: p\nresources:\n  cpu: "2"\n')
    assert run("check", "--no-lock", "repo/m") == (0, "", "")
    make_truss("outside/m", 'model_name: p\nresources:\n  cpu: "2"\n')
    code, out, _ = run("check", "--no-lock", "outside/m")
    assert code == 1 and "TI200 2x8 costs $0.10/h, over the $0.01/h limit" in out
    Path("repo/pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 5\n")
    code, out, _ = run("check", "--no-lock", "-v", "repo/m")
    assert (code, out) == (0, "repo/m/config.yaml: 2x8  $0.00173/min  $0.10/h  $76/month  (2 vCPU, 8 GiB)  (policy: repo/pyproject.toml)\n")
