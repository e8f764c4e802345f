"""Truss rejects this chain: Accelerator has no member A10."""

import truss_chains as chains
from truss.base.truss_config import Accelerator


class Bad(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu=Accelerator.A10))

    def run_remote(self, text: str) -> str:
        return text
