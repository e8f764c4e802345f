"""Which chainlets a chain file yields, in which order, and which is the entrypoint: named on the command line (as
`truss chains push FILE NAME`), marked, the only one, or none."""

from __future__ import annotations

from pathlib import Path

import pytest

from truss_instance_plugin.chains.load import load_chain

HEAD = "import truss_chains as chains\n\n\n"


def cls(name: str, mark: str | None = None, deps: tuple[str, ...] = (), base: str = "ChainletBase") -> str:
    """A class deriving from chains.`base`, marked as entrypoint (`mark`: the decorator's arguments) and depending on `deps`."""
    text = f"@chains.mark_entrypoint{mark}\n" if mark is not None else ""
    text += f"class {name}(chains.{base}):\n"
    if deps:
        args = ", ".join(f"{d.lower()}: {d} = chains.depends({d})" for d in deps)
        text += f"    def __init__(self, {args}) -> None:\n        pass\n\n"
    return text + "    def run_remote(self) -> None:\n        pass\n\n\n"


MODEL = cls("M", base="ModelBase")

CASES = [  # classes, the entrypoint named -> chain name, (name, kind, entrypoint) in order
    (cls("A") + cls("B") + MODEL, "B", None, [("B", "chainlet", True)]),  # only the named one: models are not added
    (cls("A") + cls("B", '("Named Chain")'), "B", "Named Chain", [("B", "chainlet", True)]),
    (cls("A", '("Other")') + cls("B"), "B", None, [("B", "chainlet", True)]),  # the named class's mark only
    (cls("A") + MODEL, "M", None, [("M", "model", True)]),
    (cls("A", "") + cls("B", ""), "B", None, [("B", "chainlet", True)]),  # naming one settles several marked
    (cls("A", "") + cls("B") + MODEL, None, None, [("A", "chainlet", True), ("M", "model", True)]),  # marked, and each model
    (cls("A", '("Chain A")'), None, "Chain A", [("A", "chainlet", True)]),
    (cls("A"), None, None, [("A", "chainlet", True)]),  # the only chainlet
    (MODEL + cls("N", base="ModelBase"), None, None, [("M", "model", True), ("N", "model", True)]),
    (
        cls("A") + cls("B", deps=("A",)) + cls("E", "", deps=("B", "A")), None, None,
        [("E", "chainlet", True), ("B", "chainlet", False), ("A", "chainlet", False)],  # depth first, in __init__ order
    ),
    (cls("A") + cls("B", deps=("A",)) + cls("E", deps=("B",)), "B", None, [("B", "chainlet", True), ("A", "chainlet", False)]),
]  # fmt: skip


@pytest.mark.parametrize(("classes", "named", "chain_name", "units"), CASES)
def test_the_entrypoint_and_the_chainlets_it_deploys(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    classes: str,
    named: str | None,
    chain_name: str | None,
    units: list[tuple[str, str, bool]],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.py").write_text(HEAD + classes, encoding="utf-8")
    got = load_chain("x.py", entrypoint=named)
    assert (got.chain_name, [(c.name, c.kind, c.entrypoint) for c in got.chainlets]) == (chain_name, units)
    assert got.diagnostics == () and all(not c.findings for c in got.chainlets)


def test_several_marked_each_extra_one_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.py").write_text(HEAD + cls("A", "") + cls("B", "") + cls("Cc", '("C")'), encoding="utf-8")
    got = load_chain("x.py")
    assert got.chain_name is None  # the first marked one's name
    hint = "truss chains push refuses several; mark one, or name it: truss chains push FILE CLASS"
    message = "several chainlets are marked as entrypoint (A, B, Cc)"
    assert [
        (c.name, c.entrypoint, [(d.code, d.severity, d.line, d.col, d.message, d.hint) for d in c.findings]) for c in got.chainlets
    ] == [
        ("A", True, []),
        ("B", True, [("TI046", "error", 10, 2, message, hint)]),
        ("Cc", True, [("TI046", "error", 16, 2, message, hint)]),
    ]


def test_a_name_that_is_no_chainlet_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.py").write_text(HEAD + cls("A") + "class Plain:\n    pass\n", encoding="utf-8")
    got = load_chain("x.py", entrypoint="Plain")
    assert (got.chainlets, [(d.code, d.severity, d.message) for d in got.diagnostics]) == (
        (), [("TI095", "error", "no chainlet class Plain in this file")]
    )  # fmt: skip
    hint = "point PATH at a file with a class deriving from chains.ChainletBase, chains.ModelBase or chains.TrussChainlet"
    assert got.diagnostics[0].hint == hint


def test_unmarked_chainlets_warn_on_the_first_and_list_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.py").write_text(HEAD + cls("A") + cls("B") + cls("Cc"), encoding="utf-8")
    got = load_chain("x.py")
    assert [(c.name, c.entrypoint) for c in got.chainlets] == [("A", False), ("B", False), ("Cc", False)]
    hint = "mark one with @chains.mark_entrypoint, or name it: truss chains push FILE CLASS"
    assert [(d.code, d.severity, d.line, d.col, d.message, d.hint) for d in got.chainlets[0].findings] == [
        ("TI047", "warning", 4, 1, "no chainlet is marked as entrypoint among A, B, Cc", hint)
    ]
    assert not got.chainlets[1].findings and not got.chainlets[2].findings


NAME_HINT = "truss accepts this, but a lockfile cannot record it; use printable text of at most 200 characters"
RC_HINT = "e.g. remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2))"


@pytest.mark.parametrize(
    ("body", "finding"),
    [
        (
            'class M(chains.ModelBase):\n    remote_config = chains.RemoteConfig(name="a\\nb")\n',
            ("TI048", "error", 5, 41, 'model name "a\\nb" is not printable text of at most 200 characters', NAME_HINT),
        ),
        (
            "class A(chains.ChainletBase):\n    remote_config = chains.Compute(cpu_count=2)\n",
            ("TI045", "error", 5, 21, "remote_config must be chains.RemoteConfig(...) (truss rejects it too)", RC_HINT),
        ),
        (
            "class A(chains.ChainletBase):\n    remote_config = chains.RemoteConfig(name=3)\n",
            ("TI044", "error", 5, 41, "name=3 must be a string (truss rejects it too)", 'e.g. name="Embedder"'),
        ),
        (
            "class A(chains.ChainletBase):\n    remote_config = 3\n",
            ("TI045", "error", 5, 21, "remote_config must be chains.RemoteConfig(...) (truss rejects it too)", RC_HINT),
        ),
    ],
)
def test_a_name_or_remote_config_truss_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, finding: tuple[object, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.py").write_text(HEAD + body, encoding="utf-8")
    (unit,) = load_chain("x.py").chainlets
    assert [(d.code, d.severity, d.line, d.col, d.message, d.hint) for d in unit.findings] == [finding]
