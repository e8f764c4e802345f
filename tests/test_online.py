"""The online commands against the loopback FakeBaseten, through truss's own remotes, credentials and client.

`catalog fetch` (GraphQL `listed_instances` → a snapshot file), using a snapshot (`--catalog`, `catalog` in
[tool.truss-instance]), `adopt --from-baseten` and `check --online` (the management REST API), and every failure.
In-process runs point truss at a temporary ~/.trussrc: truss reads USER_TRUSSRC_PATH once, when it is imported,
so the fixture sets what a fresh process would read; the subprocess tests run the real thing without that help.
Nothing leaves 127.0.0.1: every proxy variable names a dead loopback port, and only loopback bypasses it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from fake_baseten import LISTED_INSTANCES, FakeBaseten, Fault, _dumps, truss_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import REPO, Run, copy_sdxl

from truss_instance_plugin.catalog import (
    TRUSS_ACCELERATORS,
    GiB,
    MiB,
    content_hash,
    make_snapshot,
    plausible,
    read_snapshot,
    render_snapshot,
    stale_snapshot,
    type_from_record,
)
from truss_instance_plugin.integrations.online import accelerator_for, map_listed
from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT

KEY = "sk-test.0123456789abcdefSECRET"  # distinctive: a test fails if any of it leaks
DATE_EPOCH = "1790000000"  # 2026-09-21 UTC
AS_OF = "2026-09-21"
SNAP = "baseten-catalog.json"
MI300X = (
    "truss-instance: warning: MI300X:8 is not usable: gpu_type 'MI300X' is no accelerator truss accepts "
    "(B10, T4, L4, A10G, V100, A100, A100_40GB, H100, H200, H100_40GB, B200, L40S, RTX_PRO_6000, B300, GB300) "
    '(kept under "unmapped")'
)


class Online(NamedTuple):
    """A running fake, the environment of a process that may talk only to it, and its ~/.trussrc."""

    fake: FakeBaseten
    env: dict[str, str]
    trussrc: Path


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name not in env:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, work: Path) -> Iterator[Online]:
    """FakeBaseten with KEY, a ~/.trussrc for it in tmp, and this process's environment set as a new one would be."""
    remote_factory = pytest.importorskip("truss.remote.remote_factory")
    with FakeBaseten(api_key=KEY) as fake:
        env = truss_env(tmp_path / "home", fake.url, api_key=KEY)
        env.update({"TRUSS_INSTANCE_REST_URL": fake.url, "SOURCE_DATE_EPOCH": DATE_EPOCH})
        _apply(monkeypatch, env)
        trussrc = Path(env["USER_TRUSSRC_PATH"])
        monkeypatch.setattr(remote_factory, "USER_TRUSSRC_PATH", trussrc)  # what truss read at import in a new process
        yield Online(fake, env, trussrc)


def _fetch(run: Run, *extra: str) -> tuple[int, str, str]:
    return run("catalog", "fetch", "-o", SNAP, *extra)


def _snapshot(run: Run) -> dict[str, Any]:
    code, out, err = _fetch(run)
    assert (code, err) == (0, ""), out + err
    doc: dict[str, Any] = json.loads(Path(SNAP).read_text())
    return doc


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["types"]}


# -- catalog fetch --------------------------------------------------------------------------------------------------


def test_fetch_writes_a_deterministic_snapshot(online: Online, run: Run) -> None:
    code, out, err = _fetch(run)
    data = Path(SNAP).read_bytes()
    doc = json.loads(data)
    short = doc["sha256"][:19]
    assert (code, err) == (0, "")
    assert out.splitlines() == [MI300X, f"wrote {SNAP}: 8 types from {online.fake.url} as of {AS_OF}, {short}"]
    assert data == (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()  # sorted, LF, final newline
    assert set(doc) == {"generator", "snapshot_version", "source", "as_of", "sha256", "types", "unmapped"}
    assert (doc["source"], doc["as_of"], doc["snapshot_version"]) == (online.fake.url, AS_OF, 1)
    assert [r["name"] for r in doc["types"]] == ["1x2", "4x16", "A10Gx4x16", "A10Gx8x32", "H100MIG", "H200", "H200:2x8x128x1600", "L4:4x16"]
    assert _by_name(doc)["A10Gx4x16"] == {
        "accelerator": "A10G", "default": False, "display_name": "A10Gx4x16", "gpu_count": 1, "gpu_memory_mib": 23028,
        "gpu_type": "A10G", "id": "it-A10Gx4x16", "limited_capacity": False, "memory_limit_mib": 15360,
        "millicpu_limit": 4000, "name": "A10Gx4x16", "node_count": 1, "price_usd_per_min": "0.02012",
    }  # fmt: skip
    assert doc["unmapped"] == [
        {"gpu_count": 8, "gpu_type": "MI300X", "name": "MI300X:8", "reason": MI300X.split("not usable: ")[1].split(" (kept")[0]}
    ]
    snap = read_snapshot(SNAP)
    assert doc["sha256"] == content_hash(snap.types)
    assert online.fake.operations() == ["listed_instances"]
    assert online.fake.requests[0]["authorization"] == f"Api-Key {KEY}"  # truss's header for a ~/.trussrc remote
    assert KEY not in data.decode() and "SECRET" not in out + err

    before = os.stat(SNAP).st_mtime_ns
    time.sleep(0.01)
    assert _fetch(run)[1].splitlines()[-1] == f"unchanged {SNAP}: 8 types from {online.fake.url} as of {AS_OF}, {short}"
    assert os.stat(SNAP).st_mtime_ns == before and Path(SNAP).read_bytes() == data


def test_fetch_keeps_prices_exact_and_maps_every_field(online: Online, run: Run) -> None:
    doc = _snapshot(run)
    records = _by_name(doc)
    # 0.0625000000000000000001 is 0.0625 as a float: the price went through Decimal only
    assert records["H100MIG"]["price_usd_per_min"] == "0.0625000000000000000001"
    assert float(records["H100MIG"]["price_usd_per_min"]) == 0.0625
    assert records["A10Gx8x32"]["price_usd_per_min"] == "0.02500"  # 0.02424 in the embedded catalog
    assert (records["H100MIG"]["gpu_type"], records["H100MIG"]["accelerator"]) == ("H100MIG", "H100_40GB")
    assert (records["L4:4x16"]["gpu_type"], records["L4:4x16"]["accelerator"]) == ("nvidia-l4", "L4")
    assert (records["H200"]["limited_capacity"], records["H200:2x8x128x1600"]["node_count"]) == (True, 2)
    assert (records["1x2"]["default"], records["1x2"]["display_name"]) == (True, "1x2 · 1 vCPU · 2 GiB")
    types = {t.name: t for t in read_snapshot(SNAP).types}
    assert types["A10Gx4x16"].memory_bytes == 15360 * MiB == 15 * GiB == 16106127360  # memory_limit is MiB
    assert types["4x16"].millicores == 3900 and types["4x16"].memory_bytes == 15500 * MiB
    assert types["H200:2x8x128x1600"][1:] == (127900, 1600 * GiB, "H200", 8, 141, Decimal("2.00000"), False, 2, False)
    assert types["H200"].limited_capacity and types["A10Gx4x16"].vram_gib == 22  # 23028 MiB, to the nearest GiB


def test_fetch_to_stdout_and_with_the_env_remote(online: Online, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    online.trussrc.unlink()
    monkeypatch.setenv("BASETEN_TRUSS_AUTH_REMOTE_URL", online.fake.url)
    monkeypatch.setenv("BASETEN_TRUSS_AUTH_API_KEY", KEY)
    code, out, err = run("catalog", "fetch")
    assert code == 0
    assert json.loads(out)["types"][0]["name"] == "1x2"
    assert err.splitlines()[-1].startswith(f"truss-instance: 8 types from {online.fake.url} as of {AS_OF}, sha256:")
    assert online.fake.requests[0]["authorization"] == f"Bearer {KEY}"  # truss sends env credentials as Bearer
    assert not Path(SNAP).exists()


def test_snapshot_bytes_depend_only_on_the_catalog_and_the_date(online: Online, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    first = (_snapshot(run), Path(SNAP).read_bytes())
    online.fake.listed_instances = list(reversed(LISTED_INSTANCES))  # another order from the API
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(DATE_EPOCH) + 86400))
    second = (_snapshot(run), Path(SNAP).read_bytes())
    assert second[1] == first[1].replace(f'"as_of": "{AS_OF}"'.encode(), b'"as_of": "2026-09-22"')


# -- the mapping, on its own ----------------------------------------------------------------------------------------


@given(
    st.sampled_from(TRUSS_ACCELERATORS),
    st.sampled_from(["", "NVIDIA ", "nvidia-", "Nvidia_"]),
    st.lists(st.sampled_from(["-", "_", " ", ""]), min_size=12, max_size=12),
    st.booleans(),
)
def test_every_spelling_of_a_truss_accelerator_maps_to_it(acc: str, prefix: str, seps: list[str], lower: bool) -> None:
    letters = [c for c in acc if c != "_"]
    spelled = prefix + "".join(c + seps[i % len(seps)] for i, c in enumerate(letters))
    assert accelerator_for(spelled.lower() if lower else spelled) == acc


@pytest.mark.parametrize(
    ("spelled", "accelerator"),
    [("H100MIG", "H100_40GB"), ("h100-mig", "H100_40GB"), ("H100_80GB", "H100"), ("A100-80GB", "A100"),
     ("RTX PRO 6000", "RTX_PRO_6000"), ("MI300X", None), ("TPUv5", None), ("A10", None), ("H1000", None)],
)  # fmt: skip
def test_gpu_type_spellings(spelled: str, accelerator: str | None) -> None:
    assert accelerator_for(spelled) == accelerator


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {**LISTED_INSTANCES[2], "price": Decimal("0.02012")}
    row.update(over)
    return row


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"price": None}, "Baseten lists no price for it"),
        ({"price": Decimal("-1")}, "price Decimal('-1') is not a number ≥ 0"),
        ({"price": "0.1"}, "price '0.1' is not a number ≥ 0"),
        ({"gpu_type": None}, "accelerator None and gpu_count 1 disagree"),
        ({"gpu_type": "A10G", "gpu_count": 0}, "accelerator 'A10G' and gpu_count 0 disagree"),
        ({"gpu_type": 7}, "gpu_type 7 is not a string"),
        ({"memory_limit": Decimal("15360.5")}, "memory_limit_mib must be an integer ≥ 1, not Decimal('15360.5')"),
        ({"millicpu_limit": 0}, "millicpu_limit must be an integer ≥ 1, not 0"),
        ({"node_count": None}, "node_count must be an integer ≥ 1, not None"),
    ],
)
def test_rows_that_cannot_be_used_are_reported_with_why(over: dict[str, object], reason: str) -> None:
    records, unmapped = map_listed([_row(**over)])
    assert records == []
    assert [u["reason"] for u in unmapped] == [reason]


def test_a_type_listed_twice_is_reported_once() -> None:
    records, unmapped = map_listed([_row(), _row(price=Decimal("9"))])
    assert [r["price_usd_per_min"] for r in records] == ["0.02012"]
    assert unmapped == [{"name": "A10Gx4x16", "gpu_type": "A10G", "gpu_count": 1, "reason": "listed twice"}]


@given(
    st.lists(
        st.tuples(st.integers(1, 10**6), st.integers(1, 10**7), st.decimals(min_value=0, max_value=10, allow_nan=False, places=25)),
        min_size=1,
        max_size=6,
    )
)
def test_snapshot_round_trip_is_exact(rows: list[tuple[int, int, Decimal]]) -> None:
    listed = [_row(name=f"t{i}", millicpu_limit=m, memory_limit=mib, price=p) for i, (m, mib, p) in enumerate(rows)]
    records, unmapped = map_listed(listed)
    snap = make_snapshot("https://app.baseten.co", AS_OF, records, unmapped)
    data = render_snapshot(snap)
    assert b"e-" not in data.lower() and b"e+" not in data.lower()  # no exponent notation: plain decimal strings
    back = make_snapshot("https://app.baseten.co", AS_OF, json.loads(data)["types"], [])
    assert back.types == snap.types
    assert [t.price_per_min for t in back.types] == [p for _, _, p in rows]  # Decimal equality: the very same number
    assert [t.memory_bytes for t in back.types] == [mib * MiB for _, mib, _ in rows]
    assert type_from_record(records[0]).millicores == rows[0][0]


def test_stale_after_90_days() -> None:
    from truss_instance_plugin.catalog import make_catalog

    catalog = make_catalog((), "baseten-snapshot", SNAP, "2026-06-23")
    assert stale_snapshot(catalog, "2026-09-21") == []  # 90 days
    (info,) = stale_snapshot(catalog, "2026-09-22")
    assert info.as_json() == {
        "code": "TI106", "severity": "info", "line": 0, "col": 0, "file": SNAP,
        "message": "the catalog snapshot was fetched 91 days ago (2026-06-23): prices and limits may have changed",
        "hint": f"run `truss-instance catalog fetch -o {SNAP}` and commit it",
    }  # fmt: skip
    assert stale_snapshot(make_catalog(()), "2099-01-01") == []  # the embedded catalog is not a snapshot


def test_an_old_snapshot_is_an_info_finding(online: Online, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    fetched = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=100)
    noon = datetime.datetime.combine(fetched, datetime.time(12), datetime.UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(noon.timestamp())))
    _snapshot(run)
    code, out, _ = run("check", "models/sdxl", "--no-lock", "--catalog", SNAP, "--format", "parsable")
    assert (code, out) == (
        0,
        f"{SNAP}: [info] TI106 the catalog snapshot was fetched 100 days ago ({fetched}): prices and limits may have changed\n",
    )


# -- using a snapshot -----------------------------------------------------------------------------------------------


def test_a_snapshot_changes_the_resolution_and_never_silently(online: Online, run: Run, tmp_path: Path) -> None:
    copy_sdxl(tmp_path / "locked", with_lock=True)  # locked with the embedded catalog: A10Gx4x16
    _snapshot(run)
    code, out, _ = run("explain", "locked", "--catalog", SNAP)
    assert code == 0
    assert out.splitlines()[0] == "locked/config.yaml: A10Gx8x32  $0.02500/min  $1.50/h  $1,095/month  (1× A10G 22 GiB, 8 vCPU, 31 GiB)"
    assert "  step down: A10Gx4x16 −$0.29/h (−20%) if memory ≤ 15 GiB (the request is just past it)" in out.splitlines()
    assert run("check", "locked", "--catalog", SNAP)[:2] == (
        1,
        "locked/config.yaml:3:1: error TI103 locked instance type A10Gx4x16 no longer fits the request: it has 15 GiB < 16 GiB requested\n"
        "  run `truss-instance lock --upgrade locked` to re-resolve\n"
        "1 model: 1 error\n",
    )
    assert run("check", "locked")[0] == 0  # the embedded catalog still says A10Gx4x16
    assert run("lock", "locked", "--catalog", SNAP)[0] == 1  # TI103: not re-picked without --upgrade
    code, out, _ = run("lock", "--upgrade", "locked", "--catalog", SNAP)
    assert (code, out) == (0, "wrote locked/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02500/min  +$0.29/h (+$214/month)\n")
    lock = yaml.safe_load((tmp_path / "locked" / "truss-instance.lock").read_text())
    sha = json.loads(Path(SNAP).read_text())["sha256"]
    assert lock["catalog"] == {"name": "baseten-snapshot", "as_of": AS_OF, "sha256": sha}
    assert run("check", "locked", "--catalog", SNAP)[:2] == (0, "")
    code, out, _ = run("check", "locked")  # back on the embedded catalog: kept, the cheaper type only reported
    assert (code, out.splitlines()[0]) == (
        0,
        "locked/config.yaml:3:1: info TI102 A10Gx4x16 is now cheaper than the locked A10Gx8x32 (−$0.25/h)",
    )


def test_catalog_lists_the_snapshot_in_use(online: Online, run: Run) -> None:
    _snapshot(run)
    code, out, _ = run("catalog", "--catalog", SNAP, "--accelerator", "H200")
    assert code == 0
    assert out.splitlines()[1:] == [
        "H200               1× H200 141 GiB     16   200 GiB  0.12500    7.50  limited capacity",
        "H200:2x8x128x1600  8× H200 141 GiB  127.9  1600 GiB  2.00000  120.00  2 nodes",
        f"2 of 8 types · baseten-snapshot as of {AS_OF} · {SNAP} · {json.loads(Path(SNAP).read_text())['sha256'][:19]}",
    ]
    doc = json.loads(run("catalog", "--catalog", SNAP, "--format", "json")[1])
    assert (doc["name"], doc["source"], doc["as_of"], len(doc["types"])) == ("baseten-snapshot", SNAP, AS_OF, 8)
    assert run("catalog")[1].splitlines()[-1].split(" · ")[1] == "baseten-embedded as of 2026-09-19"


def test_multi_node_and_limited_capacity_types_from_the_snapshot(online: Online, run: Run) -> None:
    _snapshot(run)
    doc = json.loads(run("explain", "--accelerator", "H200:8", "--node-count", "2", "--format", "json", "--catalog", SNAP)[1])
    assert (doc["chosen"]["name"], doc["nodes"], doc["diagnostics"]) == ("H200:2x8x128x1600", 1, [])
    assert doc["cost"]["usd_per_hour"] == "120.00000"
    embedded = json.loads(run("explain", "--accelerator", "H200:8", "--node-count", "2", "--format", "json")[1])
    assert [d["code"] for d in embedded["diagnostics"]] == ["TI023", "TI024"]  # 2 × H200:8, priced per node
    doc = json.loads(run("explain", "--accelerator", "H200", "--format", "json", "--catalog", SNAP)[1])
    assert doc["chosen"]["limited_capacity"] is True
    assert [(d["code"], d["severity"], d["message"]) for d in doc["diagnostics"]] == [("TI027", "warning", "H200 has limited capacity")]


def test_a_plugin_s_types_merge_over_the_snapshot(online: Online, run: Run) -> None:
    from truss_instance_plugin.catalog import InstanceType
    from truss_instance_plugin.hookspecs import hookimpl
    from truss_instance_plugin.testing import register_plugin

    @hookimpl
    def truss_instance_catalog_entries() -> list[InstanceType]:
        return [InstanceType("ORG:A10Gx4x16", 4000, 16 * GiB, "A10G", 1, 24, Decimal("0.03"))]

    _snapshot(run)
    with register_plugin(truss_instance_catalog_entries):
        doc = json.loads(run("catalog", "--catalog", SNAP, "--format", "json")[1])
        explained = json.loads(run("explain", "models/sdxl", "--catalog", SNAP, "--format", "json")[1])
    names = [t["name"] for t in doc["types"]]
    assert (doc["name"], len(names), "ORG:A10Gx4x16" in names, "A10Gx16x64" in names) == ("baseten-snapshot", 9, True, False)
    assert [c["name"] for c in explained["candidates"]] == ["A10Gx8x32", "ORG:A10Gx4x16"]  # snapshot types + the plugin's


def test_pyproject_names_the_snapshot_relative_to_itself(online: Online, run: Run, tmp_path: Path) -> None:
    (tmp_path / "catalogs").mkdir()
    _fetch(run, "--remote", "fake")
    os.replace(SNAP, tmp_path / "catalogs" / SNAP)
    (tmp_path / "pyproject.toml").write_text(f'[tool.truss-instance]\ncatalog = "catalogs/{SNAP}"\n')
    copy_sdxl(tmp_path / "locked", with_lock=True)
    os.chdir(tmp_path / "models")  # below the pyproject: the path is still relative to it
    code, out, _ = run("check", "../locked")
    assert (code, out.splitlines()[0]) == (
        1, "../locked/config.yaml:3:1: error TI103 locked instance type A10Gx4x16 no longer fits the request: "
        "it has 15 GiB < 16 GiB requested",
    )  # fmt: skip
    shown = tmp_path / "catalogs" / SNAP  # outside the working directory: shown in full
    assert run("catalog")[1].splitlines()[-1].startswith(f"8 of 8 types · baseten-snapshot as of {AS_OF} · {shown} · ")
    assert run("check", "../locked", "--catalog", str(REPO / "nowhere.json"))[0] == 2  # --catalog wins over the table
    (tmp_path / "pyproject.toml").write_text('[tool.truss-instance]\ncatalog = "missing.json"\n')
    code, _, err = run("check", "../locked")
    assert (code, err) == (
        2,
        f"truss-instance: {tmp_path}/missing.json: cannot read the catalog snapshot: No such file or directory; run `truss-instance "
        f"catalog fetch -o {tmp_path}/missing.json` to fetch it again (named by `catalog` in {tmp_path}/pyproject.toml)\n",
    )
    (tmp_path / "pyproject.toml").write_text("[tool.truss-instance]\ncatalog = 5\n")
    assert run("check", "../locked")[2] == (
        f"truss-instance: {tmp_path}/pyproject.toml: [tool.truss-instance] catalog must be a catalog snapshot path, "
        'like "baseten-catalog.json"; got 5\n'
    )


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t.replace('"0.02012"', '"0.01"'), "cannot be used as a catalog snapshot: sha256 does not match its types "
         "(hand-edited?)"),
        (lambda t: t.replace('"0.02012"', "0.02012"), "cannot be used as a catalog snapshot: type 'A10Gx4x16': price_usd_per_min must "
         "be a decimal string like \"0.02012\", not Decimal('0.02012')"),
        (lambda t: t.replace('"snapshot_version": 1', '"snapshot_version": 2'), "cannot be used as a catalog snapshot: snapshot_version 2 "
         "is newer than this truss-instance understands (1); upgrade it"),
        (lambda t: t.replace(f'"as_of": "{AS_OF}"', '"as_of": "2026-02-30"'), "cannot be used as a catalog snapshot: as_of must be a "
         "date like 2026-09-19, not '2026-02-30'"),
        (lambda t: t.replace('"unmapped"', '"extra": 1, "unmapped"'), "cannot be used as a catalog snapshot: unknown keys ['extra']"),
        (lambda t: t[:200], "not valid JSON"),
        (lambda t: "\udcff", "not UTF-8, not a catalog snapshot"),
    ],
)  # fmt: skip
def test_a_snapshot_that_cannot_be_used_is_exit_2(online: Online, run: Run, edit: Any, problem: str) -> None:
    text = json.dumps(_snapshot(run), indent=2, sort_keys=True)
    Path(SNAP).write_bytes(edit(text).encode("utf-8", "surrogateescape"))
    code, out, err = run("check", "models/sdxl", "--catalog", SNAP)
    assert (code, out) == (2, "")
    assert err.startswith(f"truss-instance: {SNAP}") and problem in err
    assert err.endswith(f"; run `truss-instance catalog fetch -o {SNAP}` to fetch it again\n")


# -- adopt --from-baseten -------------------------------------------------------------------------------------------


def _record(root: Path) -> dict[str, Any]:
    lock = yaml.safe_load((root / "truss-instance.lock").read_text())
    return {k: lock["deployment"][k] for k in ("instance_type", "model_id", "deployment_id", "environment", "source", "model_name")}


def test_adopt_records_what_baseten_runs(online: Online, run: Run, work: Path) -> None:
    fake = online.fake
    fake.add_deployment("sdxl", "A10Gx4x16")
    model_id, prod = fake.add_deployment("sdxl", "A10Gx8x32")  # promoted: the first one left production
    assert run("lock", "models/sdxl")[0] == 0
    code, out, err = run("adopt", "models/sdxl", "--from-baseten")
    first = FIRST_DEPLOYMENT.format(instance="A10Gx8x32")
    assert (code, out, err) == (0, f"recorded deployment of sdxl (A10Gx8x32) in models/sdxl/truss-instance.lock\n{first}\n", "")
    assert _record(work / "models" / "sdxl") == {
        "instance_type": "A10Gx8x32", "model_id": model_id, "deployment_id": prod, "environment": "production",
        "source": "baseten", "model_name": "sdxl",
    }  # fmt: skip
    assert [(r["operation"], r["path"]) for r in fake.requests] == [
        ("rest_models", "/v1/models"), ("rest_deployment", f"/v1/models/{model_id}/deployments/production")
    ]  # fmt: skip
    assert {r["authorization"] for r in fake.requests} == {f"Api-Key {KEY}"}


def test_adopt_an_environment_a_deployment_or_by_model_id(online: Online, run: Run, work: Path) -> None:
    fake = online.fake
    model_id, staging = fake.add_deployment("sdxl", "L4:4x16", environment="staging")
    _, dev = fake.add_deployment("sdxl", "A10Gx4x16", environment=None, development=True)
    folder = work / "models" / "sdxl"
    assert run("adopt", "models/sdxl", "--from-baseten", "--environment", "staging")[0] == 0
    assert _record(folder) == {
        "instance_type": "L4:4x16", "model_id": model_id, "deployment_id": staging, "environment": "staging",
        "source": "baseten", "model_name": "sdxl",
    }  # fmt: skip
    assert fake.requests[-1]["path"] == f"/v1/models/{model_id}/environments/staging"
    assert run("adopt", "models/sdxl", "--from-baseten", "--deployment-id", dev, "--model", "other", "--model-id", model_id)[0] == 0
    assert _record(folder) == {
        "instance_type": "A10Gx4x16", "model_id": model_id, "deployment_id": dev, "environment": None,
        "source": "baseten", "model_name": "other",
    }  # fmt: skip
    assert run("adopt", "models/sdxl", "--from-baseten", "--environment", "development")[0] == 0
    assert _record(folder)["deployment_id"] == dev and _record(folder)["environment"] == "development"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "truss-instance: model 'sdxl' ({mid}) has no production deployment on remote 'fake'"),
        (("--environment", "staging"), "truss-instance: model 'sdxl' ({mid}) has no staging environment on remote 'fake'"),
        (("--deployment-id", "gone"), "truss-instance: model 'sdxl' ({mid}) has no deployment gone on remote 'fake'"),
        (("--model", "nope"), "truss-instance: remote 'fake' has no model with name 'nope'; pass --model NAME or --model-id ID"),
        (("--model-id", "x1"), "truss-instance: remote 'fake' has no model with id x1; pass --model NAME or --model-id ID"),
        (("--instance", "4x16"), "truss-instance: --instance-type and --from-baseten exclude each other: Baseten says which type runs"),
        (("--environment", "a", "--deployment-id", "b"), "truss-instance: argument --deployment-id: not allowed with argument "
         "--environment (see truss-instance adopt --help)"),
    ],
)  # fmt: skip
def test_adopt_from_baseten_failures_write_nothing(online: Online, run: Run, work: Path, argv: tuple[str, ...], message: str) -> None:
    mid, _ = online.fake.add_deployment("sdxl", "A10Gx4x16", environment=None)
    code, out, err = run("adopt", "models/sdxl", "--from-baseten", *argv)
    assert (code, out, err) == (2, "", message.format(mid=mid) + "\n")
    assert not (work / "models" / "sdxl" / "truss-instance.lock").exists()


# -- check --online -------------------------------------------------------------------------------------------------


def _two_models(online: Online, run: Run, work: Path) -> tuple[str, str]:
    """models/sdxl on production and models/cpu on a staging environment, both adopted from Baseten."""
    cpu = work / "models" / "cpu"
    (cpu / "model").mkdir(parents=True)
    (cpu / "config.yaml").write_text('model_name: cpu\nresources:\n  cpu: "1"\n  memory: 2Gi\n')
    _, prod = online.fake.add_deployment("sdxl", "A10Gx4x16")
    _, staging = online.fake.add_deployment("cpu", "1x2", environment="staging")
    assert run("adopt", "models/sdxl", "--from-baseten")[0] == 0
    assert run("adopt", "models/cpu", "--from-baseten", "--environment", "staging")[0] == 0
    online.fake.requests.clear()
    return prod, staging


def test_check_online_warns_when_the_dashboard_changed_a_type(online: Online, run: Run, work: Path) -> None:
    prod, staging = _two_models(online, run, work)
    assert run("check", "models", "--online")[:2] == (0, "")
    assert [r["operation"] for r in online.fake.requests] == ["rest_models", "rest_environment"]  # production came with the list
    online.fake.set_instance_type(prod, "A10Gx16x64")
    online.fake.set_instance_type(staging, "1x4")
    online.fake.requests.clear()
    code, out, err = run("check", "models", "--online")
    lock = "models/{}/truss-instance.lock:10:18"
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{lock.format('cpu')}: warning TI111 changed outside this repo (dashboard?): lock says 1x2, Baseten runs 1x4 "
        "(staging environment of cpu)",
        "  run `truss-instance adopt --from-baseten models/cpu --environment staging` to record it",
        f"{lock.format('sdxl')}: warning TI111 changed outside this repo (dashboard?): lock says A10Gx4x16, Baseten runs A10Gx16x64 "
        "(production deployment of sdxl)",
        "  run `truss-instance adopt --from-baseten models/sdxl` to record it",
        "2 models: 2 warnings",
    ]
    assert [r["operation"] for r in online.fake.requests] == ["rest_models", "rest_environment"]  # one pass, no more
    assert run("check", "models", "--online", "--strict")[0] == 1
    assert run("adopt", "models/sdxl", "--from-baseten")[0] == 0
    assert "models/sdxl" not in run("check", "models", "--online")[1]


def test_check_online_warns_when_a_deployment_is_gone(online: Online, run: Run, work: Path) -> None:
    _, staging = _two_models(online, run, work)
    online.fake.delete_deployment(staging)
    online.fake.delete_model("sdxl")
    code, out, _ = run("check", "models", "--online", "--format", "parsable")
    model_id = yaml.safe_load((work / "models/sdxl/truss-instance.lock").read_text())["deployment"]["model_id"]
    assert (code, out.splitlines()) == (0, [
        "models/cpu/truss-instance.lock:10:18: [warning] TI112 staging environment of cpu (fakemodel2) is gone from remote 'fake' "
        "(deleted?)",
        f"models/sdxl/truss-instance.lock:10:18: [warning] TI112 model sdxl ({model_id}) is gone from remote 'fake' (deleted?)",
    ])  # fmt: skip


def test_check_online_with_a_pushed_deployment_id(online: Online, run: Run, work: Path) -> None:
    _, dep = online.fake.add_deployment("sdxl", "A10Gx4x16", environment=None)
    assert run("adopt", "models/sdxl", "--from-baseten", "--deployment-id", dep)[0] == 0
    assert run("check", "models/sdxl", "--online")[:2] == (0, "")
    online.fake.delete_deployment(dep)
    out = run("check", "models/sdxl", "--online")[1]
    assert out.splitlines()[0].endswith(f"warning TI112 deployment {dep} of sdxl (fakemodel1) is gone from remote 'fake' (deleted?)")


def test_nothing_online_without_the_flag_or_a_record(online: Online, run: Run, work: Path) -> None:
    online.fake.add_deployment("sdxl", "A10Gx4x16")
    assert run("lock", "models/sdxl")[0] == 0
    online.trussrc.unlink()  # no credentials at all: not needed when nothing is recorded
    assert run("check", "models/sdxl", "--online")[:2] == (0, "")
    assert run("adopt", "models/sdxl", "--instance", "A10Gx4x16")[0] == 0
    assert run("check", "models/sdxl")[:2] == (0, "")
    assert online.fake.requests == []


@pytest.mark.e2e
def test_the_check_path_imports_nothing_online_even_with_a_snapshot(online: Online, run: Run, work: Path) -> None:
    _snapshot(run)
    script = (
        "import sys; from truss_instance_plugin.cli import main\n"
        "code = main(['check', 'models/sdxl', '--no-lock', '--catalog', 'baseten-catalog.json'])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('truss', 'requests', 'urllib3', 'pydantic')"
        " or m.startswith('truss_instance_plugin.integrations.')))\n"
    )
    proc = _process([], online.env, work, script)
    assert (proc.stdout, proc.stderr) == ("0 []\n", "")


# -- failures: exit 2, a message that says what to do, nothing written, never the key -----------------------------


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _set_remote(online: Online, url: str, *, key: str = KEY, extra: str = "") -> None:
    online.trussrc.write_text(f"[fake]\nremote_provider = baseten\napi_key = {key}\nremote_url = {url}\n{extra}")


# name -> (what breaks, extra argv, the message after "truss-instance: ")
FAILURES: dict[str, tuple[Any, tuple[str, ...], str]] = {
    "no credentials": (
        lambda o, mp: o.trussrc.unlink(),
        (),
        "no Baseten credentials: {trussrc} has no remote and BASETEN_TRUSS_AUTH_REMOTE_URL and BASETEN_TRUSS_AUTH_API_KEY are not set; "
        "run `truss login`",
    ),
    "unknown remote": (lambda o, mp: None, ("--remote", "fakr"), "unknown remote 'fakr' (did you mean \"fake\"?); {trussrc} has fake"),
    "several remotes": (
        lambda o, mp: _set_remote(o, o.fake.url, extra="[other]\nremote_provider = baseten\napi_key = k\nremote_url = https://x\n"),
        (),
        "{trussrc} has several remotes (fake, other); pass --remote NAME, as for `truss push`",
    ),
    "half the env pair": (
        lambda o, mp: mp.setenv("BASETEN_TRUSS_AUTH_API_KEY", KEY),
        (),
        "no usable Baseten credentials: BASETEN_TRUSS_AUTH_API_KEY is set but BASETEN_TRUSS_AUTH_REMOTE_URL is not; set both or neither.",
    ),
    "401": (
        lambda o, mp: setattr(o.fake, "api_key", "another-key"),
        (),
        "GraphQL listed_instances: Baseten refused the credentials of remote 'fake' (HTTP 401); run `truss login`, or fix api_key of "
        "remote 'fake'",
    ),
    "403": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(403, b'{"message": "forbidden for ' + KEY.encode() + b'"}')),
        (),
        "GraphQL listed_instances: Baseten refused the credentials of remote 'fake' (HTTP 403: forbidden for ***); run `truss login`, "
        "or fix api_key of remote 'fake'",
    ),
    "404": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(404, b"<html>no</html>")),
        (),
        "GraphQL listed_instances: not found (HTTP 404); check remote_url of remote 'fake'",
    ),
    "5xx": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(503, b'{"message": "upstream unavailable"}')),
        (),
        "GraphQL listed_instances: Baseten failed (HTTP 503: upstream unavailable) at {url}; try again later",
    ),
    "malformed JSON": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(200, b'{"data": {"listed_instances": [')),
        (),
        "GraphQL listed_instances: malformed JSON from {url} (Expecting value at line 1 column 32)",
    ),
    "not a catalog": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(200, b'{"data": {"listed_instances": {}}}')),
        (),
        "catalog fetch: the catalog of remote 'fake' cannot be used: listed_instances is not a list",
    ),
    "NaN": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(200, b'{"data": {"listed_instances": [{"price": NaN}]}}')),
        (),
        "GraphQL listed_instances: malformed JSON from {url} (NaN is not a JSON number)",
    ),
    "GraphQL error": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(200, b'{"errors": [{"message": "no such field"}]}')),
        (),
        "GraphQL listed_instances: Baseten answered an error: no such field",
    ),
    "GraphQL error that forges lines": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(200, b'{"errors": [{"message": "no\\r\\n::warning::forged"}]}')),
        (),
        "GraphQL listed_instances: Baseten answered an error: no\\r\\n::warning::forged",
    ),
    "5xx that forges lines": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(503, b'{"message": "down\\n::error file=x::forged\\u001b[31m\\u202e"}')),
        (),
        "GraphQL listed_instances: Baseten failed (HTTP 503: down\\n::error file=x::forged\\x1b[31m\\u202e) at {url}; try again later",
    ),
    "cut short": (
        lambda o, mp: o.fake.faults.update(listed_instances=Fault(200, b'{"data": {"listed_instances": [{"name": "1x2"', truncate=True)),
        (),
        "GraphQL listed_instances: the exchange with {url} broke off (ChunkedEncodingError)",
    ),
    "timeout": (
        lambda o, mp: (o.fake.faults.update(listed_instances=Fault(200, b"{}", delay=1.0)), mp.setenv("TRUSS_INSTANCE_TIMEOUT", "0.2")),
        (),
        "GraphQL listed_instances: no answer from {url} within 0.2 s; try again, or allow more with --timeout SECONDS or "
        "TRUSS_INSTANCE_TIMEOUT",
    ),
    "connection refused": (
        lambda o, mp: _set_remote(o, f"http://127.0.0.1:{_dead_port()}"),
        (),
        "GraphQL listed_instances: cannot connect to {url}: connection refused; check remote_url of remote 'fake'",
    ),
    "connection refused, deadline near": (
        lambda o, mp: (_set_remote(o, f"http://127.0.0.1:{_dead_port()}"), mp.setenv("TRUSS_INSTANCE_DEADLINE", "1")),
        (),
        "GraphQL listed_instances: cannot connect to {url}: connection refused; check remote_url of remote 'fake'",
    ),
    "bad deadline": (
        lambda o, mp: mp.setenv("TRUSS_INSTANCE_DEADLINE", "0"),
        (),
        "the deadline must be a number of seconds above 0 and at most 600, like 30; got '0' (--deadline or TRUSS_INSTANCE_DEADLINE)",
    ),
    "bad timeout": (
        lambda o, mp: mp.setenv("TRUSS_INSTANCE_TIMEOUT", "-1"),
        (),
        "the timeout must be a number of seconds above 0 and at most 600, like 5; got '-1' (--timeout or TRUSS_INSTANCE_TIMEOUT)",
    ),
    "bad REST URL": (
        lambda o, mp: mp.setenv("TRUSS_INSTANCE_REST_URL", "api.baseten.co"),
        (),
        "the REST API URL must be an http(s) URL like https://api.baseten.co; got 'api.baseten.co' (--rest-url or TRUSS_INSTANCE_REST_URL)",
    ),
}


@pytest.mark.parametrize("debug", ["", "1"], ids=["plain", "debug"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_fetch_failures(online: Online, run: Run, monkeypatch: pytest.MonkeyPatch, failure: str, debug: str) -> None:
    Path(SNAP).write_text("the previous snapshot\n")
    setup, argv, message = FAILURES[failure]
    setup(online, monkeypatch)
    monkeypatch.setenv("TRUSS_INSTANCE_DEBUG", debug)
    url = online.fake.url if "refused" not in failure else online.trussrc.read_text().split("remote_url = ")[1].split()[0]
    code, out, err = run("catalog", "fetch", "-o", SNAP, *argv)
    expected = "truss-instance: " + message.format(trussrc=online.trussrc, url=url)
    assert (code, out) == (2, "")
    if debug:
        assert err.startswith(expected.rstrip(".")) and err.endswith("\n")  # maybe with "[debug: ...]" before the end
    else:
        assert err == expected + "\n"
    assert KEY not in err and "SECRET" not in err and "0123456789abcdef" not in err
    assert Path(SNAP).read_text() == "the previous snapshot\n"  # nothing written when a fetch fails part-way
    assert [p.name for p in Path(".").iterdir() if p.name.startswith(".truss-instance")] == []


def test_rest_failures_name_the_call_and_hide_the_key(online: Online, run: Run, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mid, _ = online.fake.add_deployment("sdxl", "A10Gx4x16")
    online.fake.api_key = "another-key"  # 401 from the REST API, whose body quotes the header it got
    monkeypatch.setenv("TRUSS_INSTANCE_DEBUG", "1")
    code, _, err = run("adopt", "models/sdxl", "--from-baseten")
    assert (code, err) == (
        2,
        "truss-instance: GET /v1/models: Baseten refused the credentials of remote 'fake' (HTTP 401: invalid credentials: ***); "
        "run `truss login`, or fix api_key of remote 'fake'\n",
    )
    assert online.fake.requests[-1]["authorization"] == f"Api-Key {KEY}"
    online.fake.api_key = KEY
    online.fake.faults["rest_deployment"] = Fault(502, b"bad gateway")
    assert run("adopt", "models/sdxl", "--from-baseten")[2] == (
        f"truss-instance: GET /v1/models/{mid}/deployments/production: Baseten failed (HTTP 502) at {online.fake.url}; try again later\n"
    )
    online.fake.faults["rest_models"] = Fault(200, b'{"models": {}}')
    assert run("check", "models", "--online")[2] == ""  # nothing recorded yet: not asked
    assert run("adopt", "models/sdxl", "--instance", "A10Gx4x16", "--model-id", mid)[0] == 0
    assert run("check", "models", "--online")[:3] == (
        2, "", f"truss-instance: GET /v1/models: malformed answer from {online.fake.url} (no list of models with ids)\n"
    )  # fmt: skip
    assert KEY not in (work / "models" / "sdxl" / "truss-instance.lock").read_text()


def test_without_the_rest_override_truss_maps_loopback_to_production_which_is_unreachable(
    online: Online, run: Run, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUSS_INSTANCE_REST_URL")
    online.fake.add_deployment("sdxl", "A10Gx4x16")
    code, _, err = run("adopt", "models/sdxl", "--from-baseten", "--timeout", "2")
    assert (code, err) == (
        2,
        "truss-instance: GET /v1/models: cannot connect to https://api.baseten.co: connection refused (at the proxy in HTTPS_PROXY / "
        "HTTP_PROXY); "
        "check --rest-url or TRUSS_INSTANCE_REST_URL (default: truss's REST host for remote_url)\n",
    )
    assert online.fake.requests == []
    assert run("adopt", "models/sdxl", "--from-baseten", "--rest-url", online.fake.url)[0] == 0


# -- real processes: truss reads the temporary ~/.trussrc itself ----------------------------------------------------


def _process(argv: list[str], env: dict[str, str], cwd: Path, python: str = "") -> subprocess.CompletedProcess[str]:
    code = python or "from truss_instance_plugin.cli import run; run()"
    environ = {**env, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.e2e
def test_real_process_fetch_adopt_and_check_online(online: Online, work: Path) -> None:
    other = "sk-other.9876543210fedcbaSECRET"  # a second remote, whose key Baseten refuses
    _set_remote(online, online.fake.url, extra=f"[other]\nremote_provider = baseten\napi_key = {other}\nremote_url = {online.fake.url}\n")
    mid, _ = online.fake.add_deployment("sdxl", "A10Gx8x32")
    steps = [
        ["catalog", "fetch", "--remote", "fake", "-o", "snap.json"],
        ["lock", "models/sdxl", "--catalog", "snap.json"],
        ["adopt", "models/sdxl", "--instance", "A10Gx4x16", "--model-id", mid, "--catalog", "snap.json"],  # not what runs
        ["check", "models", "--online", "--remote", "fake", "--catalog", "snap.json", "--format", "parsable"],
        ["adopt", "models/sdxl", "--from-baseten", "--remote", "fake", "--catalog", "snap.json"],
        ["check", "models", "--online", "--remote", "fake", "--catalog", "snap.json"],
        ["catalog", "fetch", "--remote", "other", "-o", "other.json"],
    ]
    script = f"from truss_instance_plugin.cli import main\nfor argv in {steps!r}:\n    print('exit', main(argv), flush=True)\n"
    proc = _process([], {**online.env, "TRUSS_INSTANCE_DEBUG": "1"}, work, script)
    sha = json.loads((work / "snap.json").read_text())["sha256"][:19]
    lock = "models/sdxl/truss-instance.lock"
    assert proc.stdout.splitlines() == [
        MI300X, f"wrote snap.json: 8 types from {online.fake.url} as of {AS_OF}, {sha}", "exit 0",
        f"wrote {lock} (new): A10Gx8x32 $0.02500/min", "exit 0",
        f"recorded deployment of sdxl (A10Gx4x16) in {lock}", FIRST_DEPLOYMENT.format(instance="A10Gx4x16"), "exit 0",
        f"{lock}:10:18: [warning] TI111 changed outside this repo (dashboard?): lock says A10Gx4x16, Baseten runs A10Gx8x32 "
        "(production deployment of sdxl)", "exit 0",
        f"recorded deployment of sdxl (A10Gx8x32) in {lock}", "exit 0",
        "exit 0",
        "exit 2",
    ], proc.stderr  # fmt: skip
    assert proc.stderr == (
        "truss-instance: warning: A10Gx4x16 does not match the request in models/sdxl/config.yaml: it has 15 GiB < 16 GiB requested; "
        "recording it as given\n"  # the snapshot's A10Gx4x16 has 15 GiB
        "truss-instance: GraphQL listed_instances: Baseten refused the credentials of remote 'other' (HTTP 401); run `truss login`, "
        "or fix api_key of remote 'other'\n"
    )
    assert [r["authorization"] for r in online.fake.requests][-1] == "Api-Key ***".replace("***", other)
    written = [p.read_text() for p in (work / "models").rglob("*") if p.is_file()] + [(work / "snap.json").read_text()]
    for text in (proc.stdout, proc.stderr, *written):
        assert KEY not in text and other not in text and "SECRET" not in text
    assert not (work / "other.json").exists()


@pytest.mark.e2e
def test_without_truss_the_online_commands_say_how_to_get_it(online: Online, work: Path) -> None:
    blocked = "import sys; sys.modules['truss'] = None; from truss_instance_plugin.cli import run; run()"
    proc = _process(["catalog", "fetch"], online.env, work, blocked)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("truss-instance: talking to Baseten needs truss, which cannot be imported (")
    assert proc.stderr.endswith("); install truss, or truss-instance-plugin[truss]\n")
    assert _process(["check", "models", "--online"], online.env, work, blocked).returncode == 1  # no lock yet: TI100, nothing to ask


def test_the_fake_reports_pushed_deployments_like_baseten(online: Online) -> None:
    import urllib.request

    fake = online.fake
    fake._gql_create_model_from_truss('mutation { create_model_from_truss(name: "m", config: "") { id } }')
    fake._gql_create_model_version_from_truss('mutation { create_model_version_from_truss(model_id: "fakemodel1") { id } }')
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{fake.url}/v1/models", headers={"Authorization": f"Api-Key {KEY}"})
    with opener.open(request, timeout=5) as resp:
        (model,) = json.loads(resp.read())["models"]
    assert (model["id"], model["production_deployment_id"], model["instance_type_name"]) == ("fakemodel1", "fakedeployment1", "A10Gx4x16")
    assert fake.deployments["fakedeployment2"]["environment"] is None  # a plain push: published, not promoted


def test_the_new_codes_are_documented() -> None:
    from truss_instance_plugin.diagnostics import CODES

    readme = (REPO / "README.md").read_text()
    for code in ("TI027", "TI106", "TI111", "TI112"):
        assert code in CODES and f"| `{code}` |" in readme
    assert "## Online" in readme and "TRUSS_INSTANCE_REST_URL" in readme and "TRUSS_INSTANCE_TIMEOUT" in readme


# -- hostile servers: an overall deadline, bounded answers, plausible names ----------------------------------------

DEADLINE = "no complete answer from {url} within the overall deadline of 1 s; try again, or allow more with --deadline SECONDS or " \
    "TRUSS_INSTANCE_DEADLINE"  # fmt: skip


@pytest.mark.parametrize("headers", [False, True], ids=["trickled-body", "trickled-headers"])
def test_a_trickling_server_meets_the_overall_deadline(online: Online, run: Run, monkeypatch: pytest.MonkeyPatch, headers: bool) -> None:
    Path(SNAP).write_text("the previous snapshot\n")
    body = b'{"data": {"listed_instances": []}, "padding": "' + b"x" * 60 + b'"}'  # 5 s at a byte per 0.05 s: each read succeeds
    online.fake.faults["listed_instances"] = Fault(200, body, trickle=0.05, trickle_headers=headers)
    monkeypatch.setenv("TRUSS_INSTANCE_DEADLINE", "1")
    start = time.monotonic()
    code, out, err = _fetch(run, "--timeout", "0.5")
    assert (code, out, err) == (2, "", "truss-instance: GraphQL listed_instances: " + DEADLINE.format(url=online.fake.url) + "\n")
    assert time.monotonic() - start < 3
    assert Path(SNAP).read_text() == "the previous snapshot\n"


def test_adopt_and_check_online_meet_the_overall_deadline(online: Online, run: Run, work: Path) -> None:
    online.fake.add_deployment("sdxl", "A10Gx4x16")
    assert run("adopt", "models/sdxl", "--from-baseten")[0] == 0
    lock = (work / "models" / "sdxl" / "truss-instance.lock").read_bytes()
    online.fake.faults["rest_models"] = Fault(200, b'{"models": []}' + b" " * 100, trickle=0.05, trickle_headers=True)
    for argv in (("adopt", "models/sdxl", "--from-baseten"), ("check", "models/sdxl", "--online")):
        start = time.monotonic()
        assert run(*argv, "--deadline", "1") == (2, "", "truss-instance: GET /v1/models: " + DEADLINE.format(url=online.fake.url) + "\n")
        assert time.monotonic() - start < 3
    assert (work / "models" / "sdxl" / "truss-instance.lock").read_bytes() == lock


def test_each_request_gets_only_the_time_left(online: Online, run: Run, work: Path) -> None:
    _two_models(online, run, work)
    mid = online.fake.models["cpu"]
    listed = _dumps(online.fake._rest("/v1/models")[1]).encode()
    online.fake.faults["rest_models"] = Fault(200, listed, delay=0.6)  # each answer well within --timeout, together not
    online.fake.faults["rest_environment"] = Fault(200, b"{}", delay=0.6)
    code, out, err = run("check", "models", "--online", "--deadline", "1")
    where = f"GET /v1/models/{mid}/environments/staging"
    assert (code, out, err) == (2, "", f"truss-instance: {where}: " + DEADLINE.format(url=online.fake.url) + "\n")


def _listed(*rows: bytes) -> bytes:
    return b'{"data": {"listed_instances": [' + b", ".join(rows) + b"]}}"


ROW = b'{"name": "%s", "millicpu_limit": 1000, "memory_limit": 2048, "gpu_count": 0, "node_count": 1, "price": %s}'
RANGE = "is out of range: at most 40 characters, exponents within ±40"
# name -> (the answer to listed_instances, the message after "truss-instance: ")
HOSTILE_ANSWERS: dict[str, tuple[bytes, str]] = {
    "huge exponent": (
        _listed(ROW % (b"1x2", b"1e999999999")),
        f"GraphQL listed_instances: malformed JSON from {{url}} (the number 1e999999999 {RANGE})",
    ),
    "decimal overflow": (
        _listed(ROW % (b"1x2", b"0.1e1000000")),
        f"GraphQL listed_instances: malformed JSON from {{url}} (the number 0.1e1000000 {RANGE})",
    ),
    "5,000 digits": (
        _listed(ROW % (b"1x2", b"1" * 5000)),
        f"GraphQL listed_instances: malformed JSON from {{url}} (the number 11111111111111111111…111111111111 (5000 characters) {RANGE})",
    ),
    "100,000 nested": (
        b'{"data": {"listed_instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        "GraphQL listed_instances: malformed JSON from {url} (arrays and objects nested deeper than 32)",
    ),
    "100,000 unclosed": (b"[" * 100_000, "GraphQL listed_instances: malformed JSON from {url} (arrays and objects nested deeper than 32)"),
    "8 MiB and more": (
        _listed(b'"' + b"x" * (8 << 20) + b'"'),
        "GraphQL listed_instances: the answer from {url} is larger than 8 MiB",
    ),
    "20,000 types": (
        _listed(*(ROW % (b"t%d" % i, b"0.001") for i in range(20_000))),
        "catalog fetch: the catalog of remote 'fake' cannot be used: it lists 20000 instance types; at most 5000 can be used",
    ),
    "a snapshot too large to read": (
        _listed(*(ROW[:-1] % (b"t%d" % i, b"0.001") + b', "display_name": "' + b"x" * 1900 + b'"}' for i in range(4000))),
        "catalog fetch: the catalog of remote 'fake' cannot be used: its snapshot would be larger than the 8 MiB a snapshot may have",
    ),
}


@pytest.mark.parametrize("answer", list(HOSTILE_ANSWERS))
def test_hostile_numbers_depths_and_sizes_are_refused_in_one_line(online: Online, run: Run, answer: str) -> None:
    Path(SNAP).write_text("the previous snapshot\n")
    body, message = HOSTILE_ANSWERS[answer]
    online.fake.faults["listed_instances"] = Fault(200, body)
    start = time.monotonic()
    assert _fetch(run) == (2, "", "truss-instance: " + message.format(url=online.fake.url) + "\n")
    assert time.monotonic() - start < 5
    assert Path(SNAP).read_text() == "the previous snapshot\n"


def test_the_largest_catalog_that_can_be_used_is_written(online: Online, run: Run) -> None:
    online.fake.faults["listed_instances"] = Fault(200, _listed(*(ROW % (b"t%d" % i, b"1e-40") for i in range(5000))))
    code, out, err = _fetch(run)
    assert (code, err, out.split(":")[0]) == (0, "", f"wrote {SNAP}")
    snap = read_snapshot(SNAP)
    assert len(snap.types) == 5000 and snap.types[0].price_per_min == Decimal("1e-40")
    assert snap.records[0]["price_usd_per_min"] == "0." + "0" * 39 + "1"


GOOD_NAMES = ["A10Gx4x16", "H100:8", "RTX-PRO-6000:2", "H200:2x8x128x1600", "H100MIG", "1x2", "L4:4x16", "H100_40GB", "ORG:A10Gx4x16",
              "nvidia-l4", "RTX PRO 6000", "NVIDIA A10G", "B200:8x1.5TB", "production", "staging-2", "x" * 64]  # fmt: skip
BAD_NAMES = ["", " ", "A10G ", " A10G", "A10G  x", "-A10G", "A10G\n::error::x", "A10G\x1b[31m", "A10G\u202e", "A10G\u2028", "A|B", "A<b>",
             "![x](y)", "`x`", "a/b", "x" * 65, "Ａ10G", "A10G\t"]  # fmt: skip
PLAUSIBLE = "letters, digits, _ . : - and single spaces, at most 64 characters"


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_plausible_names(name: str) -> None:
    assert plausible(name) and plausible(name, id=True) == (name[0].isalnum() and name.replace("_", "").replace("-", "").isalnum())


@pytest.mark.parametrize("name", [*BAD_NAMES, None, 7, ["A10G"]])
def test_implausible_names(name: object) -> None:
    assert not plausible(name) and not plausible(name, id=True)


@given(st.text(max_size=70))
def test_a_plausible_name_is_one_printable_ascii_word_group(text: str) -> None:
    if plausible(text):
        assert text.isascii() and text.isprintable() and text == text.strip() and "  " not in text and 1 <= len(text) <= 64
    ident = text.replace("_", "").replace("-", "")
    assert plausible(text, id=True) == (text.isascii() and text[:1].isalnum() and ident.isalnum() and len(text) <= 64)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": "A10G\n::error file=x::forged"}, f"'A10G\\n::error file=x::forged' is not a plausible instance type name ({PLAUSIBLE})"),
        ({"name": None}, f"None is not a plausible instance type name ({PLAUSIBLE})"),
        ({"name": "x" * 100}, f"'{'x' * 59}…{'x' * 11}' (102 characters) is not a plausible instance type name ({PLAUSIBLE})"),
        ({"gpu_type": "A10G\x1b[31m"}, f"type A10Gx4x16: gpu_type 'A10G\\x1b[31m' is not a plausible GPU type name ({PLAUSIBLE})"),
        ("x\ny", "a listed instance is not an object: 'x\\ny'"),
    ],
)  # fmt: skip
def test_catalog_fetch_refuses_implausible_names(online: Online, run: Run, row: object, message: str) -> None:
    Path(SNAP).write_text("the previous snapshot\n")
    rows = [*LISTED_INSTANCES, {**LISTED_INSTANCES[2], **row} if isinstance(row, dict) else row]
    online.fake.faults["listed_instances"] = Fault(200, _dumps({"data": {"listed_instances": rows}}).encode())
    assert _fetch(run) == (2, "", f"truss-instance: catalog fetch: the catalog of remote 'fake' cannot be used: {message}\n")
    assert Path(SNAP).read_text() == "the previous snapshot\n"


FORGED = "A10Gx4x16\n::error file=x::forged"


def _bad_model_id(fake: FakeBaseten) -> None:
    mid = fake.models["sdxl"]
    fake.models["sdxl"] = "model\x1b1"
    for dep in fake.deployments.values():
        dep["model_id"] = "model\x1b1" if dep["model_id"] == mid else dep["model_id"]


def _bad_deployment_id(fake: FakeBaseten) -> None:
    (dep,) = fake.deployments
    fake.deployments["dep\n1"] = fake.deployments.pop(dep)


# name -> (how the fake's answer is bad, extra argv, the message after "truss-instance: ")
IMPLAUSIBLE_DEPLOYMENTS: dict[str, tuple[Any, tuple[str, ...], str]] = {
    "instance type": (
        lambda f: f.set_instance_type(next(iter(f.deployments)), FORGED),
        (),
        "GET /v1/models/{mid}/deployments/production: malformed answer (instance type name 'A10Gx4x16\\n::error file=x::forged' is not a "
        f"plausible name: {PLAUSIBLE})",
    ),
    "model id": (
        _bad_model_id,
        (),
        "GET /v1/models: malformed answer from {url} (model id 'model\\x1b1' is not a plausible id: letters, digits, _ and -, at "
        "most 64 characters)",
    ),
    "deployment id": (
        _bad_deployment_id,
        (),
        "GET /v1/models/{mid}/deployments/production: malformed answer (deployment id 'dep\\n1' is not a plausible id: letters, digits, "
        "_ and -, at most 64 characters)",
    ),
    "environment": (
        lambda f: f.deployments[next(iter(f.deployments))].update(environment="prod\u2028uction"),
        ("--deployment-id", "fakedeployment1"),
        "GET /v1/models/{mid}/deployments/fakedeployment1: malformed answer (environment name 'prod\\u2028uction' is not a plausible name: "
        f"{PLAUSIBLE})",
    ),
}


@pytest.mark.parametrize("bad", list(IMPLAUSIBLE_DEPLOYMENTS))
def test_adopt_from_baseten_refuses_implausible_values(online: Online, run: Run, work: Path, bad: str) -> None:
    mid, _ = online.fake.add_deployment("sdxl", "A10Gx4x16")
    assert run("lock", "models/sdxl")[0] == 0
    lock = (work / "models" / "sdxl" / "truss-instance.lock").read_bytes()
    spoil, argv, message = IMPLAUSIBLE_DEPLOYMENTS[bad]
    spoil(online.fake)
    code, out, err = run("adopt", "models/sdxl", "--from-baseten", *argv)
    assert (code, out, err) == (2, "", "truss-instance: " + message.format(mid=mid, url=online.fake.url) + "\n")
    assert (work / "models" / "sdxl" / "truss-instance.lock").read_bytes() == lock


def test_check_online_refuses_implausible_instance_types(online: Online, run: Run, work: Path) -> None:
    prod, staging = _two_models(online, run, work)
    mid = online.fake.models["cpu"]
    online.fake.set_instance_type(staging, FORGED)
    forged = f"instance type name 'A10Gx4x16\\n::error file=x::forged' is not a plausible name: {PLAUSIBLE}"
    assert run("check", "models", "--online") == (
        2,
        "",
        f"truss-instance: GET /v1/models/{mid}/environments/staging: malformed answer ({forged})\n",
    )
    online.fake.set_instance_type(staging, "1x2")
    online.fake.set_instance_type(prod, FORGED)
    assert run("check", "models", "--online") == (2, "", f"truss-instance: GET /v1/models: malformed answer ({forged})\n")


# -- arbitrary server catalogs --------------------------------------------------------------------------------------


def _array(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _object(pairs: dict[str, str]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs.items()) + "}"


_NUMBERS = st.one_of(
    st.integers(-(10**6), 10**8).map(str),
    st.from_regex(r"-?(0|[1-9][0-9]{0,45})(\.[0-9]{1,45})?([eE][+-]?[0-9]{1,11})?", fullmatch=True),
    st.sampled_from(["1e999999999", "0.1e1000000", "1" * 5000, "-0", "1E-400", "0.0625000000000000000001", "1e40", "1e-40", "1e41",
                     "NaN", "Infinity", "-Infinity"]),
)  # fmt: skip
_STRINGS = st.one_of(st.sampled_from([*GOOD_NAMES, *BAD_NAMES, "A10G", "H100MIG", "MI300X", "T4"]), st.text(max_size=20)).map(
    lambda s: json.dumps(s, ensure_ascii=len(s) % 2 == 0)  # escaped or raw UTF-8
)
_VALUES = st.recursive(
    st.one_of(_NUMBERS, _STRINGS, st.sampled_from(["true", "false", "null"])),
    lambda kids: st.one_of(st.lists(kids, max_size=4).map(_array), st.dictionaries(st.text(max_size=8), kids, max_size=4).map(_object)),
    max_leaves=10,
)
_GPUS = [("null", "0"), ('""', "0"), ('"A10G"', "1"), ('"H100MIG"', "2"), ('"nvidia-l4"', "1"), ('"MI300X"', "8"), ('"A10G"', "0")]


@st.composite
def _rows(draw: st.DrawFn) -> str:
    """A listed_instances row: mostly usable, with a few of its values anything at all, and keys left out or added."""
    gpu_type, gpu_count = draw(st.sampled_from(_GPUS))
    row = {
        "id": draw(_STRINGS), "name": json.dumps(draw(st.sampled_from(GOOD_NAMES))), "millicpu_limit": str(draw(st.integers(1, 10**6))),
        "memory_limit": str(draw(st.integers(1, 10**7))), "gpu_count": gpu_count, "gpu_type": gpu_type,
        "gpu_memory": str(draw(st.integers(0, 200_000))), "default": draw(st.sampled_from(["true", "false"])),
        "display_name": draw(_STRINGS), "node_count": str(draw(st.integers(1, 3))),
        "price": str(draw(st.decimals(min_value=0, max_value=100, places=draw(st.integers(0, 30))))),
        "limited_capacity": draw(st.sampled_from(["true", "false"])),
    }  # fmt: skip
    for key in draw(st.lists(st.sampled_from([*row, "extra"]), max_size=2)):
        row[key] = draw(_VALUES)
    for key in draw(st.lists(st.sampled_from(list(row)), max_size=1)):
        del row[key]
    return _object(row)


@st.composite
def _catalog_answers(draw: st.DrawFn) -> bytes:
    """The body of an answer to listed_instances: mostly a list of rows, some odd, and every other shape."""
    rows = draw(st.lists(_rows(), max_size=6))
    shape = draw(st.sampled_from(["rows"] * 6 + ["many", "value", "data", "top", "deep", "errors", "cut"]))
    if shape == "many":  # one row many times over, by name
        count = draw(st.sampled_from([2, 5000, 5001]))
        row = draw(_rows())
        rows = [row.replace('"name": ', f'"name": "t{i}", "was": ', 1) if '"name": ' in row else row for i in range(count)]
    text = {
        "value": lambda: _object({"data": _object({"listed_instances": draw(_VALUES)})}),
        "data": lambda: _object({"data": draw(_VALUES)}),
        "top": lambda: draw(_VALUES),
        "deep": lambda: "[" * (n := draw(st.sampled_from([31, 32, 33, 1000, 100_000]))) + "]" * draw(st.sampled_from([0, n])),
        "errors": lambda: _object({"errors": draw(_VALUES)}),
    }.get(shape, lambda: _object({"data": _object({"listed_instances": _array(rows)})}))()
    data = text.encode("utf-8", "surrogatepass")
    return data[: draw(st.integers(0, len(data)))] if shape == "cut" else data


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_catalog_answers())
def test_arbitrary_server_catalogs_never_cause_an_internal_error(online: Online, run: Run, answer: bytes) -> None:
    Path(SNAP).write_bytes(b"the previous snapshot\n")
    online.fake.faults["listed_instances"] = Fault(200, answer)
    code, out, err = _fetch(run)
    from hypothesis import event

    event(f"{code} {err[60:150]}")
    assert all(line.isprintable() and len(line) <= 400 for line in (out + err).splitlines()), out + err
    assert [p.name for p in Path(".").iterdir() if p.name.startswith(".truss-instance")] == []
    if code == 0:  # a snapshot every other command can use
        snap = read_snapshot(SNAP)
        assert (err, out.splitlines()[-1]) == ("", f"wrote {SNAP}: {len(snap.types)} types from {online.fake.url} as of {AS_OF}, "
                                                   f"{content_hash(snap.types)[:19]}")  # fmt: skip
        assert run("catalog", "--catalog", SNAP)[0] == 0
    else:
        assert (code, out, err.count("\n"), err[:16]) == (2, "", 1, "truss-instance: "), err
        assert "internal error" not in err
        assert Path(SNAP).read_bytes() == b"the previous snapshot\n"


def test_why_a_type_is_unusable_is_told_in_a_short_line(online: Online, run: Run) -> None:
    online.fake.listed_instances = [*LISTED_INSTANCES[:1], {**LISTED_INSTANCES[2], "price": "1" * 5000}]
    code, out, err = _fetch(run)
    reason = f"price '{'1' * 173}…a number ≥ 0 (5028 characters)"
    warning = f'truss-instance: warning: A10Gx4x16 is not usable: {reason} (kept under "unmapped")'
    assert (code, err, out.splitlines()[0]) == (0, "", warning)
    assert json.loads(Path(SNAP).read_text())["unmapped"][0]["reason"] == reason


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"[" * 100_000, "arrays and objects nested deeper than 32"),
        (b'{"models": [{"id": 1e999999999}]}', f"the number 1e999999999 {RANGE}"),
    ],
)
def test_hostile_rest_answers_are_refused_in_one_line(online: Online, run: Run, work: Path, answer: bytes, problem: str) -> None:
    online.fake.add_deployment("sdxl", "A10Gx4x16")
    mid = online.fake.models["sdxl"]
    assert run("adopt", "models/sdxl", "--instance", "A10Gx4x16", "--model-id", mid)[0] == 0  # recorded without asking
    lock = (work / "models" / "sdxl" / "truss-instance.lock").read_bytes()
    online.fake.faults["rest_models"] = Fault(200, answer)
    for argv in (("adopt", "models/sdxl", "--from-baseten"), ("check", "models/sdxl", "--online")):
        assert run(*argv) == (2, "", f"truss-instance: GET /v1/models: malformed JSON from {online.fake.url} ({problem})\n")
    assert (work / "models" / "sdxl" / "truss-instance.lock").read_bytes() == lock
