# ruff: noqa: B008
"""Chainlets that leave compute to truss's defaults (cpu_count 1, memory "2Gi", no GPU)."""

import truss_chains as chains


class NoConfig(chains.ChainletBase):
    def run_remote(self, text: str) -> str:
        return text


class NoCompute(chains.ChainletBase):
    remote_config = chains.RemoteConfig(docker_image=chains.DockerImage(pip_requirements=["numpy"]), name="Named")

    def run_remote(self, text: str) -> str:
        return text


class EmptyCompute(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute())

    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Entry(chains.ChainletBase):
    def __init__(
        self,
        a: NoConfig = chains.depends(NoConfig),
        b: NoCompute = chains.depends(NoCompute),
        c: EmptyCompute = chains.depends(EmptyCompute),
    ) -> None:
        self._a = a

    def run_remote(self, text: str) -> str:
        return self._a.run_remote(text)
