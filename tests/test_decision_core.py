"""The decision core at its boundaries: resolve.py, drift.py, lockfile.py and request.py's unit conversion.

Each test pins an exact output that a one-at-a-time mutant of that code changes (an operator flipped, a constant
moved by one, a `return None`, a negated condition): the boundary itself and the value just past it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from support import GOLDEN, Run, golden, with_entries

from truss_instance_plugin import plugins
from truss_instance_plugin.catalog import Catalog, GiB, InstanceType, embedded_types, make_catalog
from truss_instance_plugin.config import load_config
from truss_instance_plugin.core.pipeline import analyze_loaded
from truss_instance_plugin.core.resolve import CLIFF_MARGIN, Resolution, misfit, rejection, resolve, step_down
from truss_instance_plugin.diagnostics import ERROR, WARNING, Diagnostic
from truss_instance_plugin.discover import config_for_lock, lock_path
from truss_instance_plugin.errors import LockError
from truss_instance_plugin.lock.format import parse_lock, read_lock, render
from truss_instance_plugin.model import Model
from truss_instance_plugin.plugins import Host
from truss_instance_plugin.request import Request

CATALOG = make_catalog(embedded_types())
ROOT = Path(__file__).resolve().parents[1]
LOCK = Path("models/sdxl/truss-instance.lock")
CONFIG = Path("models/sdxl/config.yaml")
TI017_HINT = "truss accepts this, deploys the instance_type and ignores accelerator; remove one of the two"
TI024_HINT = "multi-node types are configured by Baseten; confirm the type and price with them"


def req(
    millicores: int = 1000, memory: int = 2 * GiB, gpu: str | None = None, count: int | None = None, nodes: int = 1, pin: str | None = None
) -> Request:
    """A normalized request; the GPU count defaults to 1 with a GPU type and 0 without."""
    return Request(millicores, memory, gpu, (1 if gpu else 0) if count is None else count, nodes, pin)


def get(name: str, catalog: Catalog = CATALOG) -> InstanceType:
    t = catalog.get(name)
    assert t is not None, name
    return t


def cpu_type(name: str, vcpu: int, gib: int, price: str, nodes: int = 1) -> InstanceType:
    return InstanceType(name, vcpu * 1000, gib * GiB, None, 0, 0, Decimal(price), node_count=nodes)


# Two nodes of eight H200 each: the catalog Baseten configures for multi-node customers.
TWO_NODE = InstanceType("H200:2x8", 256_000, 3200 * GiB, "H200", 8, 141, Decimal("2.00000"), True, 2)


def truss(name: str, resources: str) -> Path:
    """`name`/config.yaml with this resources block (relative to the cwd)."""
    folder = Path(name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(f"model_name: {name}\nresources:\n" + "".join(f"  {line}\n" for line in resources.splitlines()))
    return path


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# 1. The pin and its accelerator ------------------------------------------------------------------------------------


def test_a_pin_with_as_many_gpus_as_the_accelerator_is_no_contradiction() -> None:
    """accelerator A10G + instance_type A10Gx4x16: equal GPU counts fit; one GPU more is TI017."""
    t = get("A10Gx4x16")
    assert resolve(req(gpu="A10G", pin="A10Gx4x16"), CATALOG) == Resolution(t, (t,), (), (), pinned=True, nodes=1)
    two = get("A10G:2x24x96")
    assert resolve(req(gpu="A10G", count=2, pin="A10G:2x24x96"), CATALOG).diagnostics == ()
    assert resolve(req(gpu="A10G", count=2, pin="A10Gx4x16"), CATALOG).diagnostics == (
        Diagnostic("TI017", ERROR, 'instance_type "A10Gx4x16" (1× A10G) contradicts accelerator A10G:2', TI017_HINT),
    )
    assert resolve(req(gpu="A10G", count=3, pin="A10G:2x24x96"), CATALOG).diagnostics == (
        Diagnostic("TI017", ERROR, 'instance_type "A10G:2x24x96" (2× A10G) contradicts accelerator A10G:3', TI017_HINT),
    )
    assert resolve(req(gpu="A10G", count=3, pin="A10G:2x24x96"), CATALOG).chosen == two  # truss deploys the pin anyway


@pytest.mark.parametrize(
    ("gpu", "pin", "message"),
    [
        ("T4", "A10Gx4x16", 'instance_type "A10Gx4x16" (1× A10G) contradicts accelerator T4:1'),
        ("A10G", "4x16", 'instance_type "4x16" (no GPU) contradicts accelerator A10G:1'),
        (None, "A10Gx4x16", None),  # no accelerator: nothing to contradict
        (None, "4x16", None),
    ],
)
def test_pin_and_accelerator_type(gpu: str | None, pin: str, message: str | None) -> None:
    res = resolve(req(gpu=gpu, pin=pin), CATALOG)
    assert res.chosen == get(pin) and res.pinned
    assert res.diagnostics == ((Diagnostic("TI017", ERROR, message, TI017_HINT),) if message else ())


# 2. The fit check: rejection (and misfit, which a lock uses) -------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "request_", "reason"),
    [
        # the node-count clause: a multi-node type fits only its own node count; a single-node type is priced per node
        (TWO_NODE, req(gpu="H200", count=8, nodes=1), "it has 2 nodes, not 1"),
        (TWO_NODE, req(gpu="H200", count=8, nodes=2), None),
        (TWO_NODE, req(gpu="H200", count=8, nodes=3), "it has 2 nodes, not 3"),
        (get("H100:8"), req(gpu="H100", count=8, nodes=2), None),
        (get("H100:8"), req(gpu="H100", count=8, nodes=1), None),
        # each size at the boundary fits; one unit more does not
        (get("A10G:2x24x96"), req(gpu="A10G", count=2), None),
        (get("A10G:2x24x96"), req(gpu="A10G", count=3), "it has 2 GPUs < 3 requested"),
        (get("A10Gx4x16"), req(gpu="A10G", count=2), "it has 1 GPU < 2 requested"),
        (get("4x16"), req(4000, 16 * GiB), None),
        (get("4x16"), req(4001, 16 * GiB), "it has 4 vCPU < 4.001 requested"),
        (get("4x16"), req(4000, 16 * GiB + 1), "it has 16 GiB < 17179869185 B requested"),
        (get("A10Gx4x16"), req(), "it has A10G GPUs and a CPU-only request never gets a GPU type"),
        (get("4x16"), req(gpu="A10G"), "its GPU type is CPU-only, not A10G"),
        (get("T4x4x16"), req(gpu="A10G"), "its GPU type is T4, not A10G"),
    ],
)
def test_rejection(t: InstanceType, request_: Request, reason: str | None) -> None:
    assert rejection(t, request_) == reason
    assert misfit(t, request_, CATALOG) == reason  # without a pin, misfit is the rejection


def test_misfit_of_a_pinned_request_is_the_pin_alone() -> None:
    """A pinned request fits its pin only (however large the others are), whitespace around the name included."""
    r = req(64_000, 500 * GiB, pin="A10Gx4x16")  # truss ignores the sizes next to a pin
    assert misfit(get("A10Gx4x16"), r, CATALOG) is None
    assert misfit(get("A10Gx8x32"), r, CATALOG) == 'the request pins instance_type "A10Gx4x16"'
    assert misfit(get("A10Gx4x16"), req(pin=" A10Gx4x16 "), CATALOG) is None
    assert misfit(get("A10Gx8x32"), req(pin=" A10Gx4x16 "), CATALOG) == 'the request pins instance_type " A10Gx4x16 "'
    assert misfit(get("L4:4x16"), req(pin="L4x4x16"), CATALOG) == 'the request pins instance_type "L4x4x16"'  # an old name


# 3. Multi-node resolution ----------------------------------------------------------------------------------------


def test_multi_node_without_multi_node_types_is_priced_per_node() -> None:
    res = resolve(req(gpu="H100", count=8, nodes=2), CATALOG)
    assert (res.chosen, res.nodes) == (get("H100:8"), 2)
    assert [(s.label, s.survivors) for s in res.funnel] == [
        ("45 types", 45), ("with H100", 4), ("with ≥8 GPU", 1), ("with ≥1 vCPU", 1), ("with ≥2 GiB", 1),
    ]  # fmt: skip
    message = "the catalog has no 2-node types; predicting 2 × H100:8 (price per node × 2)"
    assert res.diagnostics == (Diagnostic("TI024", WARNING, message, TI024_HINT),)
    single = resolve(req(gpu="H100", count=8), CATALOG)
    assert (single.chosen, single.nodes, single.diagnostics) == (get("H100:8"), 1, ())


def test_multi_node_types_match_the_node_count_exactly() -> None:
    catalog = make_catalog((*CATALOG.types, TWO_NODE))
    two = resolve(req(gpu="H200", count=8, nodes=2), catalog)
    assert (two.chosen, two.nodes, two.candidates) == (TWO_NODE, 1, (TWO_NODE,))
    assert [(s.label, s.survivors) for s in two.funnel][:3] == [("46 types", 46), ("with 2 nodes", 1), ("with H200", 1)]
    assert [d.code for d in two.diagnostics] == ["TI023"]  # on request; no TI024: the catalog has the 2-node type
    one = resolve(req(gpu="H200", count=8), catalog)
    assert (one.chosen, one.nodes) == (get("H200:8"), 1)
    assert [(s.label, s.survivors) for s in one.funnel][:3] == [("46 types", 46), ("with 1 node", 45), ("with H200", 4)]
    three = resolve(req(gpu="H200", count=8, nodes=3), catalog)  # no 3-node type: three single nodes
    assert (three.chosen, three.nodes) == (get("H200:8"), 3)
    assert [d.code for d in three.diagnostics] == ["TI023", "TI024"]


# 4. When nothing fits: the hint's nearest relaxation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message", "hint"),
    [
        (
            req(memory=1 << 40, gpu="A10G", count=2),
            "no A10G type has ≥ 1 TiB; largest is A10G:8x192x768 (750 GiB)",
            "ask for at most 750 GiB, or use accelerator A100:2 (A100:8x96x1152, $32.00/h)",
        ),
        (
            req(memory=1 << 40),
            "no CPU-only type has ≥ 1 TiB; largest is 16x64 (64 GiB)",
            "ask for at most 64 GiB, or use accelerator A100 (A100:8x96x1152, $32.00/h)",
        ),
        (req(200_000), "no CPU-only type has ≥ 200 vCPU; largest is 16x64 (16 vCPU)", "ask for at most 16 vCPU"),
        (
            req(gpu="L4", count=5),
            "no L4 type has ≥ 5 GPUs; largest is L4:4x48x192 (4 GPUs)",
            "ask for at most 4 GPUs, or use accelerator A10G:5 (A10G:8x192x768, $19.55/h)",
        ),
        (req(gpu="H100", count=9), "no H100 type has ≥ 9 GPUs; largest is H100:8 (8 GPUs)", "ask for at most 8 GPUs"),
        # the relaxation may be exactly the size asked for (meets, not exceeds)
        (
            req(memory=1152 * GiB, gpu="A10G"),
            "no A10G type has ≥ 1152 GiB; largest is A10G:8x192x768 (750 GiB)",
            "ask for at most 750 GiB, or use accelerator A100 (A100:8x96x1152, $32.00/h)",
        ),
        (
            req(192_000, gpu="T4"),
            "no T4 type has ≥ 192 vCPU; largest is T4:4x48x192 (48 vCPU)",
            "ask for at most 48 vCPU, or use accelerator A10G (A10G:8x192x768, $19.55/h)",
        ),
        (
            req(gpu="L4", count=8),
            "no L4 type has ≥ 8 GPUs; largest is L4:4x48x192 (4 GPUs)",
            "ask for at most 4 GPUs, or use accelerator A10G:8 (A10G:8x192x768, $19.55/h)",
        ),
    ],
)
def test_no_match_names_the_largest_and_the_nearest_relaxation(request_: Request, message: str, hint: str) -> None:
    res = resolve(request_, CATALOG)
    assert res.chosen is None and res.candidates == ()
    (d,) = res.diagnostics
    assert (d.code, d.severity, d.message, d.hint) == ("TI030", ERROR, message, hint)


@pytest.mark.parametrize(
    ("pin", "hint"),
    [
        ("CPU:4x16", '"CPU:4x16" is an old name; it is called "4x16" now'),
        ("CPU:nonsense", "see `truss-instance catalog` for the names"),  # the prefix alone makes no old name
        ("CPU:A10Gx4x16", 'did you mean "A10Gx4x16"?'),  # a GPU type never had the CPU: prefix (this said "an old name")
        ("xxx:4x16", 'did you mean "T4x4x16"?'),  # only "CPU:" is an old prefix
    ],
)
def test_old_cpu_prefix_names(pin: str, hint: str) -> None:
    (d,) = resolve(req(pin=pin), CATALOG).diagnostics
    assert (d.code, d.message, d.hint) == ("TI015", f'instance_type "{pin}" is not in the catalog (baseten-embedded, 45 types)', hint)


@pytest.mark.parametrize(
    ("types", "request_", "message", "hint"),
    [
        (  # H200 only as a 2-node type (this said "no H200 type in the catalog")
            (TWO_NODE, *[t for t in CATALOG.types if t.gpu_type is None]),
            req(gpu="H200", count=8),
            "no single-node H200 type in the catalog (baseten-embedded); its H200 types have 2 nodes",
            "set node_count: 2, or see `truss-instance catalog` for the types there are",
        ),
        (  # two nodes: the catalog has 2-node types, but none with H100
            (TWO_NODE, get("H100")),
            req(gpu="H100", nodes=2),
            "no H100 type with 2 nodes in the catalog (baseten-embedded); its H100 types have 1 node",
            "set node_count: 1, or see `truss-instance catalog` for the types there are",
        ),
        (  # three nodes: no 3-node type, and per node no single-node H200 either
            (TWO_NODE, *[t for t in CATALOG.types if t.gpu_type is None]),
            req(gpu="H200", count=8, nodes=3),
            "no H200 type with 3 nodes in the catalog (baseten-embedded); its H200 types have 2 nodes",
            "set node_count: 2, or see `truss-instance catalog` for the types there are",
        ),
        (  # H200 on 2 and on 4 nodes
            (TWO_NODE, TWO_NODE._replace(name="H200:4x8", node_count=4), *[t for t in CATALOG.types if t.gpu_type is None]),
            req(gpu="H200", count=8),
            "no single-node H200 type in the catalog (baseten-embedded); its H200 types have 2 or 4 nodes",
            "set node_count: 2 or 4, or see `truss-instance catalog` for the types there are",
        ),
        (  # a catalog without CPU-only types
            tuple(t for t in CATALOG.types if t.gpu_type),
            req(),
            "no CPU-only type in the catalog (baseten-embedded); it has: A100, A10G, B200, H100, H100_40GB, H200, L4, RTX_PRO_6000, T4",
            "see `truss-instance catalog` for the types there are",
        ),
    ],
)
def test_a_gpu_type_filter_that_empties_the_pool_is_TI030(
    types: tuple[InstanceType, ...], request_: Request, message: str, hint: str
) -> None:
    res = resolve(request_, make_catalog(types))
    assert res.chosen is None and res.candidates == ()
    assert res.diagnostics == (Diagnostic("TI030", ERROR, message, hint),)


# 5. explain's one step down -------------------------------------------------------------------------------------


def down(request_: Request, catalog: Catalog = CATALOG) -> tuple[str, str] | None:
    got = step_down(request_, resolve(request_, catalog), catalog)
    return (got[0].name, got[1]) if got else None


def test_step_down_at_the_exact_margin() -> None:
    """A request at most 1/CLIFF_MARGIN above a cheaper type's size is "just past" it; one unit more is not."""
    assert CLIFF_MARGIN == 4
    assert down(req(5000)) == ("4x16", "cpu ≤ 4000m")  # 1000m over 4000m: exactly a quarter
    assert down(req(5001)) is None
    assert down(req(memory=20 * GiB)) == ("4x16", "memory ≤ 16 GiB")
    assert down(req(memory=20 * GiB + 1)) is None
    assert down(req(gpu="A100", count=5)) == ("A100:4x48x576", "accelerator count ≤ 4")
    assert down(req(gpu="A100", count=6)) == ("A100:5x60x720", "accelerator count ≤ 5")  # the nearest, not the cheapest
    assert down(req(gpu="A100", count=3)) is None  # 2 GPUs: one more is half again


def test_step_down_never_for_a_pin_or_nothing_chosen() -> None:
    pinned = req(5000, pin="8x32")  # the same sizes would step down to 4x16 without the pin
    assert resolve(pinned, CATALOG).chosen == get("8x32")
    assert down(pinned) is None
    assert down(req(200_000)) is None


def test_step_down_skips_equal_prices_two_misses_other_gpus_and_node_counts() -> None:
    chosen = cpu_type("c-8x32", 8, 32, "0.01000")
    same_price = cpu_type("s-4x32", 4, 32, "0.01000")  # misses cpu by a quarter, but costs the same
    two_misses = cpu_type("t-4x8", 4, 8, "0.00100")  # misses cpu and memory
    gpu = InstanceType("g-4x32", 4000, 32 * GiB, "T4", 1, 16, Decimal("0.00200"))
    multi = cpu_type("m-4x32", 4, 32, "0.00300", nodes=2)
    catalog = make_catalog((chosen, same_price, two_misses, gpu, multi))
    r = req(5000, 10 * GiB)
    assert resolve(r, catalog).chosen == chosen
    assert down(r, catalog) is None
    fits = cpu_type("f-4x32", 4, 32, "0.00900")
    assert down(r, make_catalog((chosen, same_price, two_misses, gpu, multi, fits))) == ("f-4x32", "cpu ≤ 4000m")


def test_step_down_takes_the_dearest_of_several_cheaper_types() -> None:
    chosen = cpu_type("c-8x32", 8, 32, "0.01000")
    a, b = cpu_type("a-4x16", 4, 16, "0.00500"), cpu_type("b-4x32", 4, 32, "0.00700")
    r = req(5000, 10 * GiB)
    for types in ((chosen, a, b), (b, a, chosen), (a, chosen, b)):
        assert down(r, make_catalog(types)) == ("b-4x32", "cpu ≤ 4000m")


def test_explain_prints_the_step_down_line(run: Run) -> None:
    line = "  step down: 4x16 −$0.21/h (−50%) if cpu ≤ 4000m (the request is just past it)"
    code, out, _ = run("explain", "--cpu", "5")
    assert code == 0 and out.splitlines()[4] == line
    code, out, _ = run("explain", "--cpu", "5001m")
    assert code == 0 and out.splitlines()[4] == "  headroom  +2.999 vCPU, +30 GiB over the request"
    code, out, _ = run("explain", "--cpu", "5", "--instance-type", "8x32")
    assert code == 0 and not [x for x in out.splitlines() if x.startswith("  step down")]


# 6. Multi-node locks -----------------------------------------------------------------------------------------------


def test_multi_node_lock_priced_per_node_is_current_and_kept(cwd: Path, run: Run) -> None:
    truss("n", 'accelerator: "H100:8"\nnode_count: 2')
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
    truss("n", 'accelerator: "H200:8"\nnode_count: 2')
    assert run("lock", "n")[0] == 0
    resolved = yaml.safe_load(Path("n/truss-instance.lock").read_bytes())["resolved"]
    assert (resolved["instance_type"], resolved["nodes"], resolved["price_usd_per_min"]) == ("H200:2x8", 1, "2.00000")
    warning = "n/config.yaml:3:16: warning TI023 H200:2x8 is available on request only\n"
    assert run("check", "n") == (0, warning + "  ask Baseten to enable it for your organization before pushing\n1 model: 1 warning\n", "")
    assert run("lock", "n") == (0, "", "")


def test_a_locked_type_that_became_multi_node_no_longer_fits(cwd: Path, run: Run) -> None:
    """The lock holds 3 × H100:8; the catalog now says H100:8 is a 2-node type: TI103, and lock keeps the file."""
    truss("n", 'accelerator: "H100:8"\nnode_count: 3')
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


# 7. Hand-edited locks: a type not in the catalog, a real type that does not fit ---------------------------------


def host_catalog() -> Catalog:
    from truss_instance_plugin.core.pipeline import host_catalog as of

    return of(plugins.get_host())


SDXL_REQUEST = req(4000, 16 * GiB, "A10G")


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


# 8. Malformed locks: each branch, with its position ------------------------------------------------------------


def _section(name: str, value: str) -> bytes:
    """The golden lock with the block `name:` replaced by `name: value`."""
    lines = GOLDEN.decode().splitlines(keepends=True)
    start = lines.index(f"{name}:\n")
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return "".join([*lines[:start], f"{name}: {value}\n", *lines[end:]]).encode()


HASH = "sha256:" + "0" * 64
RECORD = (
    "deployment:\n  deployment_id: null\n  environment: null\n  instance_type: A10Gx4x16\n  model_id: null\n  model_name: m\n"
    f"  request_hash: {HASH}\n  source: adopt\n"
)


@pytest.mark.parametrize(
    ("data", "message", "position"),
    [
        # a section that is not a mapping
        (_section("catalog", "baseten-embedded"), "catalog must be a mapping", (3, 10)),
        (_section("request", "4"), "request must be a mapping", (9, 10)),
        (_section("resolved", "A10Gx4x16"), "resolved must be a mapping", (17, 11)),
        (golden("deployment: {}\n", "deployment: !!omap []\n"), "a list, which truss-instance never writes (hand-edited?)", (7, 13)),
        (golden("deployment: {}\n", "deployment: !!set {}\n"), "a mapping tagged tag:yaml.org,2002:set", (7, 13)),
        # an incomplete request, a deployment without its required keys
        (golden("  gpu_count: 1\n  gpu_type: A10G\n", "  gpu_type: A10G\n"), "request lacks the key 'gpu_count'", (10, 3)),
        (golden("deployment: {}\n", RECORD + "  request: {}\n"), "deployment.request lacks the key 'gpu_count'", (15, 12)),
        (golden("deployment: {}\n", RECORD.replace("  source: adopt\n", "")), "deployment lacks the key 'source'", (8, 3)),
        # wrong types: a non-string gpu_type, a bool for an int
        (
            golden("  gpu_type: A10G\n  instance_type: null\n", "  gpu_type: 10\n  instance_type: null\n"),
            "request.gpu_type must be a string or null",
            (11, 13),
        ),
        (
            golden("  gpu_type: A10G\n  instance_type: A10G", "  gpu_type: 10\n  instance_type: A10G"),
            "resolved.gpu_type must be a string or null",
            (19, 13),
        ),
        (
            golden("  gpu_count: 1\n  gpu_type: A10G\n  instance_type: null", "  gpu_count: true\n  gpu_type: A10G\n  instance_type: null"),
            "request.gpu_count must be an integer",
            (10, 14),
        ),
        (golden("lock_version: 1", "lock_version: true"), "lock_version must be an integer", (8, 15)),
        # no resolved.instance_type
        (golden("  instance_type: A10Gx4x16\n", ""), "resolved lacks the key 'instance_type'", (18, 3)),
        # keys and nesting
        (golden("deployment: {}\n", "deployment: {1: a}\n"), "a key that is not a string", (7, 14)),
        # nesting: six levels below the top are read (a chain's lock needs them), the seventh is refused
        (
            golden("deployment: {}\n", RECORD + "  resources: {cpu: {a: {b: {c: 1}}}}\n"),
            "deployment.resources.cpu must be a string",
            (15, 20),
        ),
        (
            golden("deployment: {}\n", RECORD + "  resources: {cpu: {a: {b: {c: {d: 1}}}}}\n"),
            "nested deeper than a truss-instance lockfile",
            (15, 36),
        ),
        # integers as YAML reads them; a version is compared as a number
        (
            golden("lock_version: 1", "lock_version: 0x2"),
            "lock_version 2 is newer than this truss-instance understands (1); upgrade truss-instance",
            (8, 15),
        ),
        (
            golden("lock_version: 1", "lock_version: 1:00"),
            "lock_version 60 is newer than this truss-instance understands (1)",
            (8, 15),
        ),
        (golden("lock_version: 1", "lock_version: !!bool maybe"), "an invalid bool 'maybe'", (8, 15)),
        (golden("lock_version: 1", "lock_version: !!bool 1"), "an invalid bool '1'", (8, 15)),  # digits, but not an int
        # the size bound: one byte past 64 KiB
        (
            golden("lock_version: 1", "lock_version: 1" + " " * ((64 << 10) - len(GOLDEN) + 1)),
            "larger than 64 KiB; not a truss-instance lockfile",
            (0, 0),
        ),
    ],
)
def test_malformed_lock(tmp_path: Path, data: bytes, message: str, position: tuple[int, int]) -> None:
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(data)
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert (str(info.value)[: len(message)], (info.value.line, info.value.col)) == (message, position)


def test_lock_at_the_size_bound_and_valid_spellings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "truss-instance.lock"
    padded = golden("lock_version: 1", "lock_version: 1" + " " * ((64 << 10) - len(GOLDEN)))
    assert len(padded) == 64 << 10
    for data in (padded, golden("lock_version: 1", "lock_version: 01"), golden("deployment: {}", "deployment: !!map {}"), GOLDEN):
        path.write_bytes(data)
        lock = read_lock(str(path))
        assert lock is not None and (lock.request, lock.instance_type, lock.deployment) == (SDXL_REQUEST, "A10Gx4x16", None)
    path.write_bytes(golden("deployment: {}\n", RECORD + "  request: null\n  resources: null\n"))
    lock = read_lock(str(path))
    assert lock is not None and lock.deployment == {
        "deployment_id": None, "environment": None, "instance_type": "A10Gx4x16", "model_id": None, "model_name": "m",
        "request_hash": HASH, "source": "adopt", "request": None, "resources": None,
    }  # fmt: skip


def test_a_superscript_integer_is_a_bad_lock_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(golden("lock_version: 1", "lock_version: !!int ²"))
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert (str(info.value), info.value.line, info.value.col) == ("an invalid int '²'", 8, 15)


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


# 9. Lock names -------------------------------------------------------------------------------------------------------


def test_lock_names_keep_every_dot_of_the_config_name(cwd: Path, run: Run) -> None:
    assert lock_path("m/prod.yaml") == "m/truss-instance.prod.lock"
    assert lock_path("m/prod.v2.yaml") == "m/truss-instance.prod.v2.lock"
    assert config_for_lock("m/truss-instance.prod.v2.lock") == "m/prod.v2.yaml"
    assert config_for_lock("m/truss-instance.prod.lock") == "m/prod.yaml"
    Path("m").mkdir()
    Path("m/prod.yaml").write_text('model_name: m\nresources:\n  cpu: "1"\n')
    Path("m/prod.v2.yaml").write_text('model_name: m\nresources:\n  cpu: "2"\n')
    code, out, _ = run("lock", "m/prod.yaml", "m/prod.v2.yaml")
    assert (code, out) == (
        0,
        "wrote m/truss-instance.prod.lock (new): 1x2 $0.00058/min\nwrote m/truss-instance.prod.v2.lock (new): 2x8 $0.00173/min\n"
        "wrote 2 locks\n",
    )
    assert sorted(p.name for p in Path("m").iterdir()) == [
        "prod.v2.yaml",
        "prod.yaml",
        "truss-instance.prod.lock",
        "truss-instance.prod.v2.lock",
    ]
    assert run("check", "m/prod.yaml", "m/prod.v2.yaml") == (0, "", "")
    assert run("lock", "m/truss-instance.prod.v2.lock", "m/truss-instance.prod.lock") == (0, "", "")


# 10. check's TI101 / TI100 lines, exactly ------------------------------------------------------------------------------


def test_TI101_for_a_node_count_change(cwd: Path, run: Run) -> None:
    truss("n", 'accelerator: "H100:8"')
    run("lock", "n")
    truss("n", 'accelerator: "H100:8"\nnode_count: 2')
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
    truss("p", "instance_type: A10Gx4x16")
    run("lock", "p")
    truss("p", "instance_type: A10Gx8x32")
    assert run("check", "p") == (
        1,
        "p/config.yaml:3:18: error TI101 truss-instance.lock is out of date "
        "(instance_type A10Gx4x16 → A10Gx8x32 would move A10Gx4x16 → A10Gx8x32, +$0.25/h); run `truss-instance lock p`\n"
        "1 model: 1 error\n",
        "",
    )
    truss("p", 'instance_type: A10Gx8x32\ncpu: "8"')  # the ignored cpu next to the pin changes the request too
    assert run("check", "p")[1].splitlines()[-2] == (
        "p/config.yaml:4:8: error TI101 truss-instance.lock is out of date "
        "(cpu 1000m → 8000m, instance_type A10Gx4x16 → A10Gx8x32 would move A10Gx4x16 → A10Gx8x32, +$0.25/h); run `truss-instance lock p`"
    )


# 11. adopt on an invalid config ---------------------------------------------------------------------------------------


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


# 12. request.py: the value ranges, the units, the tiny-memory warning -------------------------------------------------


def analyzed(tmp_path: Path, resources: str | None, head: str = "") -> Model:
    """A config with this resources block (lines start at 3 without `head`), run through the real pipeline."""
    path = tmp_path / "config.yaml"
    body = "" if resources is None else "resources:\n" + "".join(f"  {line}\n" for line in resources.splitlines())
    path.write_text(f"model_name: m\n{head}{body}")
    return analyze_loaded(load_config(str(path)), Host(load_entry_points=False))


def findings(m: Model) -> list[tuple[str, str, int, int, str]]:
    return [(d.code, d.severity, d.line, d.col, d.message) for d in m.diagnostics]


OUT_OF_RANGE_CPU = (
    'truss accepts this (Python\'s float() reads it), but it is no usable size; write vCPUs ("1", "4", "0.5") or millicores ("500m")'
)


@pytest.mark.parametrize(
    ("block", "millicores", "finding", "hint"),
    [
        # 1e-30 is the smallest magnitude a number may have; 1e-31 is out of range
        (
            'cpu: "1e-30"',
            None,
            ("TI006", 'cpu "1e-30": 0.000000000000000000000000001 millicores is not a whole number'),
            'truss accepts this; Kubernetes rounds millicores, so write whole millicores, e.g. "1m"',
        ),
        ('cpu: "1e-31"', None, ("TI004", 'cpu "1e-31": out of range'), OUT_OF_RANGE_CPU),
        # 1e1000 is the largest; 1e1001 is out of range
        (
            'cpu: "1e1000"',
            10**1003,
            ("TI030", "no CPU-only type has ≥ ~1e1000 vCPU; largest is 16x64 (16 vCPU)"),
            "ask for at most 16 vCPU",
        ),
        ('cpu: "1e1001"', None, ("TI004", 'cpu "1e1001": out of range'), OUT_OF_RANGE_CPU),
        # a zero mantissa stays zero whatever the exponent; a long exponent with leading zeros is read
        (
            'cpu: "0e9999999"',
            None,
            ("TI003", 'cpu "0e9999999": must be greater than 0'),
            'truss accepts this, but Baseten would receive cpu 0e9999999; use e.g. cpu: "1" or "500m"',
        ),
        ('cpu: "1e0000001"', 10_000, None, ""),
        ('cpu: "1e9999999"', None, ("TI004", 'cpu "1e9999999": out of range'), OUT_OF_RANGE_CPU),
        # millicores: the smallest, fractions, the rounding hint, the sign
        ('cpu: "1m"', 1, None, ""),
        ('cpu: "1e-3"', 1, None, ""),
        (
            'cpu: "0.5m"',
            None,
            ("TI006", 'cpu "0.5m": 0.5 millicores is not a whole number'),
            'truss accepts this; Kubernetes rounds millicores, so write whole millicores, e.g. "1m"',
        ),
        (
            'cpu: "2.5m"',
            None,
            ("TI006", 'cpu "2.5m": 2.5 millicores is not a whole number'),
            'truss accepts this; Kubernetes rounds millicores, so write whole millicores, e.g. "3m"',
        ),
        ('cpu: "+1.50m"', None, ("TI004", 'cpu "+1.50m": millicores take no sign or exponent'), 'write cpu: "1.5m"'),
        ('cpu: "1e3m"', None, ("TI004", 'cpu "1e3m": millicores take no sign or exponent'), 'write cpu: "1000m"'),
        # a YAML number: the example quotes it only when it is finite
        ("cpu: 2", None, ("TI005", "cpu: 2 is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "2"'),
        ("cpu: 2.5", None, ("TI005", "cpu: 2.5 is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "2.5"'),
        ("cpu: .inf", None, ("TI005", "cpu: inf is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "1"'),
        ("cpu: .nan", None, ("TI005", "cpu: nan is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "1"'),
    ],
)
def test_cpu_boundaries(tmp_path: Path, block: str, millicores: int | None, finding: tuple[str, str] | None, hint: str) -> None:
    m = analyzed(tmp_path, block)
    assert (m.request.millicores if m.request else None) == millicores
    assert [(d.code, d.message, d.hint) for d in m.diagnostics] == ([(*finding, hint)] if finding else [])
    assert all((d.line, d.col) == (3, 8) for d in m.diagnostics)


OUT_OF_RANGE_MEMORY = "truss accepts this, but it is no usable size; write a number with a unit, e.g. memory: 16Gi"


@pytest.mark.parametrize(
    ("block", "nbytes", "finding"),
    [
        ('memory: "1e-30"', 1, ("TI010", "warning", 'memory "1e-30" is 1 byte: unit missing?')),
        ('memory: "1e-31"', None, ("TI007", "error", 'memory "1e-31": out of range')),
        ('memory: "1e1000"', 10**1000, ("TI030", "error", "no CPU-only type has ≥ ~1e987 TiB; largest is 16x64 (64 GiB)")),
        ('memory: "1e1001"', None, ("TI007", "error", 'memory "1e1001": out of range')),
        ('memory: "0e9999999"', None, ("TI008", "error", 'memory "0e9999999": must be greater than 0')),
        # TI010: below 1 MiB without a unit; 1 MiB itself, or any unit, is quiet
        ('memory: "1048575"', 1_048_575, ("TI010", "warning", 'memory "1048575" is 1048575 bytes: unit missing?')),
        ('memory: "1048576"', 1_048_576, None),
        ('memory: "1Ki"', 1024, None),
        ('memory: "0.5"', 1, ("TI010", "warning", 'memory "0.5" is 1 byte: unit missing?')),  # rounded up to a whole byte
        ('memory: "1000.0"', 1000, ("TI010", "warning", 'memory "1000.0" is 1000 bytes: unit missing?')),
        ('memory: "0"', None, ("TI008", "error", 'memory "0": must be greater than 0')),
        ('memory: "+1.50Gi"', None, ("TI007", "error", 'memory "+1.50Gi": a number with a unit takes no sign or exponent')),
    ],
)
def test_memory_boundaries(tmp_path: Path, block: str, nbytes: int | None, finding: tuple[str, str, str] | None) -> None:
    m = analyzed(tmp_path, block)
    assert (m.request.memory_bytes if m.request else None) == nbytes
    assert findings(m) == ([(finding[0], finding[1], 3, 11, finding[2])] if finding else [])
    if finding and finding[2].endswith("out of range"):
        assert m.diagnostics[0].hint == OUT_OF_RANGE_MEMORY


def test_tiny_memory_hint_names_both_units(tmp_path: Path) -> None:
    (d,) = analyzed(tmp_path, 'memory: "1048575"').diagnostics
    assert d.hint == "truss accepts this and requests 1048575 bytes; did you mean memory: 1048575Gi (or 1048575Mi)?"
    (d,) = analyzed(tmp_path, 'memory: "+1.50Gi"').diagnostics
    assert d.hint == "write memory: 1.5Gi"


def test_unknown_unit_hint_keeps_a_plain_number_as_written(tmp_path: Path) -> None:
    """A number truss allows before a unit is quoted as written; one with an exponent is spelt out."""
    (d,) = analyzed(tmp_path, 'memory: "1.0e3GB"').diagnostics
    assert (d.code, d.message) == ("TI007", 'memory "1.0e3GB": unknown unit "GB"')
    assert d.hint == 'use "1000Gi" (1073741824000 B) or "1000G" (1000000000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'
    (d,) = analyzed(tmp_path, 'memory: "2.50GB"').diagnostics
    assert (d.code, d.message, d.hint.split(" (")[0]) == ("TI007", 'memory "2.50GB": unknown unit "GB"', 'use "2.50Gi"')


@pytest.mark.parametrize(
    ("unit", "size"),
    [("k", 10**3), ("M", 10**6), ("G", 10**9), ("T", 10**12), ("P", 10**15), ("E", 10**18),
     ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60)],
)  # fmt: skip
def test_every_memory_unit_is_exact(tmp_path: Path, unit: str, size: int) -> None:
    m = analyzed(tmp_path, f'memory: "3{unit}"')
    assert m.request is not None and m.request.memory_bytes == 3 * size


def test_trt_llm_memory_floor(tmp_path: Path) -> None:
    """Below 10Gi (by one byte) a trt_llm model is resolved with the 10Gi truss sends; at 10Gi nothing is said."""
    trt = "trt_llm:\n  build: {}\n"
    hint = (
        "truss push raises memory to 10Gi for the TRT-LLM builder and rewrites config.yaml with its own serializer "
        "(losing comments and key order); write memory: 10Gi (or more) yourself"
    )
    below = analyzed(tmp_path, 'memory: "10737418239"', trt)
    assert below.request is not None and below.request.memory_bytes == 10 * GiB
    assert [(d.code, d.severity, d.line, d.col, d.message, d.hint) for d in below.diagnostics] == [
        ("TI028", WARNING, 5, 11, "memory 10737418239 is below the 10Gi truss sends for a trt_llm model", hint)
    ]
    at = analyzed(tmp_path, "memory: 10Gi", trt)
    assert at.request is not None and (at.request.memory_bytes, at.diagnostics) == (10 * GiB, ())
    no_memory = analyzed(tmp_path, 'cpu: "1"', trt)  # the default 2Gi, reported at the resources block
    assert findings(no_memory) == [("TI028", WARNING, 5, 3, "memory 2Gi is below the 10Gi truss sends for a trt_llm model")]
    no_resources = analyzed(tmp_path, None, trt)
    assert findings(no_resources) == [("TI028", WARNING, 1, 1, "memory 2Gi is below the 10Gi truss sends for a trt_llm model")]
    assert no_resources.request == req(memory=10 * GiB)
    assert no_resources.parsed.raw == {"cpu": "1", "memory": "10Gi"}


# 13. Writing: the folder lock and the temp file ----------------------------------------------------------------------


def test_folder_locks_lock_each_folder_itself(cwd: Path) -> None:
    import fcntl
    import os

    from truss_instance_plugin.lock.atomic import folder_locks

    Path("a").mkdir()

    def locked(folder: str) -> bool:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    with folder_locks(["a", ""]):
        assert (locked("a"), locked(".")) == (True, True)
    with folder_locks(["a"]):
        assert (locked("a"), locked(".")) == (True, False)
    assert (locked("a"), locked(".")) == (False, False)


def test_the_temp_file_is_written_beside_the_lock(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.replace is atomic only within one file system: the temp file lives in the lock's folder."""
    import os

    from truss_instance_plugin.lock.atomic import write_if_changed

    Path("m").mkdir()
    renames: list[tuple[str, str]] = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((str(src), str(dst))), real(src, dst))[1])
    assert write_if_changed("m/truss-instance.lock", b"a\n") is True
    assert write_if_changed("truss-instance.lock", b"b\n") is True
    assert [(os.path.dirname(src), dst) for src, dst in renames] == [
        (str(cwd / "m"), "m/truss-instance.lock"),
        (str(cwd), "truss-instance.lock"),
    ]
    assert (Path("m/truss-instance.lock").read_bytes(), Path("truss-instance.lock").read_bytes()) == (b"a\n", b"b\n")


# 14. The canonical-layout fast path reads exactly what the full parse reads --------------------------------------------


def _outcome(read: object, data: bytes) -> object:
    try:
        return read(data)  # type: ignore[operator]
    except LockError as e:
        return ("LockError", str(e), e.line, e.col)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("  name: ", "baseten-embedded'"),  # a quote only at the end is part of a plain string
        ("  name: ", "'baseten-embedded"),  # unterminated
        ("  name: ", "'"),
        ("  name: ", "''"),
        ("  name: ", "''x'"),  # '' is an escaped quote: unterminated
        ("  name: ", "'a''"),
        ("  name: ", "&anchor"),
        ("  name: ", "embedded:"),
        ("  name: ", "null"),
        ("  name: ", "~"),
        ("  name: ", "a #comment"),
        ("  name: ", "x\x85y"),
        ("  as_of: ", "2026-09-19"),  # unquoted: a YAML date, not a string
        ("  millicores: ", "04000"),  # YAML 1.1 reads a leading zero as octal (2048)
        ("  millicores: ", "4e3"),
        ("  millicores: ", "4000x"),
        ("  millicores: ", "0"),
        ("  millicores: ", "4_000"),
        ("  gpu_count: ", "01"),
        ("  gpu_type: ", "1.5"),  # a float where a string or null belongs
        ("  gpu_type: ", "~"),
    ],
)
def test_the_fast_path_agrees_with_the_full_parse(line: str, value: str) -> None:
    from truss_instance_plugin.lock import format as lockfile

    pinned = render(req(4000, 16 * GiB, "A10G", pin="A10Gx4x16"), CATALOG, get("A10Gx4x16"), 1, None)  # no null in its request
    for text in (GOLDEN.decode(), pinned.decode()):
        starts = [i for i in range(len(text)) if text.startswith(line, i) and (i == 0 or text[i - 1] == "\n")]
        assert starts, line
        for at in starts:  # the key in each section that has it (request and resolved both have millicores)
            end = text.index("\n", at)
            data = (text[:at] + line + value + text[end:]).encode()
            assert _outcome(lockfile.parse_lock, data) == _outcome(lambda d: lockfile.parse_lock_text(d.decode()), data), (line, value, at)


def test_a_leading_zero_in_a_locked_integer_is_octal_as_yaml_reads_it(tmp_path: Path) -> None:
    """`millicores: 04000` is 2048 to any YAML reader; the lock is then inconsistent, not silently 4000."""
    path = tmp_path / "truss-instance.lock"
    path.write_bytes(golden("  millicores: 4000\n  node_count", "  millicores: 04000\n  node_count"))
    with pytest.raises(LockError, match="request_hash does not match"):
        read_lock(str(path))
