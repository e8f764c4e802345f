"""Truss rejects this chain: Compute(cpu=4)."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu=4))

    def run_remote(self, text: str) -> str:
        return text
