"""Truss rejects this chain: Compute(1, "2Gi", None, 1, 1, None, 7)."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(1, "2Gi", None, 1, 1, None, 7))

    def run_remote(self, text: str) -> str:
        return text
