"""Compute with positional arguments (cpu_count, memory, gpu, gpu_count) and a named chain."""

import truss_chains as chains


@chains.mark_entrypoint("Positional Chain")
class Positional(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(4, "16Gi", "A10G", 2))

    def run_remote(self, text: str) -> str:
        return text
