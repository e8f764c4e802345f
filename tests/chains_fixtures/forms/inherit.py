# ruff: noqa: B008
"""remote_config inherited from a chainlet base class and from a mixin, in Python's method resolution order."""

import truss_chains as chains


class GpuBase(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=4, memory="16Gi", gpu="A10G"))

    def run_remote(self, text: str) -> str:
        return text


class Child(GpuBase):
    def run_remote(self, text: str) -> str:
        return text.upper()


class L4Config:
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="L4"))


class MixinFirst(L4Config, chains.ChainletBase):  # the mixin comes first: its remote_config wins
    def run_remote(self, text: str) -> str:
        return text


class MixinLast(chains.ChainletBase, L4Config):  # ChainletBase's default remote_config comes first
    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Entry(chains.ChainletBase):
    def __init__(
        self,
        child: Child = chains.depends(Child),
        first: MixinFirst = chains.depends(MixinFirst),
        last: MixinLast = chains.depends(MixinLast),
    ) -> None:
        self._child = child

    def run_remote(self, text: str) -> str:
        return self._child.run_remote(text)
