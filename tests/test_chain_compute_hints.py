"""What each Compute argument becomes: the resources truss's code gen writes, our fields, and the exact fix hint for
every wrong value (cpu_count, gpu, gpu_count, memory, instance_type)."""

from __future__ import annotations

from pathlib import Path

import pytest

from truss_instance_plugin.chains.load import load_chain

KNOWN = "B10, T4, L4, A10G, V100, A100, A100_40GB, H100, H200, H100_40GB, B200, L40S, RTX_PRO_6000, B300, GB300"
ACCEPTS = "truss accepts this"
DEFAULT = {"cpu": "1", "memory": "2Gi", "use_gpu": False, "accelerator": None}


def read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: str) -> tuple[object, ...]:
    """(blocked, truss's resources, our fields, findings as (code, col, message, hint)) of one chainlet with `args`."""
    monkeypatch.chdir(tmp_path)
    text = "import truss_chains as chains\n\n\nclass X(chains.ChainletBase):\n"
    Path("x.py").write_text(text + f"    remote_config = chains.RemoteConfig(compute=chains.Compute({args}))\n", encoding="utf-8")
    (unit,) = load_chain("x.py").chainlets
    assert unit.config.resources is not None and isinstance(unit.config.resources.value, dict)
    got = {k: f.value for k, f in unit.config.resources.value.items()}
    return unit.blocked, unit.resources, got, [(d.code, d.line, d.col, d.message, d.hint) for d in unit.findings]


VALID = [  # Compute(args) -> what truss writes, and our fields
    ("gpu='A10G', gpu_count=1", {**DEFAULT, "use_gpu": True, "accelerator": "A10G"}, {"accelerator": "A10G"}),
    ("gpu='A10G', gpu_count=3", {**DEFAULT, "use_gpu": True, "accelerator": "A10G:3"}, {"accelerator": "A10G:3"}),
    ("gpu='H100'", {**DEFAULT, "use_gpu": True, "accelerator": "H100"}, {"accelerator": "H100"}),
    ("gpu=''", DEFAULT, {}),  # truss: `if gpu:`
    ("gpu=None, gpu_count=1", DEFAULT, {}),
    ("gpu_count=1", DEFAULT, {}),  # the default count without a gpu: no finding
    ("cpu_count=1, memory='4Gi'", {**DEFAULT, "memory": "4Gi"}, {"cpu": "1", "memory": "4Gi"}),
    ("instance_type=None", DEFAULT, {}),
    ("instance_type=''", DEFAULT, {"instance_type": ""}),  # truss drops an empty one when it writes the config
    ("instance_type='L4:4x16'", {**DEFAULT, "instance_type": "L4:4x16"}, {"instance_type": "L4:4x16"}),
]


@pytest.mark.parametrize(("args", "resources", "fields"), VALID)
def test_valid_compute_becomes_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: str, resources: dict[str, object], fields: dict[str, str]
) -> None:
    assert read(tmp_path, monkeypatch, args) == (False, resources, fields, [])


WRONG = [  # Compute(args) -> truss's resources (None: truss fails), our fields, the finding (code, col, message, hint)
    (
        "cpu_count=0.0", {**DEFAULT, "cpu": "0"}, {},
        ("TI041", 64, "cpu_count=0.0 is a float, not an int: must be ≥ 1", f"{ACCEPTS} (reading it as 0); write e.g. cpu_count=1"),
    ),
    (
        "cpu_count=3.0", {**DEFAULT, "cpu": "3"}, {},
        ("TI041", 64, "cpu_count=3.0 is a float, not an int", f"{ACCEPTS} (reading it as 3); write cpu_count=3"),
    ),
    (
        "cpu_count=1.0", {**DEFAULT, "cpu": "1"}, {},
        ("TI041", 64, "cpu_count=1.0 is a float, not an int", f"{ACCEPTS} (reading it as 1); write cpu_count=1"),
    ),
    (
        "cpu_count=0", {**DEFAULT, "cpu": "0"}, {},
        ("TI041", 64, "cpu_count=0: must be ≥ 1", f'{ACCEPTS}, but Baseten would receive cpu "0"; use e.g. cpu_count=1'),
    ),
    (
        "cpu_count='x'", None, {},
        ("TI041", 64, 'cpu_count="x": must be a whole number of vCPUs (truss rejects it too)', "e.g. cpu_count=4"),
    ),
    (
        "cpu_count=1.5", None, {},
        (
            "TI041", 64, "cpu_count=1.5: must be a whole number of vCPUs (truss rejects it too)",
            'Compute takes whole vCPUs, e.g. cpu_count=2; for "1500m" use a config.yaml truss',
        ),
    ),
    (
        "gpu='A10G', gpu_count='2'", {**DEFAULT, "use_gpu": True, "accelerator": "A10G:2"}, {"accelerator": "A10G:2"},
        ("TI042", 76, 'gpu_count="2" is a string, not an int', f"{ACCEPTS} (reading it as 2); write gpu_count=2"),
    ),
    (
        "gpu='A10G', gpu_count=1.0", {**DEFAULT, "use_gpu": True, "accelerator": "A10G"}, {"accelerator": "A10G"},
        ("TI042", 76, "gpu_count=1.0 is a float, not an int", f"{ACCEPTS} (reading it as 1); write gpu_count=1"),
    ),
    (
        "gpu='A10G', gpu_count=0.0", {**DEFAULT, "use_gpu": True}, {},
        ("TI042", 76, "gpu_count=0.0 is a float, not an int", f"{ACCEPTS} (reading it as 0); write gpu_count=1"),
    ),
    (
        "gpu='A10G', gpu_count=0", {**DEFAULT, "use_gpu": True}, {},
        (
            "TI042", 76, 'gpu="A10G", gpu_count=0: no GPU',
            f"{ACCEPTS} and writes accelerator: null with use_gpu: true (no GPU); use gpu_count=1 or more, or remove gpu",
        ),
    ),
    (
        "gpu='A10G', gpu_count=-1.0", None, {},
        ("TI042", 76, "gpu_count=-1.0: must be a whole number ≥ 1 (truss rejects it too)", "e.g. gpu_count=2"),
    ),
    (
        "gpu_count=2", DEFAULT, {},
        (
            "TI042", 64, "gpu_count=2 without gpu= gives a CPU-only instance",
            f'{ACCEPTS} and drops gpu_count; add gpu="A10G" (or another type), or remove gpu_count',
        ),
    ),
    (
        "gpu=None, gpu_count=True", DEFAULT, {},
        (
            "TI042", 74, "gpu_count=True without gpu= gives a CPU-only instance",
            f'{ACCEPTS} and drops gpu_count; add gpu="A10G" (or another type), or remove gpu_count',
        ),
    ),
    ("gpu='A10G:4'", None, {}, ("TI043", 64, 'gpu="A10G:4": unknown GPU type (truss rejects it too)', 'write gpu="A10G", gpu_count=4')),
    ("gpu='A10G:x'", None, {}, ("TI043", 64, 'gpu="A10G:x": unknown GPU type (truss rejects it too)', 'write gpu="A10G" and a gpu_count')),
    ("gpu='H10:2'", None, {}, ("TI043", 64, 'gpu="H10:2": unknown GPU type (truss rejects it too)', 'write gpu="H100", gpu_count=2')),
    ("gpu='H1000'", None, {}, ("TI043", 64, 'gpu="H1000": unknown GPU type (truss rejects it too)', 'did you mean "H100"?')),
    ("gpu='zzz'", None, {}, ("TI043", 64, 'gpu="zzz": unknown GPU type (truss rejects it too)', f"known types: {KNOWN}")),
    ("gpu=':2'", None, {}, ("TI043", 64, 'gpu=":2": unknown GPU type (truss rejects it too)', f"known types: {KNOWN}")),
    (
        "gpu='bogus', gpu_count=2", None, {},
        ("TI043", 64, 'gpu="bogus": unknown GPU type (truss rejects it too)', f"known types: {KNOWN}"),
    ),
    (
        "gpu=3", None, {},
        ("TI043", 64, 'gpu=3 is an int; it must be a GPU type like "A10G" (truss rejects it too)', 'e.g. gpu="A10G"'),
    ),
    (  # a long value is shortened in the message: 20 characters, an ellipsis, the last 12 and the length
        "gpu='" + "Z" * 60 + "'", None, {},
        ("TI043", 64, f'gpu="{"Z" * 20}…{"Z" * 12} (60 characters)": unknown GPU type (truss rejects it too)', f"known types: {KNOWN}"),
    ),
    (
        "memory=" + "9" * 60, None, {},
        ("TI044", 64, f"memory={'9' * 20}…{'9' * 12} (60 characters) is an int; it must be a string (truss rejects it too)",
         f'write memory="{"9" * 60}Gi"'),
    ),
    ("memory=4", None, {}, ("TI044", 64, "memory=4 is an int; it must be a string (truss rejects it too)", 'write memory="4Gi"')),
    ("memory=0", None, {}, ("TI044", 64, "memory=0 is an int; it must be a string (truss rejects it too)", 'write memory="16Gi"')),
    (
        "memory=2.0", None, {},
        ("TI044", 64, "memory=2.0 is a float; it must be a string (truss rejects it too)", 'write memory="16Gi"'),
    ),
    (
        "instance_type=3", None, {},
        ("TI044", 64, "instance_type=3 must be a string (truss rejects it too)", 'e.g. instance_type="L4:4x16"'),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "resources", "fields", "finding"), WRONG)
def test_each_wrong_value_names_its_fix(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: str,
    resources: dict[str, object] | None,
    fields: dict[str, str],
    finding: tuple[str, int, str, str],
) -> None:
    code, col, message, hint = finding
    assert read(tmp_path, monkeypatch, args) == (True, resources, fields, [(code, 5, col, message, hint)])
