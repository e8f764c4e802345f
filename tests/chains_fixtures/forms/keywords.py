# ruff: noqa: B008
"""Compute and RemoteConfig with keyword arguments; a marked entrypoint that depends on two chainlets."""

import truss_chains as chains


class Embed(chains.ChainletBase):
    remote_config = chains.RemoteConfig(
        compute=chains.Compute(cpu_count=4, memory="10Gi", gpu="L4"),
        name="Embedder",
    )

    def run_remote(self, text: str) -> str:
        return text


class Rerank(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="A10G", gpu_count=2, memory="16Gi"))

    def run_remote(self, text: str) -> str:
        return text


class Unused(chains.ChainletBase):  # not a dependency of the entrypoint: truss does not deploy it
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="H100", gpu_count=8))

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Pipeline(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="4Gi"))

    def __init__(self, embed: Embed = chains.depends(Embed), rerank: Rerank = chains.depends(Rerank, retries=3)) -> None:
        self._embed = embed
        self._rerank = rerank

    def run_remote(self, text: str) -> str:
        return self._rerank.run_remote(self._embed.run_remote(text))
