"""Truss rejects this chain: Compute(memory=16)."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(memory=16))

    def run_remote(self, text: str) -> str:
        return text
