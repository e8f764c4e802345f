"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from truss_instance_plugin import cli, plugins
from truss_instance_plugin.catalog import Catalog, GiB, InstanceType, embedded_types, make_catalog
from truss_instance_plugin.hookspecs import hookimpl
from truss_instance_plugin.plugins import Host
from truss_instance_plugin.request import Request

REPO = Path(__file__).resolve().parents[1]
SDXL = REPO / "examples" / "sdxl"
GOLDEN = (SDXL / "truss-instance.lock").read_bytes()  # the example's committed lock
TRUSS_INSTANCE = Path(sys.executable).parent / "truss-instance"  # the console script of the environment under test

CATALOG = make_catalog(embedded_types())  # the embedded catalog, as the CLI has it without plugins

Run = Callable[..., "tuple[int, str, str]"]


# A chain file: the entrypoint Main (2x4) and the A10G chainlet Embed it depends on.
CHAIN = """import truss_chains as chains


class Embed(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=4, memory="16Gi", gpu="A10G"), name="Embed")

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Main(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="4Gi"))

    def __init__(self, embed: Embed = chains.depends(Embed)) -> None:
        self._embed = embed

    def run_remote(self, text: str) -> str:
        return self._embed.run_remote(text)
"""


def req(
    millicores: int = 1000, memory: int = 2 * GiB, gpu: str | None = None, count: int | None = None, nodes: int = 1, pin: str | None = None
) -> Request:
    """A normalized request: 1 vCPU, 2 GiB, one node, no pin by default.

    The GPU count defaults to 1 when a GPU type is given and 0 without one (as the normaliser reads `accelerator: A10G`);
    pass `count=` to ask for any other count, `count=0` included.
    """
    return Request(millicores, memory, gpu, (1 if gpu else 0) if count is None else count, nodes, pin)


def get(name: str, catalog: Catalog = CATALOG) -> InstanceType:
    """The catalog's type of this name (which must be there)."""
    t = catalog.get(name)
    assert t is not None, name
    return t


SDXL_REQUEST = req(4000, 16 * GiB, "A10G")  # examples/sdxl's request, as its lock records it
# Two nodes of eight H200 each: the catalog Baseten configures for multi-node customers.
TWO_NODE = InstanceType("H200:2x8", 256_000, 3200 * GiB, "H200", 8, 141, Decimal("2.00000"), True, 2)
TI024_HINT = "multi-node types are configured by Baseten; confirm the type and price with them"


def make_truss(name: str, text: str | bytes) -> Path:
    """`name`/config.yaml (relative to the cwd) with these bytes, and a model/ folder: a truss."""
    (Path(name) / "model").mkdir(parents=True, exist_ok=True)
    path = Path(name) / "config.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def resources_config(name: str, resources: str) -> Path:
    """`name`/config.yaml (relative to the cwd) with `model_name: name` and this resources block (one key a line)."""
    folder = Path(name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(f"model_name: {name}\nresources:\n" + "".join(f"  {line}\n" for line in resources.splitlines()))
    return path


def position(text: str, value: str) -> tuple[int, int]:
    """1-based line and column of the first `value` in `text`."""
    for n, line in enumerate(text.splitlines(), 1):
        if value in line:
            return n, line.index(value) + 1
    raise AssertionError(f"{value!r} not in the text")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr); a traceback is never acceptable."""
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_console(*argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The real console script in a subprocess (a hang fails the test through the timeout); the caller marks it e2e."""
    return subprocess.run([str(TRUSS_INSTANCE), *argv], capture_output=True, text=True, timeout=timeout, check=False)


def git(*args: str) -> str:
    """git in the cwd's repository (raises if it fails): its stdout without the trailing newline."""
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


def commit(message: str = "change") -> None:
    """Commit everything in the work tree."""
    git("add", "-A")
    git("commit", "-q", "-m", message)


def model(folder: str, config: str) -> None:
    """A truss folder as `truss init` leaves it: config.yaml and model/model.py."""
    path = Path(folder)
    (path / "model").mkdir(parents=True, exist_ok=True)
    (path / "model" / "model.py").write_text("class Model:\n    pass\n")
    (path / "config.yaml").write_text(config)


def copy_sdxl(dest: Path, with_lock: bool = False) -> Path:
    """A copy of examples/sdxl at `dest` (without its committed lock unless asked)."""
    ignore = None if with_lock else shutil.ignore_patterns("truss-instance.lock")
    shutil.copytree(SDXL, dest, ignore=ignore)
    return dest


def golden(old: str, new: str) -> bytes:
    """The example's lock with the first `old` replaced by `new` (which must be there)."""
    text = GOLDEN.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


class Entries:
    """A catalog plugin: contributes (or, by name, replaces) instance types."""

    def __init__(self, types: Sequence[InstanceType]) -> None:
        self.types = list(types)

    @hookimpl
    def truss_instance_catalog_entries(self) -> Sequence[InstanceType]:
        return self.types


def with_entries(*types: InstanceType) -> Host:
    """From now on the CLI's catalog has these types too: a fresh process-wide host (conftest restores the default)."""
    h = Host(load_entry_points=False)
    h.register(Entries(types), name="catalog-change")
    plugins.reset_host(h)
    return h


def in_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a command with its stdout on a pseudo-terminal; (exit code, everything it printed)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(argv, stdout=child, stderr=child, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")
