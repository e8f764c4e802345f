"""Which lock belongs to which config: truss-instance.lock beside config.yaml, truss-instance.NAME.lock beside NAME.yaml
(or NAME.yml, or a chain file NAME.py), every dot of the name kept, and no two configs sharing one lockfile."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin.discover import config_for_lock, lock_path

CPU = 'model_name: a\nresources:\n  cpu: "1"\n  memory: 2Gi\n'


GPU = "model_name: b\nresources:\n  accelerator: T4\n"


CHAIN = (
    "import truss_chains as chains\n\n\n@chains.mark_entrypoint\nclass Prod(chains.ChainletBase):\n"
    "    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=1, memory='2Gi'))\n\n"
    "    def run_remote(self) -> None:\n        pass\n"
)


# NAME.yaml and NAME.yml (or a chain file NAME.py) map to one truss-instance.NAME.lock: `lock` on one of them
# overwrote the other's lockfile, and with it its deployment record.
@pytest.mark.parametrize(("other", "text"), [("prod.yml", GPU), ("prod.py", CHAIN)])
@pytest.mark.usefixtures("truss_cwd")
def test_configs_that_would_share_a_lockfile_are_refused(run: Run, other: str, text: str) -> None:
    Path("prod.yaml").write_text(CPU)
    Path(other).write_text(text)
    for command in ("lock", "check"):
        code, out, err = run(command, "prod.yaml")
        assert code == 2, (command, out, err)
        assert out.startswith(
            f"truss-instance.prod.lock: error TI104 truss-instance.prod.lock cannot be used: {other} beside it would use the "
            f"same lockfile\n  rename prod.yaml or {other}: each config needs a lockfile of its own\n"
        ), out
    assert not Path("truss-instance.prod.lock").exists()
    code, out, _ = run("lock", other)
    assert code == 2 and "cannot be used: prod.yaml beside it would use the same lockfile" in out, out
    assert not Path("truss-instance.prod.lock").exists()


@pytest.mark.usefixtures("truss_cwd")
def test_a_helper_py_beside_a_named_config_is_not_a_sharer(run: Run) -> None:
    Path("prod.yaml").write_text(CPU)
    Path("prod.py").write_text("print('not a chain')\n")
    code, out, _ = run("lock", "prod.yaml")
    assert (code, out) == (0, "wrote truss-instance.prod.lock (new): 1x2 $0.00058/min\n")


@pytest.mark.usefixtures("truss_cwd")
def test_a_named_lockfile_maps_to_its_yml_config(run: Run) -> None:
    Path("prod.yml").write_text(GPU)
    assert run("lock", "prod.yml")[0] == 0
    assert run("check", "truss-instance.prod.lock") == (0, "", "")
    assert run("check", "--hook", "truss-instance.prod.lock") == (0, "", "")


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
