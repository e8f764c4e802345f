# ruff: noqa: B008
"""Values from module-level constants, class-body names, expressions and truss's Accelerator enum."""

import truss_chains as chains
from truss.base import truss_config
from truss.base.truss_config import Accelerator

CPUS = 8
MEMORY_GIB = 32
MEMORY = f"{MEMORY_GIB}Gi"
GPU = truss_config.Accelerator.H100
BIG = chains.Compute(cpu_count=CPUS, memory=MEMORY, gpu=GPU, gpu_count=2)
SMALL = chains.RemoteConfig(compute=chains.Compute(cpu_count=CPUS // 4, memory="8" + "Gi", gpu=Accelerator.L4), name="Small")


class Big(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=BIG)

    def run_remote(self, text: str) -> str:
        return text


class Tiny(chains.ChainletBase):
    remote_config = SMALL

    def run_remote(self, text: str) -> str:
        return text


class ClassBody(chains.ChainletBase):
    cpus = 12
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=cpus, memory="64Gi", gpu=Accelerator("A100")))

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Entry(chains.ChainletBase):
    def __init__(
        self,
        big: Big = chains.depends(Big),
        tiny: Tiny = chains.depends(Tiny),
        body: ClassBody = chains.depends(ClassBody),
    ) -> None:
        self._big = big

    def run_remote(self, text: str) -> str:
        return self._big.run_remote(text)
