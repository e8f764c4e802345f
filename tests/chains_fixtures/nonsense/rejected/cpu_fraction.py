"""Truss rejects this chain: Compute(cpu_count=1.5)."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=1.5))

    def run_remote(self, text: str) -> str:
        return text
