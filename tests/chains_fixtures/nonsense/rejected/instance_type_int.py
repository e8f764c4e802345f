"""Truss rejects this chain: Compute(instance_type=3)."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(instance_type=3))

    def run_remote(self, text: str) -> str:
        return text
