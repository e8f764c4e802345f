"""Truss rejects this chain: a chainlet name must match [a-zA-Z0-9_-]+."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2), name="My Embedder")

    def run_remote(self, text: str) -> str:
        return text
