"""Accepting a finding in the file: `# truss-instance: ignore[CODE]` on its line, on `resources:` (a chainlet's `Compute(`),
or on a chainlet's `class` line; a named code that suppresses nothing is TI204 (ruff's RUF100)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Run

from truss_instance_plugin.config import load_config_bytes
from truss_instance_plugin.core import suppress
from truss_instance_plugin.core.pipeline import analyze_loaded
from truss_instance_plugin.plugins import Host

B200 = "model_name: big\nresources:\n  accelerator: B200\n"
TI023 = "warning TI023 B200 is available on request only\n  ask Baseten to enable it for your organization before pushing\n"


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(root: Path, text: str, name: str = "big") -> None:
    (root / name).mkdir(exist_ok=True)
    (root / name / "config.yaml").write_text(text)


def test_a_comment_on_the_line_accepts_the_finding_and_strict_passes(run: Run, write: Path) -> None:
    config(write, B200)
    assert run("check", "--no-lock", "--strict", "big") == (1, f"big/config.yaml:3:16: {TI023}1 model: 1 warning\n", "")
    config(write, B200.replace("B200\n", "B200  # truss-instance: ignore[TI023] enabled for our org\n"))
    assert run("check", "--no-lock", "--strict", "big") == (0, "", "")


def test_a_comment_on_resources_covers_the_block_and_what_it_merges_in(run: Run, write: Path) -> None:
    config(write, 'model_name: big\ndefaults: &d\n  accelerator: B200\nresources:  # truss-instance: ignore[TI023]\n  <<: *d\n  cpu: "4"\n')
    assert run("check", "--no-lock", "--strict", "big") == (0, "", "")  # TI023 is at line 3, in the block by the merge


def test_a_comment_elsewhere_does_not_reach_the_finding(run: Run, write: Path) -> None:
    config(write, "model_name: big  # truss-instance: ignore[TI023]\n" + B200.split("\n", 1)[1])
    assert run("check", "--no-lock", "big") == (
        0,
        "big/config.yaml:1:43: warning TI204 unused suppression: no TI023 finding on this line\n"
        "  remove TI023 from the comment\n"
        f"big/config.yaml:3:16: {TI023}"
        "1 model: 2 warnings\n",
        "",
    )


def test_text_in_a_string_or_block_scalar_is_not_a_comment(run: Run, write: Path) -> None:
    config(
        write,
        "model_name: big\ndescription: |\n  # truss-instance: ignore[TI001]\n"
        'resources: {accelerator: A10G, note: "# truss-instance: ignore[TI001]"}\n',
    )
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "big")
    assert (code, out) == (1, 'big/config.yaml:4:32: [error] TI001 unknown key "note" in resources\n')  # no TI204 either


def test_every_unused_or_malformed_suppression_is_a_TI204_warning(run: Run, write: Path) -> None:
    config(
        write,
        "model_name: big\n"
        "resources:  # truss-instance: ignore[TI027]\n"
        '  cpu: "4"  # truss-instance: ignore\n'
        "  memory: 16Gi  # truss-instance: ignroe[TI023]\n"
        "  accelerator: B200  # truss-instance: ignore[TI023, TI023, TI999, TI091, TI204, ORG001, TI23, TI099]\n"
        "  use_gpu: true  # truss-instance: ignore[]\n",
    )
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "big")
    assert code == 0
    assert out.splitlines() == [
        "big/config.yaml:2:38: [warning] TI204 unused suppression: no TI027 finding in this resources block",
        "big/config.yaml:3:13: [warning] TI204 unused suppression: `ignore` without codes suppresses nothing",
        'big/config.yaml:4:17: [warning] TI204 unused suppression: unknown directive "ignroe" (did you mean "ignore"?)',
        "big/config.yaml:5:54: [warning] TI204 unused suppression: TI023 is named twice",
        'big/config.yaml:5:61: [warning] TI204 unused suppression: "TI999" is not a truss-instance code (did you mean "TI049"?)',
        "big/config.yaml:5:68: [warning] TI204 unused suppression: TI091 cannot be suppressed: it means the input cannot be read (exit 2)",
        "big/config.yaml:5:75: [warning] TI204 unused suppression: TI204 cannot be suppressed by a comment",
        "big/config.yaml:5:82: [warning] TI204 unused suppression: no ORG001 finding on this line",
        'big/config.yaml:5:90: [warning] TI204 unused suppression: "TI23" is not a truss-instance code (did you mean "TI023"?)',
        "big/config.yaml:5:96: [warning] TI204 unused suppression: TI099 cannot be suppressed: "
        "it means truss-instance itself failed; please report it",
        "big/config.yaml:6:18: [warning] TI204 unused suppression: `ignore[]` names no code",
    ]  # and TI023 on line 5 is suppressed
    assert run("check", "--no-lock", "--strict", "big")[0] == 1


def test_lock_and_online_codes_are_not_called_unused_when_not_checked(run: Run, write: Path) -> None:
    config(
        write, "model_name: big\nresources:  # truss-instance: ignore[TI100]\n  accelerator: B200  # truss-instance: ignore[TI023, TI111]\n"
    )
    assert run("check", "--strict", "big") == (0, "", "")  # TI100 (no lock) accepted; TI111 is only looked for --online
    assert run("check", "--strict", "--no-lock", "big") == (0, "", "")  # no lock check: TI100 not called unused
    (write / "big" / "config.yaml").write_text(B200.replace("B200\n", "B200  # truss-instance: ignore[TI023, TI100]\n"))
    code, out, _ = run("check", "--strict", "big")
    assert (code, out.splitlines()[:2]) == (
        1,
        [
            "big/config.yaml:2:1: error TI100 truss-instance.lock is missing",
            "  run `truss-instance lock big` (or pass --no-lock)",
        ],
    )  # TI100 is at `resources:`, not on the accelerator's line
    assert "unused suppression: no TI100 finding on this line" in out


def test_an_unreadable_file_is_never_suppressed(run: Run, write: Path) -> None:
    config(write, "model_name: big  # truss-instance: ignore[TI091]\nresources: [\n")
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "big")
    assert (code, out) == (2, "big/config.yaml:3:1: [error] TI091 invalid YAML: did not find expected node content\n")


CHAIN = """import truss_chains as chains


class Big(chains.ChainletBase):  # truss-instance: ignore[TI023]
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="B200", cpu_count=4))

    def run_remote(self, text: str) -> str:
        return text


class Also(chains.ChainletBase):
    remote_config = chains.RemoteConfig(
        compute=chains.Compute(  # truss-instance: ignore[TI023]
            cpu_count=4,
            gpu="B200",
        )
    )

    def run_remote(self, text: str) -> str:
        return text


class Arg(chains.ChainletBase):
    remote_config = chains.RemoteConfig(
        compute=chains.Compute(
            gpu="B200",  # truss-instance: ignore[TI023]
        )
    )

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Entry(chains.ChainletBase):
    R = "# truss-instance: ignore[TI023]"; remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="B200"))

    def __init__(self, big: Big = chains.depends(Big), also: Also = chains.depends(Also), arg: Arg = chains.depends(Arg)) -> None:
        pass

    def run_remote(self, text: str) -> str:
        return text
"""


def test_chain_comments_on_the_class_the_compute_call_and_the_argument(run: Run, write: Path) -> None:
    (write / "chain.py").write_text(CHAIN)
    code, out, _ = run("check", "--no-lock", "chain.py")
    assert (code, out) == (
        0,
        "chain.py:36:103: warning TI023 [Entry] B200 is available on request only\n"
        "  ask Baseten to enable it for your organization before pushing\n"
        "4 models: 1 warning\n",
    )  # the three others are accepted; the string on Entry's line is no comment
    code, out, _ = run("check", "--no-lock", "--format", "json", "chain.py")
    how = {m["chainlet"]: [(s["code"], s["suppression"]) for s in m.get("suppressed", [])] for m in json.loads(out)["models"]}
    inline = {"file": "chain.py", "justification": "", "kind": "inline"}
    assert how == {
        "Entry": [],
        "Big": [("TI023", {**inline, "line": 4, "col": 34})],
        "Also": [("TI023", {**inline, "line": 13, "col": 34})],
        "Arg": [("TI023", {**inline, "line": 26, "col": 26})],
    }


def test_a_chain_comment_that_suppresses_nothing_is_reported_once(run: Run, write: Path) -> None:
    (write / "chain.py").write_text(CHAIN.replace('gpu="B200", cpu_count=4', 'gpu="A10G", cpu_count=4'))
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "chain.py")
    assert (code, out.splitlines()) == (
        0,
        [
            "chain.py:36:103: [warning] TI023 [Entry] B200 is available on request only",  # the Entry chainlet comes first
            "chain.py:4:59: [warning] TI204 [Big] unused suppression: no TI023 finding in this chainlet",
        ],
    )


# A property: a comment hides only the findings of the code it names, on its line or block, and changes no resolution.

VALUES = {
    "cpu": ['"4"', '"-1"', "4", '"2 cores"', '"500m"'],
    "memory": ["16Gi", "2GB", "Gi", '"1"'],
    "accelerator": ["B200", "A10G", "a10g", "H200:2", "L40S", "B200:0"],
    "instance_type": ["B200", "A10Gx4x16", "nope", '""'],
    "node_count": ["2", "0"],
    "use_gpu": ["true", "false"],
    "gpu": ["A10G"],
}
CODES = ["TI001", "TI003", "TI004", "TI005", "TI007", "TI011", "TI012", "TI015", "TI016", "TI022", "TI023", "TI100", "ORG001"]
ROOT = Path(tempfile.mkdtemp(prefix="suppress-property-"))  # a config path no pyproject.toml governs


def _model(text: str) -> object:
    loaded = load_config_bytes(str(ROOT / "m" / "config.yaml"), text.encode())
    model = analyze_loaded(loaded, Host(load_entry_points=False))
    return suppress.apply([suppress.Unit(model, model.path)])[0]


@given(keys=st.lists(st.sampled_from(sorted(VALUES)), min_size=0, max_size=4, unique=True), data=st.data())
def test_a_comment_changes_nothing_but_the_findings_of_its_code(keys: list[str], data: st.DataObject) -> None:
    lines = ["model_name: m", "resources:"] + [f"  {k}: {data.draw(st.sampled_from(VALUES[k]))}" for k in keys]
    before = _model("\n".join(lines) + "\n")
    found = before.diagnostics  # type: ignore[attr-defined]
    code = data.draw(st.sampled_from([d.code for d in found] + CODES) if found else st.sampled_from(CODES))  # a code found, often
    lines_of = sorted({d.line - 1 for d in found if d.code == code and 0 < d.line <= len(lines)} | {1})  # its line, or the block's
    at = data.draw(st.sampled_from(lines_of) | st.integers(0, len(lines) - 1))
    lines[at] += f"  # truss-instance: ignore[{code}]"
    after = _model("\n".join(lines) + "\n")
    assert after.chosen == before.chosen and after.resolution == before.resolution  # type: ignore[attr-defined]
    kept = [d for d in after.diagnostics if d.code != "TI204"]  # type: ignore[attr-defined]
    gone = set(before.diagnostics) - set(kept)  # type: ignore[attr-defined]
    assert set(kept) <= set(before.diagnostics)  # type: ignore[attr-defined]
    assert {d.code for d in gone} <= {code}
    assert [d for d, _ in after.suppressed] == sorted(gone, key=lambda d: (d.line, d.col, d.code))  # type: ignore[attr-defined]
    unused = [d for d in after.diagnostics if d.code == "TI204"]  # type: ignore[attr-defined]
    assert all(d.line == at + 1 for d in unused)
    assert bool(unused) != bool(gone) or code in ("TI100",)  # it hid something, or it says it did not (TI100: not looked for here)
