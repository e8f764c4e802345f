"""check/lock/adopt against the lockfile: stale locks, catalog drift, edits after a deployment, bad lockfiles."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from support import GOLDEN, SDXL_REQUEST, TI024_HINT, TWO_NODE, Run, get, make_truss, req, resources_config, run_cli, with_entries

from truss_instance_plugin import plugins
from truss_instance_plugin.catalog import Catalog, GiB, InstanceType, make_catalog
from truss_instance_plugin.errors import LockError
from truss_instance_plugin.lock.format import parse_lock, read_lock, render
from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT as FIRST
from truss_instance_plugin.plugins import Host
from truss_instance_plugin.request import Request

ROOT = Path(__file__).resolve().parents[1]
SDXL = ROOT / "examples" / "sdxl"
LOCK = Path("models/sdxl/truss-instance.lock")
CONFIG = Path("models/sdxl/config.yaml")
OLD = 1_000_000_000

TI101 = (
    "models/sdxl/config.yaml:5:8: error TI101 truss-instance.lock is out of date "
    "(cpu 4000m → 5000m would move A10Gx4x16 → A10Gx8x32, +$0.25/h); run `truss-instance lock models/sdxl`\n"
)
TI110 = (
    'models/sdxl/config.yaml:5:8: warning TI110 resources changed after the first deployment (cpu "4" → "5").\n'
    "  Running deployments stay on A10Gx4x16. Baseten ignores this edit for `truss push --promote` / `--environment` "
    "unless you pass --no-preserve-env-instance-type; to change a running deployment use the Baseten UI.\n"
)


def edit(old: str, new: str, path: Path = CONFIG) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def a10g(name: str, cpu: int, mem: int, price: str) -> InstanceType:
    return InstanceType(name, cpu * 1000, mem * GiB, "A10G", 1, 24, Decimal(price))


def locked() -> dict[str, object]:
    doc = yaml.safe_load(LOCK.read_bytes())
    assert isinstance(doc, dict)
    return doc


# The "What a user gets" -------------------------------------------------------------


def test_what_a_user_gets_before_deployment(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")
    os.utime(LOCK, (OLD, OLD))
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "", "")
    assert LOCK.stat().st_mtime == OLD
    edit('cpu: "4"', 'cpu: "5"')
    assert run_cli(capsys, "check", "models/sdxl") == (1, TI101 + "1 model: 1 error\n", "")
    assert LOCK.read_bytes() == GOLDEN  # check never writes


def test_what_a_user_gets_after_deployment(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "lock", "models/sdxl")
    code, out, _ = run_cli(capsys, "adopt", "models/sdxl")
    assert code == 0 and "recorded deployment of sdxl (A10Gx4x16)" in out
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")
    edit('cpu: "4"', 'cpu: "5"')
    assert run_cli(capsys, "check", "models/sdxl") == (0, TI110 + "1 model: 1 warning\n", "")
    assert run_cli(capsys, "check", "--strict", "models/sdxl") == (1, TI110 + "1 model: 1 warning\n", "")


def test_parsable_format_of_the_warning(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "lock", "models/sdxl")
    run_cli(capsys, "adopt", "models/sdxl")
    edit('cpu: "4"', 'cpu: "5"')
    code, out, _ = run_cli(capsys, "check", "--format", "parsable", "models/sdxl")
    assert code == 0
    assert out.startswith('models/sdxl/config.yaml:5:8: [warning] TI110 resources changed after the first deployment (cpu "4" → "5").')


# check: TI100 / TI101 / positions ----------------------------------------------------------


def test_missing_lock_is_TI100_and_no_lock_skips(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 1
    assert out == (
        "models/sdxl/config.yaml:3:1: error TI100 truss-instance.lock is missing\n"
        "  run `truss-instance lock models/sdxl` (or pass --no-lock)\n"
        "1 model: 1 error\n"
    )
    assert run_cli(capsys, "check", "--no-lock", "models/sdxl") == (0, "", "")
    edit('cpu: "4"', 'cpu: "5"')
    run_cli(capsys, "lock", "models/sdxl")
    edit('cpu: "5"', 'cpu: "4"')
    assert run_cli(capsys, "check", "--no-lock", "models/sdxl") == (0, "", "")


@pytest.mark.parametrize(
    ("old", "new", "position", "shown"),
    [
        ("memory: 16Gi", "memory: 32Gi", "6:11", "memory 16 GiB → 32 GiB would move A10Gx4x16 → A10Gx8x32, +$0.25/h"),
        ("accelerator: A10G", "accelerator: A10G:2", "4:16", "accelerator A10G ×1 → A10G ×2 would move A10Gx4x16 → A10G:2x24x96"),
        ('cpu: "4"', 'cpu: "3"', "5:8", "cpu 4000m → 3000m still A10Gx4x16"),
    ],
)
def test_stale_lock_points_at_the_changed_key(
    work: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, position: str, shown: str
) -> None:
    run_cli(capsys, "lock", "models/sdxl")
    edit(old, new)
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 1
    assert out.startswith(f"models/sdxl/config.yaml:{position}: error TI101 truss-instance.lock is out of date ({shown}")
    assert out.endswith("; run `truss-instance lock models/sdxl`\n1 model: 1 error\n")
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")


def test_check_with_a_fresh_lock_is_quiet(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LOCK.write_bytes(GOLDEN)
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")
    assert run_cli(capsys, "check", "--strict", "models/sdxl") == (0, "", "")


def test_models_sharing_a_lock_are_each_compared_with_their_own_request(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Identical locks are read once and an agreement is remembered, per request and catalog: an edit still shows."""
    for name in ("a", "b"):
        shutil.copytree("models/sdxl", f"models/{name}")
    assert run_cli(capsys, "lock", "models")[0] == 0
    assert Path("models/a/truss-instance.lock").read_bytes() == LOCK.read_bytes() == Path("models/b/truss-instance.lock").read_bytes()
    assert run_cli(capsys, "check", "models") == (0, "", "")
    edit('cpu: "4"', 'cpu: "3"', Path("models/b/config.yaml"))  # the same type, the same lock: another request
    expected = (
        "models/b/config.yaml:5:8: error TI101 truss-instance.lock is out of date (cpu 4000m → 3000m still A10Gx4x16); "
        "run `truss-instance lock models/b`\n3 models: 1 error\n"
    )
    assert run_cli(capsys, "check", "models") == (1, expected, "")


# adopt ---------------------------------------------------------------------------------------


def test_lock_keeps_the_deployment_record_and_keeps_warning(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "lock", "models/sdxl")
    run_cli(capsys, "adopt", "models/sdxl")
    record = locked()["deployment"]
    assert isinstance(record, dict) and record["instance_type"] == "A10Gx4x16" and record["source"] == "adopt"
    edit('cpu: "4"', 'cpu: "5"')
    code, out, _ = run_cli(capsys, "lock", "models/sdxl")
    assert code == 0
    assert out == TI110 + "wrote models/sdxl/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02424/min  +$0.25/h (+$180/month)\n"
    assert locked()["deployment"] == record  # never dropped or rewritten
    assert locked()["resolved"]["instance_type"] == "A10Gx8x32"  # type: ignore[index]
    # lock keeps warning (and writes nothing more); check keeps warning
    assert run_cli(capsys, "lock", "models/sdxl") == (0, TI110, "")
    assert run_cli(capsys, "check", "models/sdxl") == (0, TI110 + "1 model: 1 warning\n", "")
    assert locked()["deployment"] == record
    # adopting again moves the baseline: then check is clean
    code, out, _ = run_cli(capsys, "adopt", "models/sdxl")
    assert code == 0 and "(A10Gx8x32)" in out
    assert run_cli(capsys, "check", "--strict", "models/sdxl") == (0, "", "")
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "", "")


def test_adopt_options_are_recorded(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "adopt", "models/sdxl", "--instance", "A10Gx8x32", "--model", "sdxl-prod", "--environment", "staging"
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert (
        out
        == "recorded deployment of sdxl-prod (A10Gx8x32) in models/sdxl/truss-instance.lock\n" + FIRST.format(instance="A10Gx8x32") + "\n"
    )
    dep = locked()["deployment"]
    assert isinstance(dep, dict)
    assert dep["instance_type"] == "A10Gx8x32"
    assert dep["predicted_instance_type"] == "A10Gx4x16"
    assert dep["model_name"] == "sdxl-prod"
    assert dep["environment"] == "staging"
    assert dep["resources"] == {"accelerator": "A10G", "cpu": "4", "memory": "16Gi"}  # as written, for the warning
    assert locked()["resolved"]["instance_type"] == "A10Gx4x16"  # type: ignore[index]
    # the running type is what the warning names
    edit('cpu: "4"', 'cpu: "5"')
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 0 and "Running deployments stay on A10Gx8x32." in out
    # a second adopt is not a first deployment: no note
    assert run_cli(capsys, "adopt", "models/sdxl") == (
        0,
        "recorded deployment of sdxl (A10Gx8x32) in models/sdxl/truss-instance.lock\n",
        "",
    )


def test_adopt_unknown_instance_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "adopt", "models/sdxl", "--instance", "A10Gx4x61")
    assert code == 2
    assert "A10Gx4x61 is not in the catalog" in err and 'did you mean "A10Gx4x16"' in err
    assert not LOCK.exists()


def test_adopt_without_a_lock_creates_it(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "adopt", "models/sdxl")[0] == 0
    assert read_lock(str(LOCK)) is not None
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")


# Catalog changes -----------------------------------------------------------------------------


def test_cheaper_type_is_reported_not_picked(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LOCK.write_bytes(GOLDEN)
    with_entries(a10g("A10G-lite:4x16", 4, 16, "0.015"))
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 0
    assert out == (
        "models/sdxl/config.yaml:3:1: info TI102 A10G-lite:4x16 is now cheaper than the locked A10Gx4x16 (−$0.31/h)\n"
        "  run `truss-instance lock --upgrade models/sdxl` to switch\n"
        "1 model: 1 info\n"
    )
    # lock keeps the locked type (it records the new catalog) and repeats the note
    code, out, _ = run_cli(capsys, "lock", "models/sdxl")
    assert code == 0 and "TI102" in out
    assert "wrote models/sdxl/truss-instance.lock (updated): A10Gx4x16 $0.02012/min (request or catalog changed, same type)" in out
    assert locked()["resolved"]["instance_type"] == "A10Gx4x16"  # type: ignore[index]
    assert locked()["catalog"]["sha256"] != yaml.safe_load(GOLDEN)["catalog"]["sha256"]  # type: ignore[index]
    code, out, _ = run_cli(capsys, "lock", "models/sdxl")
    assert code == 0 and "TI102" in out
    # --upgrade re-resolves
    code, out, _ = run_cli(capsys, "lock", "--upgrade", "models/sdxl")
    assert code == 0 and "(updated): A10Gx4x16 → A10G-lite:4x16 $0.015/min" in out
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")


def test_prewritten_lock_from_another_catalog_with_a_dearer_fitting_type_is_kept(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOLDEN.decode()
    text = text.replace("sha256:9733bfb80e89ea3f135d5b88d2fc1c673afdb390b7d016518afb4e954b0a0163", "sha256:" + "0" * 64)
    text = text.replace("instance_type: A10Gx4x16", "instance_type: A10Gx8x32")
    text = text.replace("millicores: 4000\n  nodes", "millicores: 8000\n  nodes")
    LOCK.write_text(text)
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 0
    assert out.startswith("models/sdxl/config.yaml:3:1: info TI102 A10Gx4x16 is now cheaper than the locked A10Gx8x32 (−$0.25/h)\n")
    code, out, _ = run_cli(capsys, "lock", "models/sdxl")
    assert code == 0 and locked()["resolved"]["instance_type"] == "A10Gx8x32"  # type: ignore[index]
    run_cli(capsys, "lock", "--upgrade", "models/sdxl")
    assert LOCK.read_bytes() == GOLDEN


def test_locked_type_gone_from_the_catalog_is_TI103(work: Path, capsys: pytest.CaptureFixture[str], host: Host) -> None:
    with_entries(a10g("A10G-lite:4x16", 4, 16, "0.015"))
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    assert locked()["resolved"]["instance_type"] == "A10G-lite:4x16"  # type: ignore[index]
    before = LOCK.read_bytes()
    plugins.reset_host(host)  # the type is withdrawn
    expected = (
        "models/sdxl/config.yaml:3:1: error TI103 locked instance type A10G-lite:4x16 is no longer in the catalog\n"
        "  run `truss-instance lock --upgrade models/sdxl` to re-resolve\n"
    )
    assert run_cli(capsys, "check", "models/sdxl") == (1, expected + "1 model: 1 error\n", "")
    assert run_cli(capsys, "lock", "models/sdxl") == (1, expected, "")
    assert run_cli(capsys, "lock", "--check", "models/sdxl")[0] == 1
    assert LOCK.read_bytes() == before
    code, out, _ = run_cli(capsys, "lock", "--upgrade", "models/sdxl")
    assert code == 0 and "A10G-lite:4x16 → A10Gx4x16" in out
    assert LOCK.read_bytes() == GOLDEN


def test_locked_type_that_no_longer_fits_is_TI103(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LOCK.write_bytes(GOLDEN)
    with_entries(a10g("A10Gx4x16", 2, 16, "0.02012"))  # same name, now 2 vCPU
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 1
    assert "error TI103 locked instance type A10Gx4x16 no longer fits the request: it has 2 vCPU < 4 requested" in out
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 1
    assert LOCK.read_bytes() == GOLDEN
    code, out, _ = run_cli(capsys, "lock", "--upgrade", "models/sdxl")
    assert code == 0 and "A10Gx4x16 → A10Gx8x32" in out


def test_price_change_of_the_locked_type_keeps_it(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LOCK.write_bytes(GOLDEN)
    with_entries(a10g("A10Gx4x16", 4, 16, "0.021"))
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    assert locked()["resolved"]["price_usd_per_min"] == "0.021"  # type: ignore[index]
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "", "")


# Bad lockfiles -------------------------------------------------------------------------------


def _golden_edit(old: str, new: str) -> bytes:
    text = GOLDEN.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"lock_version: 1\nrequest: [unclosed\n", "truss-instance.lock:3:1: error TI104 truss-instance.lock cannot be used: invalid YAML"),
        (_golden_edit("instance_type: A10Gx4x16", "instance_type: A10Gx8x32"), "resolved section does not match catalog entry A10Gx8x32"),
        (_golden_edit("price_usd_per_min: '0.02012'", "price_usd_per_min: '0.001'"), "does not match catalog entry A10Gx4x16"),
        (_golden_edit("instance_type: A10Gx4x16", "instance_type: T4x4x16"), "does not match catalog entry T4x4x16"),
        (_golden_edit("memory_bytes: 17179869184\n  millicores", "memory_bytes: 1\n  millicores"), "request_hash does not match"),
        (_golden_edit("lock_version: 1", "lock_version: 1\ncomment: hi"), "unknown key 'comment' in the lockfile"),
        (_golden_edit("lock_version: 1", "lock_version: 2"), "lock_version 2 is newer than this truss-instance understands (1); upgrade"),
    ],
)
def test_check_exits_2_on_a_bad_lockfile(work: Path, capsys: pytest.CaptureFixture[str], data: bytes, message: str) -> None:
    LOCK.write_bytes(data)
    code, out, err = run_cli(capsys, "check", "models/sdxl")
    assert code == 2
    assert message in out
    assert out.startswith("models/sdxl/truss-instance.lock:")
    assert "TI104" in out and "internal error" not in err
    assert LOCK.read_bytes() == data


@pytest.mark.parametrize(
    "data",
    [
        b"lock_version: 1\nrequest: [unclosed\n",
        _golden_edit("memory_bytes: 17179869184\n  millicores", "memory_bytes: 1\n  millicores"),
        _golden_edit("lock_version: 1", "lock_version: 1\ncomment: hi"),
        _golden_edit("deployment: {}\n", ""),
    ],
)
def test_lock_never_rewrites_an_invalid_lock(work: Path, capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    LOCK.write_bytes(data)
    code, out, _ = run_cli(capsys, "lock", "models/sdxl")
    assert code == 2 and out.startswith("models/sdxl/truss-instance.lock:")
    assert "error TI104 truss-instance.lock cannot be used: " in out
    assert "restore it with `git checkout -- models/sdxl/truss-instance.lock`" in out
    assert LOCK.read_bytes() == data


def test_lock_regenerates_a_valid_but_hand_edited_lock(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LOCK.write_bytes(_golden_edit("instance_type: A10Gx4x16", "instance_type: A10Gx8x32"))
    code, out, _ = run_cli(capsys, "lock", "models/sdxl")
    assert (code, out) == (0, "wrote models/sdxl/truss-instance.lock (updated): A10Gx8x32 → A10Gx4x16 $0.02012/min\n")
    assert LOCK.read_bytes() == GOLDEN


def _adopted(work: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    run_cli(capsys, "adopt", "models/sdxl", "--model", "sdxl-prod")
    data = LOCK.read_bytes()
    assert b"sdxl-prod" in data
    return data


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  model_name: sdxl-prod", "  model_name: [sdxl-prod", "invalid YAML"),
        ("  source: adopt", "  source: adopt\n  note: hi", "unknown key 'note' in deployment"),
        ("lock_version: 1", "lock_version: 2", "lock_version 2 is newer"),
        ("lock_version: 1", "lock_version: 2\nfuture: {}", "lock_version 2 is newer"),
        ("request_hash: sha256:049b", "request_hash: sha256:149b", "request_hash does not match"),
        # a bad merge that duplicates the key, a one-byte edit of the key, a deleted key line
        ("lock_version: 1", "deployment: {}\nlock_version: 1", "duplicate key 'deployment' (first at line 7; a bad merge?)"),
        ("deployment:\n", "deploymen:\n", "unknown key 'deploymen' in the lockfile (did you mean \"deployment\"?)"),
        ("deployment:\n", "", "the lockfile lacks the key 'deployment'"),
    ],
)
def test_lock_refuses_to_overwrite_an_unreadable_deployment_record(
    work: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    text = _adopted(work, capsys).decode()
    if old == "request_hash: sha256:049b":  # the top-level one, not the deployment's
        head, _, tail = text.rpartition(old)
        data = (head + new + tail).encode()
    else:
        assert old in text
        data = text.replace(old, new, 1).encode()
    LOCK.write_bytes(data)
    for argv in (["lock", "models/sdxl"], ["lock", "--upgrade", "models/sdxl"], ["adopt", "models/sdxl"], ["check", "models/sdxl"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, argv
        assert f"error TI104 truss-instance.lock cannot be used: {message}" in out
        assert (
            "`truss-instance lock` never rewrites it, since it may hold a deployment record: restore it with "
            "`git checkout -- models/sdxl/truss-instance.lock`, or delete it and run `truss-instance lock models/sdxl` "
            "(then `truss-instance adopt models/sdxl` if the model is deployed)"
        ) in out
        assert err == ""
        assert LOCK.read_bytes() == data  # never lose a deployment record


def test_lock_regenerates_a_hand_edited_lock_but_keeps_a_readable_deployment(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _adopted(work, capsys).decode()
    head, _, tail = text.rpartition("instance_type: A10Gx4x16")  # the resolved section's
    LOCK.write_text(head + "instance_type: T4x4x16" + tail)
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 2 and "does not match catalog entry T4x4x16" in out and "(its deployment record is kept)" in out
    assert run_cli(capsys, "lock", "models/sdxl")[0] == 0
    assert LOCK.read_text() == text
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")


# require-lock policy: `lock` is the fix, so it must not be blocked by it ----------------------


def test_require_lock_policy_does_not_block_lock(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "pyproject.toml").write_text("[tool.truss-instance]\nrequire-lock = true\n")
    code, out, _ = run_cli(capsys, "check", "models/sdxl")
    assert code == 1 and "TI100" in out and "TI203" not in out  # one finding for one missing lock
    assert run_cli(capsys, "lock", "models/sdxl") == (0, "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")
    assert run_cli(capsys, "check", "models/sdxl") == (0, "", "")


# --hook: pre-commit passes file names -------------------------------------------------------


def test_hook_mode_maps_file_names_to_trusses(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, docs = work / "a", work / "b", work / "docs"
    shutil.copytree(SDXL, a, ignore=shutil.ignore_patterns("truss-instance.lock"))
    b.mkdir()
    (b / "config.yaml").write_text('model_name: cpu-model\nresources:\n  cpu: "1"\n  memory: 2Gi\n')
    docs.mkdir()
    (docs / "config.yaml").write_text("site_name: docs\ntheme: material\n")  # another tool's config.yaml
    argv = ["lock", "--hook", "a/config.yaml", "a/truss-instance.lock", "b/config.yaml", "docs/config.yaml"]
    code, out, err = run_cli(capsys, *argv)
    assert (code, err) == (1, "")
    assert out == (
        "wrote a/truss-instance.lock (new): A10Gx4x16 $0.02012/min\nwrote b/truss-instance.lock (new): 1x2 $0.00058/min\n"
        "wrote 2 locks\nto commit them: git add -- a/truss-instance.lock b/truss-instance.lock\n"
    )
    assert not (docs / "truss-instance.lock").exists()
    assert (a / "truss-instance.lock").read_bytes() == GOLDEN
    assert run_cli(capsys, *argv) == (0, "", "")
    # a lockfile alone maps to its config; one whose config is gone is skipped
    edit('cpu: "4"', 'cpu: "5"', a / "config.yaml")
    code, out, _ = run_cli(capsys, "lock", "--hook", "a/truss-instance.lock", "gone/truss-instance.lock")
    assert code == 1 and out == (
        "wrote a/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02424/min  +$0.25/h (+$180/month)\n"
        "to commit it: git add -- a/truss-instance.lock\n"
    )
    # check --hook reads the same mapping
    assert run_cli(capsys, "check", "--hook", "a/truss-instance.lock", "b/config.yaml", "docs/config.yaml") == (0, "", "")


def test_hook_mode_keeps_a_truss_with_a_model_dir(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "m" / "model").mkdir(parents=True)
    (work / "m" / "config.yaml").write_text("python_version: py311\n")  # no model_name/resources, but a model/ dir
    code, out, _ = run_cli(capsys, "lock", "--hook", "m/config.yaml")
    assert code == 1 and out == "wrote m/truss-instance.lock (new): 1x2 $0.00058/min\nto commit it: git add -- m/truss-instance.lock\n"


# Removing a pinned instance_type showed `instance_type 4x16 → None` (TI101) and `"4x16" → "none"` (TI110).
@pytest.mark.usefixtures("truss_cwd")
def test_a_removed_instance_type_shows_as_not_set(run: Run) -> None:
    Path("config.yaml").write_text('model_name: a\nresources:\n  instance_type: "4x16"\n')
    assert run("lock", ".")[0] == 0
    Path("config.yaml").write_text('model_name: a\nresources:\n  cpu: "1"\n')
    assert run("check", ".") == (
        1,
        "config.yaml:2:1: error TI101 truss-instance.lock is out of date (instance_type 4x16 → (not set) would move 4x16 → 1x2, "
        "−$0.17/h); run `truss-instance lock .`\n1 model: 1 error\n",
        "",
    )
    Path("config.yaml").write_text('model_name: a\nresources:\n  instance_type: "4x16"\n')
    assert run("adopt", ".", "--model-id", "abc")[0] == 0
    Path("config.yaml").write_text('model_name: a\nresources:\n  cpu: "1"\n')
    code, out, _ = run("check", ".")
    assert (code, out.splitlines()[0]) == (
        0,
        'config.yaml:2:1: warning TI110 resources changed after the first deployment (instance_type "4x16" → (not set)).',
    )


# `adopt` on a config it cannot read said "no model_name in config.yaml; pass --model NAME" (exit 2).
@pytest.mark.usefixtures("truss_cwd")
def test_adopt_reports_why_a_config_cannot_be_read(run: Run) -> None:
    Path("config.yaml").write_text("model_name: a\nresources: [\n")
    out = "config.yaml:3:1: error TI091 invalid YAML: did not find expected node content\n  fix the YAML syntax\n"
    assert run("adopt", ".") == (1, out, "")
    Path("prod.yaml").write_text('resources: {cpu: "1"}\n')
    assert run("adopt", "prod.yaml") == (2, "", "truss-instance: no model_name in prod.yaml; pass --model NAME\n")
    assert not list(Path().glob("*.lock"))


@pytest.mark.parametrize(
    ("resources", "locked"),
    [
        ('  instance_type: "A10Gx4x16"\n', "A10Gx4x16"),
        ('  instance_type: "H100"\n', "H100"),
        ('  instance_type: "H100:8"\n  node_count: 2\n', "H100:8"),
        ('  instance_type: "L4:4x16"\n  cpu: "2"\n', "L4:4x16"),
        ('  accelerator: A10G\n  instance_type: "A10Gx4x16"\n', "A10Gx4x16"),
        ('  instance_type: " A10Gx4x16"\n', "A10Gx4x16"),
        ('  instance_type: "4x16"\n', "4x16"),
    ],
)
@pytest.mark.usefixtures("cwd")
def test_a_pinned_type_passes_its_own_lock(run: Run, resources: str, locked: str) -> None:
    make_truss("m", "model_name: p\nresources:\n" + resources)
    code, out, _ = run("lock", "m")
    assert code == 0 and out.startswith(f"wrote m/truss-instance.lock (new): {locked} "), out
    before = Path("m/truss-instance.lock").read_bytes()
    code, out, _ = run("check", "m")
    assert not any(f"TI10{n}" in out for n in range(5)), out
    assert run("lock", "m") == (0, "", "")
    assert run("lock", "--upgrade", "m") == (0, "", "")
    assert run("lock", "--check", "m") == (0, "", "")
    assert Path("m/truss-instance.lock").read_bytes() == before


def test_multi_node_lock_priced_per_node_is_current_and_kept(cwd: Path, run: Run) -> None:
    resources_config("n", 'accelerator: "H100:8"\nnode_count: 2')
    assert run("lock", "n") == (0, "wrote n/truss-instance.lock (new): H100:8 $1.73328/min\n", "")  # two nodes' price
    doc = yaml.safe_load(Path("n/truss-instance.lock").read_bytes())
    assert doc["request"]["node_count"] == 2
    assert doc["resolved"] == {
        "gpu_count": 8, "gpu_type": "H100", "instance_type": "H100:8", "memory_bytes": 944 * GiB, "millicores": 128_000,
        "nodes": 2, "price_usd_per_min": "1.73328", "vram_gib_per_gpu": 80,
    }  # fmt: skip
    warning = (
        f"n/config.yaml:4:15: warning TI024 the catalog has no 2-node types; predicting 2 × H100:8 (price per node × 2)\n  {TI024_HINT}\n"
    )
    assert run("check", "n") == (0, warning + "1 model: 1 warning\n", "")
    assert run("lock", "n") == (0, "", "")
    assert run("lock", "--check", "n") == (0, "", "")


def test_multi_node_lock_of_a_two_node_type(cwd: Path, run: Run) -> None:
    with_entries(TWO_NODE)
    resources_config("n", 'accelerator: "H200:8"\nnode_count: 2')
    assert run("lock", "n")[0] == 0
    resolved = yaml.safe_load(Path("n/truss-instance.lock").read_bytes())["resolved"]
    assert (resolved["instance_type"], resolved["nodes"], resolved["price_usd_per_min"]) == ("H200:2x8", 1, "2.00000")
    warning = "n/config.yaml:3:16: warning TI023 H200:2x8 is available on request only\n"
    assert run("check", "n") == (0, warning + "  ask Baseten to enable it for your organization before pushing\n1 model: 1 warning\n", "")
    assert run("lock", "n") == (0, "", "")


def test_a_locked_type_that_became_multi_node_no_longer_fits(cwd: Path, run: Run) -> None:
    """The lock holds 3 × H100:8; the catalog now says H100:8 is a 2-node type: TI103, and lock keeps the file."""
    resources_config("n", 'accelerator: "H100:8"\nnode_count: 3')
    assert run("lock", "n")[0] == 0
    before = Path("n/truss-instance.lock").read_bytes()
    with_entries(get("H100:8")._replace(node_count=2), get("H100:8")._replace(name="H100:8-single", price_per_min=Decimal("0.9")))
    expected = (
        "n/config.yaml:2:1: error TI103 locked instance type H100:8 no longer fits the request: it has 2 nodes, not 3\n"
        "  run `truss-instance lock --upgrade n` to re-resolve\n"
    )
    per_node = (
        "n/config.yaml:4:15: warning TI024 the catalog has no 3-node types; predicting 3 × H100:8-single (price per node × 3)\n"
        f"  {TI024_HINT}\n"
    )
    assert run("check", "n") == (1, expected + per_node + "1 model: 1 error, 1 warning\n", "")
    assert run("lock", "n") == (1, expected, "")
    assert Path("n/truss-instance.lock").read_bytes() == before


def host_catalog() -> Catalog:
    from truss_instance_plugin.core.pipeline import host_catalog as of

    return of(plugins.get_host())


@pytest.mark.parametrize(
    ("t", "request_", "why", "wrote"),
    [
        (
            InstanceType("A10Gx4x99", 4000, 99 * GiB, "A10G", 1, 24, Decimal("0.02012")),
            SDXL_REQUEST,
            "resolved.instance_type A10Gx4x99 is not in the catalog the lock names",
            "A10Gx4x99 → A10Gx4x16 $0.02012/min",
        ),
        (
            get("4x16"),
            SDXL_REQUEST,
            "resolved type 4x16 does not satisfy the locked request (hand-edited?)",
            "4x16 → A10Gx4x16 $0.02012/min  +$1.00/h (+$730/month)",
        ),
        (
            get("A10Gx4x16"),
            req(5000, 16 * GiB, "A10G"),
            "resolved type A10Gx4x16 does not satisfy the locked request (hand-edited?)",
            "A10Gx4x16 $0.02012/min (request or catalog changed, same type)",
        ),
    ],
)
def test_a_hand_edited_lock_is_refused_then_regenerated(
    work: Path, run: Run, t: InstanceType, request_: Request, why: str, wrote: str
) -> None:
    """Every field valid, the request hash right: only the resolved type is wrong for the catalog the lock names."""
    data = render(request_, host_catalog(), t, 1, None)
    parse_lock(data)  # exactly valid as a file
    LOCK.write_bytes(data)
    expected = (
        f"models/sdxl/truss-instance.lock: error TI104 truss-instance.lock cannot be used: {why}\n"
        "  run `truss-instance lock models/sdxl` to regenerate it (its deployment record is kept)\n"
    )
    assert run("check", "models/sdxl") == (2, expected + "1 model: 1 error\n", "")
    assert LOCK.read_bytes() == data
    assert run("lock", "models/sdxl") == (0, f"wrote models/sdxl/truss-instance.lock (updated): {wrote}\n", "")
    assert LOCK.read_bytes() == GOLDEN


def test_a_lock_claiming_two_nodes_for_a_single_node_request_is_refused(work: Path, run: Run) -> None:
    """resolved.nodes 2 (and the doubled price) for node_count 1: `lock --check` calls it stale, `check` must not pass it."""
    LOCK.write_bytes(render(SDXL_REQUEST, host_catalog(), get("A10Gx4x16"), 2, None))
    stale = "models/sdxl/truss-instance.lock is out of date; run `truss-instance lock models/sdxl`\n"
    assert run("lock", "--check", "models/sdxl") == (1, stale, "")
    expected = (
        "models/sdxl/truss-instance.lock: error TI104 truss-instance.lock cannot be used: "
        "resolved.nodes 2 does not match the locked request's node_count 1 (hand-edited?)\n"
        "  run `truss-instance lock models/sdxl` to regenerate it (its deployment record is kept)\n"
    )
    assert run("check", "models/sdxl") == (2, expected + "1 model: 1 error\n", "")
    wrote = "A10Gx4x16 $0.02012/min (request or catalog changed, same type)  −$1.21/h (−$881/month)"
    assert run("lock", "models/sdxl") == (0, f"wrote models/sdxl/truss-instance.lock (updated): {wrote}\n", "")
    assert LOCK.read_bytes() == GOLDEN


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        (
            "accelerator: A10G",
            "accelerator: L40S",
            "models/sdxl/config.yaml:4:16: error TI022 accelerator L40S has no public instance type: truss accepts it, "
            "but the catalog (baseten-embedded) has no L40S type",
        ),
        (
            "memory: 16Gi",
            "memory: 2Ti",
            "models/sdxl/config.yaml:6:11: error TI030 no A10G type has ≥ 2 TiB; largest is A10G:8x192x768 (750 GiB)",
        ),
    ],
)
def test_a_model_that_resolves_to_nothing_gets_no_lock_findings(work: Path, run: Run, old: str, new: str, finding: str) -> None:
    """With no type chosen there is nothing to compare the lock with: only the resolution's own error, and lock keeps the file."""
    LOCK.write_bytes(GOLDEN)
    CONFIG.write_text(CONFIG.read_text().replace(old, new))
    code, out, err = run("check", "models/sdxl")
    assert (code, out.splitlines()[0], out.splitlines()[-1], err) == (1, finding, "1 model: 1 error", "")
    assert len(out.splitlines()) == 3
    code, out, _ = run("lock", "models/sdxl")
    assert (code, out.splitlines()[0]) == (1, finding)
    assert LOCK.read_bytes() == GOLDEN


def test_a_lock_from_another_catalog_naming_a_type_this_one_lacks_is_TI103(work: Path, run: Run) -> None:
    other = make_catalog((InstanceType("A10G-old", 4000, 16 * GiB, "A10G", 1, 24, Decimal("0.02")),))
    LOCK.write_bytes(render(SDXL_REQUEST, other, other.types[0], 1, None))
    expected = (
        "models/sdxl/config.yaml:3:1: error TI103 locked instance type A10G-old is no longer in the catalog\n"
        "  run `truss-instance lock --upgrade models/sdxl` to re-resolve\n"
    )
    assert run("check", "models/sdxl") == (1, expected + "1 model: 1 error\n", "")


def test_an_unreadable_lock_is_TI104_and_never_replaced(work: Path, run: Run) -> None:
    LOCK.mkdir()  # a directory where the lock should be: read_lock's OSError branch
    with pytest.raises(LockError, match=r"^cannot read: a directory$"):
        read_lock(str(LOCK))
    expected = (
        "models/sdxl/truss-instance.lock: error TI104 truss-instance.lock cannot be used: cannot read: a directory\n"
        "  `truss-instance lock` never rewrites it, since it may hold a deployment record: restore it with "
        "`git checkout -- models/sdxl/truss-instance.lock`, or delete it and run `truss-instance lock models/sdxl` "
        "(then `truss-instance adopt models/sdxl` if the model is deployed)\n"
    )
    assert run("check", "models/sdxl") == (2, expected + "1 model: 1 error\n", "")
    assert run("lock", "models/sdxl") == (2, expected, "")
    assert run("adopt", "models/sdxl") == (2, expected, "")
    assert LOCK.is_dir() and list(LOCK.iterdir()) == []


def test_TI101_for_a_node_count_change(cwd: Path, run: Run) -> None:
    resources_config("n", 'accelerator: "H100:8"')
    run("lock", "n")
    resources_config("n", 'accelerator: "H100:8"\nnode_count: 2')
    code, out, _ = run("check", "n")
    assert (code, out.splitlines()[2:]) == (
        1,
        [
            "n/config.yaml:4:15: error TI101 truss-instance.lock is out of date "
            "(node_count 1 → 2 still H100:8, +$52.00/h); run `truss-instance lock n`",
            "1 model: 1 error, 1 warning",
        ],
    )


def test_TI101_for_an_instance_type_change(cwd: Path, run: Run) -> None:
    resources_config("p", "instance_type: A10Gx4x16")
    run("lock", "p")
    resources_config("p", "instance_type: A10Gx8x32")
    assert run("check", "p") == (
        1,
        "p/config.yaml:3:18: error TI101 truss-instance.lock is out of date "
        "(instance_type A10Gx4x16 → A10Gx8x32 would move A10Gx4x16 → A10Gx8x32, +$0.25/h); run `truss-instance lock p`\n"
        "1 model: 1 error\n",
        "",
    )
    resources_config("p", 'instance_type: A10Gx8x32\ncpu: "8"')  # the ignored cpu next to the pin changes the request too
    assert run("check", "p")[1].splitlines()[-2] == (
        "p/config.yaml:4:8: error TI101 truss-instance.lock is out of date "
        "(cpu 1000m → 8000m, instance_type A10Gx4x16 → A10Gx8x32 would move A10Gx4x16 → A10Gx8x32, +$0.25/h); run `truss-instance lock p`"
    )


def test_adopt_on_an_invalid_config_records_nothing(work: Path, run: Run) -> None:
    CONFIG.write_text(CONFIG.read_text().replace('cpu: "4"', 'cpu: "-1"'))
    expected = (
        'models/sdxl/config.yaml:5:8: error TI003 cpu "-1": must be greater than 0\n'
        '  truss accepts this, but Baseten would receive cpu -1; use e.g. cpu: "1" or "500m"\n'
    )
    assert run("adopt", "models/sdxl") == (1, expected, "")
    assert not LOCK.exists()
    LOCK.write_bytes(GOLDEN)
    assert run("adopt", "models/sdxl", "--instance", "A10Gx8x32") == (1, expected, "")
    assert LOCK.read_bytes() == GOLDEN
    CONFIG.write_text(CONFIG.read_text().replace('cpu: "-1"', 'cpu: "4"').replace("accelerator: A10G", "accelerator: L40S"))
    code, out, _ = run("adopt", "models/sdxl")
    assert (code, out.split(" ", 3)[:3]) == (1, ["models/sdxl/config.yaml:4:16:", "error", "TI022"])
    assert LOCK.read_bytes() == GOLDEN
