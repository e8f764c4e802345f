"""Truss rejects this chain: Compute(gpu="A10G:2")."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="A10G:2"))

    def run_remote(self, text: str) -> str:
        return text
