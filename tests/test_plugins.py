"""The plugin host: hook specs, load order, entry points, failures, the docs, and a real plugin.

In-process tests use a host without entry points (`Host(load_entry_points=False)`), so plugins
installed in the test environment never leak in. Entry-point loading is tested through the CLI
in subprocesses: fake `*.dist-info` folders on PYTHONPATH (what the scanner reads), and the real
distribution under tests/plugins/ pip-installed into a temporary virtualenv.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import types
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pluggy
import pytest
from support import Run, make_truss, position

import truss_instance_plugin
from truss_instance_plugin import hookimpl, hookspecs
from truss_instance_plugin.catalog import GiB, InstanceType
from truss_instance_plugin.diagnostics import ERROR, Diagnostic
from truss_instance_plugin.errors import PluginError
from truss_instance_plugin.integrations import push_checks as push
from truss_instance_plugin.model import Model, PushContext, PushResult
from truss_instance_plugin.plugins import BUILTIN, DISABLE_ENV, Host, get_host, scan_entry_points
from truss_instance_plugin.request import Request
from truss_instance_plugin.testing import register_plugin

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SRC = REPO / "tests" / "plugins" / "truss_instance_no_h100"
HOOKS_DOC = REPO / "docs" / "hooks.md"
SPEC_NAMES = sorted(n for n in hookspecs.__all__ if n.startswith("truss_instance_"))

A10G = 'model_name: gpu\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'
H100 = 'model_name: big\nresources:\n  cpu: "8"\n  memory: 64Gi\n  accelerator: H100\n'


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """gpu/config.yaml (A10G) and big/config.yaml (H100) in a temp dir, which is the cwd."""
    for name, text in (("gpu", A10G), ("big", H100)):
        (tmp_path / name / "model").mkdir(parents=True)
        (tmp_path / name / "config.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# the contract ---------------------------------------------------------------------------------


def test_hookimpl_is_reexported_from_the_package() -> None:
    assert truss_instance_plugin.hookimpl is hookspecs.hookimpl
    assert "hookimpl" in truss_instance_plugin.__all__
    assert hookspecs.hookimpl.project_name == hookspecs.hookspec.project_name == "truss_instance"


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_spec_is_typed_prefixed_and_documented(name: str) -> None:
    spec = getattr(hookspecs, name)
    opts = spec.truss_instance_spec
    sig = inspect.signature(spec)
    doc = inspect.getdoc(spec) or ""
    assert name.startswith("truss_instance_")
    assert sig.return_annotation is not inspect.Signature.empty
    for param in sig.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, param.name
        assert f":param {param.name}:" in doc, f"{name}: no :param {param.name}: in its docstring"
    assert doc.splitlines()[0].endswith("."), "a one-line summary first"
    if opts["firstresult"]:
        assert "Stops at first non-None result" in doc


def test_only_the_decision_hook_is_firstresult() -> None:
    first = [n for n in SPEC_NAMES if getattr(hookspecs, n).truss_instance_spec["firstresult"]]
    assert first == ["truss_instance_choose_instance"]


def test_builtin_is_registered_first_and_every_impl_is_trylast(host: Host) -> None:
    builtin = host.pm.get_plugin(BUILTIN)
    callers = host.pm.get_hookcallers(builtin) or []
    assert sorted(c.name for c in callers) == [
        "truss_instance_catalog_entries", "truss_instance_choose_instance", "truss_instance_validate",
    ]  # fmt: skip
    for caller in callers:
        assert all(impl.trylast for impl in caller.get_hookimpls() if impl.plugin_name == BUILTIN)
    assert host.pm.list_name_plugin()[0] == (BUILTIN, builtin)


class _Expensive:
    """Chooses the most expensive candidate instead of the cheapest."""

    @hookimpl
    def truss_instance_choose_instance(self, candidates: Sequence[InstanceType]) -> InstanceType | None:  # opt-in args
        return candidates[-1]


class _Abstains:
    @hookimpl
    def truss_instance_choose_instance(self, request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
        return None


def _explain_json(run: Run, *args: str) -> dict[str, Any]:
    code, out, _ = run("explain", "--format", "json", *args)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_a_plugins_choose_instance_wins_over_the_builtin(run: Run, host: Host) -> None:
    assert _explain_json(run, "--accelerator", "A10G")["chosen"]["name"] == "A10Gx4x16"
    host.register(_Expensive(), "expensive")
    assert _explain_json(run, "--accelerator", "A10G")["chosen"]["name"] == "A10G:8x192x768"


def test_a_plugin_returning_none_leaves_the_choice_to_the_builtin(run: Run, host: Host) -> None:
    host.register(_Abstains(), "abstains")
    assert _explain_json(run, "--accelerator", "A10G")["chosen"]["name"] == "A10Gx4x16"


class _Discount:
    """Replaces the built-in A10Gx4x16 (same name, another price) and adds one type."""

    @hookimpl
    def truss_instance_catalog_entries(self) -> list[InstanceType]:
        return [
            InstanceType("A10Gx4x16", 4000, 16 * GiB, "A10G", 1, 24, Decimal("0.01")),
            InstanceType("ORG:A10Gx2x8", 2000, 8 * GiB, "A10G", 1, 24, Decimal("0.005")),
        ]


def test_a_plugin_catalog_entry_replaces_the_builtin_one_by_name(run: Run, host: Host) -> None:
    host.register(_Discount(), "discount")
    code, out, _ = run("catalog", "--format", "json")
    types_ = {t["name"]: t for t in json.loads(out)["types"]}
    assert code == 0
    assert len(types_) == 46  # 45 built-in types, one replaced, one added
    assert types_["A10Gx4x16"]["price_usd_per_min"] == "0.01"
    assert types_["ORG:A10Gx2x8"]["price_usd_per_min"] == "0.005"
    chosen = _explain_json(run, "--accelerator", "A10G", "--cpu", "3", "--memory", "12Gi")["chosen"]
    assert (chosen["name"], chosen["price_usd_per_min"]) == ("A10Gx4x16", "0.01")


# hook order (tox style) -----------------------------------------------------------------------


class _Recorder:
    """Implements every hook, records each call, changes nothing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def truss_instance_catalog_entries(self) -> list[InstanceType]:
        self.calls.append("catalog_entries")
        return []

    @hookimpl
    def truss_instance_choose_instance(self, request: Request, candidates: Sequence[InstanceType]) -> None:
        self.calls.append(f"choose_instance {request.gpu_type} {len(candidates)}")

    @hookimpl
    def truss_instance_validate(self, model: Model) -> list[Diagnostic]:
        self.calls.append(f"validate {model.config.model_name} {model.chosen.name if model.chosen else None}")
        return []

    @hookimpl
    def truss_instance_before_push(self, model: Model, push: PushContext) -> list[Diagnostic]:
        self.calls.append(f"before_push {push.environment}")
        return []

    @hookimpl
    def truss_instance_after_push(self, model: Model, push: PushContext, result: PushResult) -> None:
        self.calls.append(f"after_push {result.instance_type}")


def _monitor(host: Host) -> list[tuple[str, list[str]]]:
    """(hook, implementations in the order they run) for every hook call."""
    seen: list[tuple[str, list[str]]] = []

    def before(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: dict[str, Any]) -> None:
        seen.append((hook_name.removeprefix("truss_instance_"), [i.plugin_name for i in reversed(impls)]))

    def after(*args: object) -> None:
        pass

    host.pm.add_hookcall_monitoring(before, after)
    return seen


def test_hook_order_during_check(run: Run, host: Host, model_dir: Path) -> None:
    recorder = _Recorder()
    host.register(recorder, "recorder")
    seen = _monitor(host)
    code, out, _ = run("check", "--no-lock", "gpu", "big")
    assert (code, out) == (0, "")
    assert recorder.calls == [
        "catalog_entries",  # once: the merged catalog is cached
        "choose_instance A10G 6",
        "validate gpu A10Gx4x16",
        "choose_instance H100 4",
        "validate big H100",
    ]
    both = ["recorder", BUILTIN]  # the plugin runs first, the trylast built-in last
    assert seen == [
        ("catalog_entries", both),
        ("choose_instance", both), ("validate", both),
        ("choose_instance", both), ("validate", both),
    ]  # fmt: skip


def test_hook_order_around_a_guarded_push(host: Host, model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorder = _Recorder()
    host.register(recorder, "recorder")
    params = {
        "target_directory": "gpu", "config": None, "promote": True, "environment": None,
        "preserve_env_instance_type": None, "watch_after_push": False, "model_name": None,
    }  # fmt: skip
    checked = push.before_push(params)
    assert checked is not None
    handle = types.SimpleNamespace(instance_type_name="A10Gx4x16", model_id="m1", version_id="d1")
    push.after_push(*checked, {"handle": handle, "kwargs": {"model_name": "gpu"}})
    assert recorder.calls == [
        "catalog_entries", "choose_instance A10G 6", "validate gpu A10Gx4x16", "before_push production", "after_push A10Gx4x16",
    ]  # fmt: skip
    assert "recorded deployment of gpu (A10Gx4x16)" in capsys.readouterr().err


class _Veto:
    @hookimpl
    def truss_instance_before_push(self, model: Model, push: PushContext) -> list[Diagnostic]:
        if push.environment == "production":
            return [Diagnostic("ORG001", ERROR, "no production pushes on Fridays", "push on Monday", 0, 0)]
        return []


def test_before_push_can_veto(host: Host, model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host.register(_Veto(), "veto")
    params = {
        "target_directory": "gpu", "config": None, "promote": True, "environment": None,
        "preserve_env_instance_type": None, "watch_after_push": False,
    }  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        push.before_push(params)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "error ORG001 no production pushes on Fridays" in err
    assert "push stopped before any network call" in err
    assert push.before_push({**params, "promote": False}) is not None  # a development push is not vetoed


# failures in-process -------------------------------------------------------------------------


class _Raises:
    @hookimpl
    def truss_instance_validate(self, model: Model) -> list[Diagnostic]:
        raise KeyError("resources")


def test_a_plugin_that_raises_exits_2_naming_it(run: Run, host: Host, model_dir: Path) -> None:
    host.register(_Raises(), "raiser", dist="raiser-dist", version="1.0")
    code, out, err = run("check", "--no-lock", "gpu")
    assert (code, out) == (2, "")
    assert err == (
        "truss-instance: plugin 'raiser' (distribution raiser-dist 1.0) raised in truss_instance_validate: KeyError: 'resources'\n"
    )


class _ReturnsName:
    @hookimpl
    def truss_instance_choose_instance(self, candidates: Sequence[InstanceType]) -> object:
        return candidates[0].name


class _ReturnsString:
    @hookimpl
    def truss_instance_validate(self, model: Model) -> object:
        return "looks fine"


class _ReturnsDicts:
    @hookimpl
    def truss_instance_catalog_entries(self) -> object:
        return [{"name": "A10Gx4x16"}]


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (_ReturnsName(), "returned str 'A10Gx4x16', not an InstanceType from truss_instance_choose_instance"),
        (_ReturnsString(), "returned str 'looks fine', not a list of Diagnostic from truss_instance_validate"),
        (_ReturnsDicts(), "returned a list holding dict {'name': 'A10Gx4x16'}, not InstanceType from truss_instance_catalog_entries"),
    ],
    ids=["choose", "validate", "catalog"],
)
def test_a_plugin_returning_the_wrong_type_exits_2_naming_it(run: Run, host: Host, model_dir: Path, plugin: object, message: str) -> None:
    host.register(plugin, "sloppy", dist="sloppy-dist", version="0.1")
    assert run("check", "--no-lock", "gpu") == (2, "", f"truss-instance: plugin 'sloppy' (distribution sloppy-dist 0.1) {message}\n")


class _Misspelt:
    @hookimpl
    def truss_instance_validat(self, model: Model) -> list[Diagnostic]:
        return []


class _BadArgs:
    @hookimpl
    def truss_instance_validate(self, model: Model, catalog: object) -> list[Diagnostic]:
        return []


@pytest.mark.parametrize("plugin", [_Misspelt(), _BadArgs()], ids=["misspelt-hook", "unknown-argument"])
def test_an_invalid_plugin_is_refused_and_not_left_registered(host: Host, plugin: object) -> None:
    with pytest.raises(PluginError, match=r"^plugin 'bad' is invalid: "):
        host.register(plugin, "bad")
    assert not host.pm.has_plugin("bad")
    assert [p.name for p in host.plugins()] == [BUILTIN]


# testing.register_plugin ----------------------------------------------------------------------


class _NoA10G:
    @hookimpl
    def truss_instance_validate(self, model: Model) -> list[Diagnostic]:
        f = model.parsed.fields.get("accelerator")
        if f is None or model.chosen is None or model.chosen.gpu_type != "A10G":
            return []
        return [Diagnostic("NOA10G", ERROR, "no A10G", "", f.line, f.col)]


def test_register_plugin_registers_on_the_cli_host_for_the_block(run: Run, model_dir: Path) -> None:
    line, col = position(A10G, "A10G")
    with register_plugin(_NoA10G(), name="no_a10g") as h:
        assert h is get_host()
        assert "no_a10g" in [p.name for p in h.plugins()]
        assert run("check", "--no-lock", "gpu") == (1, f"gpu/config.yaml:{line}:{col}: error NOA10G no A10G\n1 model: 1 error\n", "")
    assert not get_host().pm.has_plugin("no_a10g")
    assert run("check", "--no-lock", "gpu") == (0, "", "")


def test_register_plugin_unregisters_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), register_plugin(_NoA10G(), name="no_a10g"):
        raise RuntimeError("test failed")
    assert not get_host().pm.has_plugin("no_a10g")


@hookimpl
def truss_instance_choose_instance(request: Request, candidates: Sequence[InstanceType]) -> InstanceType | None:
    return candidates[-1]


def test_register_plugin_takes_a_bare_hookimpl_function(run: Run) -> None:
    with register_plugin(truss_instance_choose_instance):
        assert _explain_json(run, "--accelerator", "L4")["chosen"]["name"] == "L4:4x48x192"
    assert _explain_json(run, "--accelerator", "L4")["chosen"]["name"] == "L4:4x16"


def test_register_plugin_on_a_given_host_and_name_clashes(host: Host) -> None:
    other = Host(load_entry_points=False)
    with register_plugin(_NoA10G(), name="x", host=other) as h:
        assert h is other and other.pm.has_plugin("x") and not host.pm.has_plugin("x")
        with pytest.raises(PluginError, match="already registered"), register_plugin(_Raises(), name="x", host=other):
            pass
        assert isinstance(other.pm.get_plugin("x"), _NoA10G)  # the clash did not remove the first one
    assert not other.pm.has_plugin("x")


def test_register_plugin_refuses_a_misspelt_hook(host: Host) -> None:
    with pytest.raises(PluginError, match="is invalid"), register_plugin(_Misspelt()):
        pass
    assert not host.pm.has_plugin("test-plugin")


# plugins command ------------------------------------------------------------------------------


def test_plugins_lists_name_distribution_version_and_hooks(run: Run, host: Host) -> None:
    host.register(_Recorder(), "recorder", dist="recorder-dist", version="2.0")
    code, out, _ = run("plugins", "--format", "json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "recorder", "distribution": "recorder-dist", "version": "2.0", "hooks": [f"truss_instance_{h}" for h in (
            "after_push", "before_push", "catalog_entries", "choose_instance", "validate")]},
        {"name": BUILTIN, "distribution": "truss-instance-plugin", "version": truss_instance_plugin.__version__,
         "hooks": ["truss_instance_catalog_entries", "truss_instance_choose_instance", "truss_instance_validate"]},
    ]  # fmt: skip
    code, out, _ = run("plugins")
    assert out.splitlines()[1] == (
        f"{BUILTIN} (truss-instance-plugin {truss_instance_plugin.__version__}): "
        "truss_instance_catalog_entries, truss_instance_choose_instance, truss_instance_validate"
    )


# docs (datasette style) -----------------------------------------------------------------------


def test_every_hook_is_documented_with_its_signature(host: Host) -> None:
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    names = [n for n in dir(host.pm.hook) if not n.startswith("_")]
    assert names == SPEC_NAMES
    for name in names:
        caller = getattr(host.pm.hook, name)
        assert caller.spec is not None
        signature = f"{name}({', '.join(caller.spec.argnames)})"
        assert f"\n## {signature}\n" in doc, f"docs/hooks.md has no heading `## {signature}`"
        assert f"`{signature}`" in doc


def test_the_docs_cover_the_entry_point_and_the_testing_helper() -> None:
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    assert "[project.entry-points.truss_instance]" in doc
    assert 'truss_instance_plugin.testing.register_plugin(plugin, name="test-plugin", *, host=None)' in doc
    params = inspect.signature(register_plugin).parameters
    assert [(p.name, p.default) for p in params.values()] == [("plugin", inspect.Parameter.empty), ("name", "test-plugin"), ("host", None)]
    assert DISABLE_ENV in doc


def test_the_docs_examples_are_valid_python() -> None:
    blocks = re.findall(r"```python\n(.*?)```", HOOKS_DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 6
    for block in blocks:
        compile(block, "docs/hooks.md", "exec")


def test_the_docs_hook_examples_run(run: Run, host: Host, model_dir: Path) -> None:
    """The validate and choose_instance examples do what the page says."""
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    for hook in ("truss_instance_validate", "truss_instance_choose_instance", "truss_instance_catalog_entries"):
        section = doc.split(f"\n## {hook}(", 1)[1].split("\n## ", 1)[0]
        code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
        module = types.ModuleType(f"doc_{hook}")
        exec(compile(code, "docs/hooks.md", "exec"), module.__dict__)
        host.register(module, hook)
    line, col = position(H100, "H100")
    got, out, _ = run("check", "--no-lock", "big")
    assert got == 1
    assert out.startswith(f"big/config.yaml:{line}:{col}: error NOH100 H100: H100 is not allowed\n")
    # 2x memory headroom within 10%: A10G 4 vCPU/16Gi → A10Gx8x32 costs 20% more, so not taken
    assert _explain_json(run, "gpu")["chosen"]["name"] == "A10Gx4x16"
    assert _explain_json(run, "gpu")["chosen"]["price_usd_per_min"] == "0.015"  # the negotiated price


# entry points: the scanner --------------------------------------------------------------------


def fake_dist(site: Path, dist: str, version: str, entry_points: str, modules: dict[str, str] | None = None) -> None:
    """A `<dist>-<version>.dist-info` with METADATA and entry_points.txt, plus module files."""
    info = site / f"{re.sub(r'[-_.]+', '_', dist)}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\nA test plugin.\nName: not-this\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for name, text in (modules or {}).items():
        (site / f"{name}.py").write_text(textwrap.dedent(text))


def test_the_scanner_reads_dist_info_and_egg_info(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    fake_dist(first, "Org.Plugin-X", "1.2.3", "[console_scripts]\nx = x:main\n\n[truss_instance]\nx = org_x:plugin [extra]\ny = org_y\n")
    fake_dist(first, "other", "1.0", "[console_scripts]\nother = other:main\n")
    fake_dist(first, "commented", "1.0", "# [truss_instance]\n[pytest11]\np = p\n")
    fake_dist(second, "org-plugin-x", "0.1", "[truss_instance]\nold = org_x_old\n")  # shadowed by the first on the path
    egg = second / "legacy.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.9\n")
    (egg / "entry_points.txt").write_text("[truss_instance]\nlegacy = legacy_plugin\n")
    got = scan_entry_points(path=[str(first), str(tmp_path / "missing"), str(second)])
    assert [tuple(ep) for ep in got] == [
        ("x", "org_x:plugin", "Org.Plugin-X", "1.2.3"),
        ("y", "org_y", "Org.Plugin-X", "1.2.3"),
        ("legacy", "legacy_plugin", "legacy", "0.9"),
    ]


def _cli(*args: str, cwd: Path, site: Path | None = None, python: str = sys.executable, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in (DISABLE_ENV, "GITHUB_ACTIONS", "PYTHONPATH", "TRUSS_INSTANCE_DEBUG")}
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    environ.update(env)
    cmd = [python, "-m", "truss_instance_plugin", *args]
    return subprocess.run(cmd, cwd=cwd, env=environ, capture_output=True, text=True, timeout=120, check=False)


RAISER = """
    from truss_instance_plugin import hookimpl

    @hookimpl
    def truss_instance_validate(model):
        return [d for d in model.nothing]
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("dist", "entry_points", "modules", "message"),
    [
        ("broken-import", "[truss_instance]\nbroken = truss_instance_not_installed\n", {},
         "plugin 'broken' (distribution broken-import 1.0) failed to load: "
         "ModuleNotFoundError: No module named 'truss_instance_not_installed'"),
        ("raises-on-import", "[truss_instance]\nboom = boom_plugin\n", {"boom_plugin": "raise RuntimeError('no config')\n"},
         "plugin 'boom' (distribution raises-on-import 1.0) failed to load: RuntimeError: no config"),
        ("bad-attr", "[truss_instance]\nattr = attr_plugin:Plugin\n", {"attr_plugin": "X = 1\n"},
         "plugin 'attr' (distribution bad-attr 1.0) failed to load: AttributeError: module 'attr_plugin' has no attribute 'Plugin'"),
        ("misspelt", "[truss_instance]\ntypo = typo_plugin\n",
         {"typo_plugin": "from truss_instance_plugin import hookimpl\n@hookimpl\ndef truss_instance_validat(model):\n    return []\n"},
         "plugin 'typo' (distribution misspelt 1.0) is invalid: unknown hook 'truss_instance_validat'"),
        ("raises-in-hook", "[truss_instance]\nraiser = raiser_plugin\n", {"raiser_plugin": RAISER},
         "plugin 'raiser' (distribution raises-in-hook 1.0) raised in truss_instance_validate: "
         "AttributeError: 'Model' object has no attribute 'nothing'"),
    ],
    ids=["missing-module", "raises-on-import", "missing-attribute", "misspelt-hook", "raises-in-hook"],
)  # fmt: skip
def test_a_broken_installed_plugin_exits_2_naming_plugin_and_distribution(
    tmp_path: Path, dist: str, entry_points: str, modules: dict[str, str], message: str
) -> None:
    site = tmp_path / "site"
    fake_dist(site, dist, "1.0", entry_points, modules)
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "config.yaml").write_text(A10G)
    got = _cli("check", "--no-lock", "gpu", cwd=tmp_path, site=site)
    assert (got.returncode, got.stdout) == (2, "")
    assert got.stderr.startswith(f"truss-instance: {message}"), got.stderr
    assert len(got.stderr.splitlines()) == 1 and "Traceback" not in got.stderr
    # disabling it is the way out; it is not even imported
    name = entry_points.split("\n")[1].split(" =")[0]
    ok = _cli("check", "--no-lock", "gpu", cwd=tmp_path, site=site, **{DISABLE_ENV: name})
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


@pytest.mark.e2e
@pytest.mark.parametrize("disabled", ["broken", "Broken-Import", "broken_import", "something-else, broken ,"])
def test_disable_by_entry_point_or_distribution_name(tmp_path: Path, disabled: str) -> None:
    site = tmp_path / "site"
    fake_dist(site, "broken-import", "1.0", "[truss_instance]\nbroken = truss_instance_not_installed\n")
    got = _cli("plugins", "--format", "json", cwd=tmp_path, site=site, **{DISABLE_ENV: disabled})
    assert (got.returncode, got.stderr) == (0, "")
    assert [p["name"] for p in json.loads(got.stdout)] == [BUILTIN]


@pytest.mark.e2e
def test_the_builtin_cannot_be_disabled(tmp_path: Path) -> None:
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "config.yaml").write_text(A10G)
    got = _cli("check", "-v", "--no-lock", "gpu", cwd=tmp_path, **{DISABLE_ENV: BUILTIN})
    assert (got.returncode, got.stderr) == (0, "")
    assert got.stdout.startswith("gpu/config.yaml: A10Gx4x16")


@pytest.mark.e2e
def test_the_check_path_never_imports_importlib_metadata(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_dist(site, "quiet", "1.0", "[truss_instance]\nquiet = quiet_plugin\n", {"quiet_plugin": "X = 1\n"})
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "config.yaml").write_text(A10G)
    code = (
        "import sys; from truss_instance_plugin.cli import main; rc = main(['check', '--no-lock', 'gpu']); "
        "assert 'quiet_plugin' in sys.modules, 'the entry point was not loaded'; "
        "bad = sorted(m for m in sys.modules if m.startswith(('importlib.metadata', 'importlib_metadata', 'pkg_resources'))); "
        "print(rc, bad)"
    )
    environ = {k: v for k, v in os.environ.items() if k not in (DISABLE_ENV, "PYTHONPATH")}
    environ["PYTHONPATH"] = str(site)
    got = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (0, "0 []\n", "")


# a real plugin, pip-installed into a temp virtualenv -------------------------------------------


def _offline_build() -> bool:
    """Can setuptools build a wheel here without fetching anything? (bdist_wheel is built in from 70.1)"""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in re.findall(r"\d+", setuptools.__version__)[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv on top of this one (a `_parent.pth`) with tests/plugins/truss_instance_no_h100 pip-installed.

    `--without-pip`: the parent's pip is importable through `_parent.pth` and installs into the
    child (pip installs into the running interpreter's scheme); that saves ensurepip's seconds.
    """
    venv = tmp_path_factory.mktemp("plugin-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    ours = str(Path(truss_instance_plugin.__file__).resolve().parents[1])  # an editable install's finder .pth is not read there
    parent = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], ours])
    Path(purelib, "_parent.pth").write_text("".join(f"{p}\n" for p in parent))
    src = venv.parent / "src"  # a copy: setuptools writes build/ and *.egg-info into the source tree
    shutil.copytree(PLUGIN_SRC, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    args = [str(python), "-m", "pip", "install", "--no-deps", "--no-input", "--disable-pip-version-check", "--quiet"]
    if _offline_build():
        args.append("--no-build-isolation")
    got = subprocess.run([*args, str(src)], capture_output=True, text=True, timeout=600, check=False)
    assert got.returncode == 0, got.stdout + got.stderr
    assert list(Path(purelib).glob("truss_instance_no_h100-0.1.0.dist-info")), "not installed into the child virtualenv"
    return python


@pytest.fixture
def h100_model(tmp_path: Path, plugin_venv: Path) -> Path:
    """big/config.yaml asks for an H100; its lockfile is written with the plugin disabled."""
    (tmp_path / "big" / "model").mkdir(parents=True)
    (tmp_path / "big" / "config.yaml").write_text(H100)
    got = _cli("lock", "big", cwd=tmp_path, python=str(plugin_venv), **{DISABLE_ENV: "no_h100"})
    assert got.returncode == 0 and got.stdout.startswith("wrote big/truss-instance.lock (new): H100 "), got.stdout + got.stderr
    return tmp_path


@pytest.mark.e2e
def test_real_plugin_fails_an_h100_model_at_the_accelerator(plugin_venv: Path, h100_model: Path) -> None:
    got = _cli("check", "big", cwd=h100_model, python=str(plugin_venv))
    line, col = position(H100, "H100")
    assert (got.returncode, got.stderr) == (1, "")
    assert got.stdout == (
        f"big/config.yaml:{line}:{col}: error NOH100 H100: H100 instance types are not allowed in this organisation\n"
        "  use A100 or L4 (plugin no_h100)\n"
        "1 model: 1 error\n"
    )
    parsable = _cli("check", "--format", "json", "big", cwd=h100_model, python=str(plugin_venv))
    diags = json.loads(parsable.stdout)["models"][0]["diagnostics"]
    assert [(d["code"], d["line"], d["col"]) for d in diags] == [("NOH100", line, col)]


@pytest.mark.e2e
def test_real_plugin_disabled_by_env(plugin_venv: Path, h100_model: Path) -> None:
    got = _cli("check", "big", cwd=h100_model, python=str(plugin_venv), **{DISABLE_ENV: "no_h100"})
    assert (got.returncode, got.stdout, got.stderr) == (0, "", "")
    plugins = _cli("plugins", "--format", "json", cwd=h100_model, python=str(plugin_venv), **{DISABLE_ENV: "no_h100"})
    assert [p["name"] for p in json.loads(plugins.stdout)] == [BUILTIN]


@pytest.mark.e2e
def test_real_plugin_is_listed_with_its_distribution(plugin_venv: Path, tmp_path: Path) -> None:
    got = _cli("plugins", "--format", "json", cwd=tmp_path, python=str(plugin_venv))
    assert got.returncode == 0, got.stderr
    listed = {p["name"]: p for p in json.loads(got.stdout)}
    assert listed["no_h100"] == {
        "name": "no_h100", "distribution": "truss-instance-no-h100", "version": "0.1.0", "hooks": ["truss_instance_validate"],
    }  # fmt: skip
    assert listed[BUILTIN]["distribution"] == "truss-instance-plugin"
    assert all(ep.name != "no_h100" for ep in scan_entry_points()), "installed into the parent environment"


HEAVY = (
    "truss",
    "pydantic",
    "rich",
    "click",
    "pluggy",
    "importlib.metadata",
    "typing",
    "contextlib",
    "truss_instance_plugin.lock.atomic",
    "truss_instance_plugin.core.parallel",
)


@pytest.mark.e2e
def test_the_check_path_imports_nothing_heavy_without_plugins(tmp_path: Path) -> None:
    """With only the built-in plugin, hooks are called directly: not even pluggy (or typing) is imported."""
    shutil.copytree(Path(__file__).parents[1] / "examples" / "sdxl", tmp_path / "sdxl")
    code = (
        "import sys; from truss_instance_plugin.cli import main; rc = main(['check', 'sdxl']); "
        f"print(rc, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))"
    )
    environ = {k: v for k, v in os.environ.items() if k not in (DISABLE_ENV, "PYTHONPATH")}
    got = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (0, "0 []\n", "")


def test_named_tuples_are_built_as_typing_builds_them() -> None:
    """truss_instance_plugin._typing.NamedTuple: same fields, defaults, methods, docstring, repr and pickling."""
    import pickle

    from truss_instance_plugin.model import Model, PushContext

    for cls in (Model, PushContext):
        assert issubclass(cls, tuple) and cls.__module__ == "truss_instance_plugin.model"
        assert tuple(cls.__annotations__) == cls._fields
    assert Model.__doc__ == "Everything known about one model (what hooks receive)."
    ctx = PushContext(*(None for _ in PushContext._fields))
    assert pickle.loads(pickle.dumps(ctx)) == ctx
    assert repr(ctx).startswith("PushContext(environment=None, ")
    import typing

    from truss_instance_plugin._typing import NamedTuple

    class Ours(NamedTuple):
        """Doc."""

        a: int
        b: str = "x"

        def twice(self) -> int:
            return self.a * 2

    class Theirs(typing.NamedTuple):
        """Doc."""

        a: int
        b: str = "x"

        def twice(self) -> int:
            return self.a * 2

    for c in (Ours, Theirs):
        assert (c._fields, c._field_defaults, c.__doc__, c(2).twice(), c(1)._replace(b="y")) == (
            ("a", "b"),
            {"b": "x"},
            "Doc.",
            4,
            c(1, "y"),
        )
        assert repr(c(1)) == f"{c.__name__}(a=1, b='x')"


class _BuggyPlugin:
    """A validation rule that returns a diagnostic without a position for one model (its author's bug)."""

    @hookimpl
    def truss_instance_validate(self, model: object) -> Sequence[Diagnostic]:
        if "bad" not in str(getattr(model, "path", "")):
            return []
        return [Diagnostic("X1", ERROR, "one", "", None, None), Diagnostic("X2", ERROR, "two", "", 1, 1)]  # type: ignore[arg-type]


@pytest.mark.usefixtures("cwd")
def test_one_model_failing_never_takes_the_others_down(run: Run) -> None:
    make_truss("a-good", 'model_name: g\nresources:\n  cpu: "2"\n')
    make_truss("b-bad", 'model_name: b\nresources:\n  cpu: "2"\n')
    make_truss("c-good", 'model_name: h\nresources:\n  cpu: "4"\n')
    with register_plugin(_BuggyPlugin(), "buggy"):
        code, out, err = run("check", "--no-lock", "--format", "json", ".")
        models = json.loads(out)["models"]
        assert (code, err) == (1, "")
        assert [(m["config"], m["instance"]["name"] if m["instance"] else None) for m in models] == [
            ("a-good/config.yaml", "2x8"),
            ("b-bad/config.yaml", None),
            ("c-good/config.yaml", "4x16"),
        ]
        (diag,) = models[1]["diagnostics"]
        assert diag["code"] == "TI099" and diag["message"].startswith("unexpected failure while checking this model: TypeError: ")
        code, out, _ = run("lock", ".")
        assert code == 1
        assert out.splitlines()[0] == "wrote a-good/truss-instance.lock (new): 2x8 $0.00173/min"
        assert out.splitlines()[1].startswith("b-bad/config.yaml:1:1: error TI099 unexpected failure")
        assert out.splitlines()[-2:] == ["wrote c-good/truss-instance.lock (new): 4x16 $0.00346/min", "wrote 2 locks, 1 not written"]
