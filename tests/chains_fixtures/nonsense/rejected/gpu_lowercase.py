"""Truss rejects this chain: Compute(gpu="a10g")."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="a10g"))

    def run_remote(self, text: str) -> str:
        return text
