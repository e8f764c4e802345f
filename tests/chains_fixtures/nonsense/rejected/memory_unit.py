"""Truss rejects this chain: Compute(memory="2GB")."""

import truss_chains as chains


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(memory="2GB"))

    def run_remote(self, text: str) -> str:
        return text
