# ruff: noqa: B008
"""Values that cannot be read without running the code: each is a warning, and that chainlet gets no instance."""

import os

import truss_chains as chains
from mylib.settings import SHARED_GPU

if os.environ.get("BIG"):  # noqa: SIM108
    MEMORY = "64Gi"
else:
    MEMORY = "16Gi"


def pick_memory() -> str:
    return "16Gi"


class FromEnv(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu=os.environ["GPU"]))

    def run_remote(self, text: str) -> str:
        return text


class FromCall(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=int(os.getenv("CPUS", "4")), memory=pick_memory()))

    def run_remote(self, text: str) -> str:
        return text


class FromInstalled(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu=SHARED_GPU))

    def run_remote(self, text: str) -> str:
        return text


class FromBlock(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(memory=MEMORY))

    def run_remote(self, text: str) -> str:
        return text


class Readable(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="8Gi"))

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Entry(chains.ChainletBase):
    def __init__(
        self,
        env: FromEnv = chains.depends(FromEnv),
        call: FromCall = chains.depends(FromCall),
        installed: FromInstalled = chains.depends(FromInstalled),
        block: FromBlock = chains.depends(FromBlock),
        readable: Readable = chains.depends(Readable),
    ) -> None:
        self._env = env

    def run_remote(self, text: str) -> str:
        return text
