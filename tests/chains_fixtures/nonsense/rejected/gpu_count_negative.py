"""Truss rejects this chain: Compute(gpu="A10G", gpu_count=-1)."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="A10G", gpu_count=-1))

    def run_remote(self, text: str) -> str:
        return text
