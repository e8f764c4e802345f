"""Each command's PATH help names what it takes (a lockfile; a chain file where chains are read), and it takes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run, copy_sdxl

CHAIN = """import truss_chains as chains


@chains.mark_entrypoint
class Main(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="4Gi"))

    def run_remote(self, text: str) -> str:
        return text
"""

HELP = {
    ("check",): "truss dir, config file, lockfile, chain file (.py), or a tree (default .)",
    ("explain",): "truss dir, config file, lockfile, chain file (.py), or a tree (default: the truss in ., else a what-if)",
    ("lock",): "truss dir, config file, lockfile, chain file (.py), or a tree (default .)",
    ("adopt",): "truss dir, config file, lockfile, or chain file (.py)",
    ("fit", "fetch"): "truss dir, config file, lockfile, or a tree (default .)",
}


@pytest.mark.parametrize(("argv", "text"), HELP.items())
def test_path_help(run: Run, argv: tuple[str, ...], text: str) -> None:
    out = " ".join(run(*argv, "--help")[1].split())  # argparse wraps at the terminal's width
    assert f" PATH {text} " in out


def test_each_takes_a_lockfile_and_a_chain_file(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    copy_sdxl(Path("m"), with_lock=True)
    Path("chain.py").write_text(CHAIN)
    assert run("lock", "chain.py") == (0, "wrote truss-instance.chain.lock (new): [Main] 2x8 $0.00173/min\n", "")
    for argv in (("check",), ("explain",), ("lock",), ("adopt",)):
        for path in ("m/truss-instance.lock", "chain.py", "truss-instance.chain.lock"):
            code, _, err = run(*argv, path)
            assert (code, err) == (0, ""), (argv, path)
