"""A local module of chain.py: read statically there, never imported by truss-instance."""

import truss_chains as chains

GPU = "H100"


class H100Base(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=8, memory="64Gi", gpu=GPU))

    def run_remote(self, text: str) -> str:
        return text
