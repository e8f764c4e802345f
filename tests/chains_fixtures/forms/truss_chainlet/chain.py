# ruff: noqa: B008
"""A TrussChainlet: truss deploys its truss_dir's config.yaml as is."""

import truss_chains as chains


class Wrapped(chains.TrussChainlet):
    truss_dir = "wrapped"


@chains.mark_entrypoint
class Caller(chains.ChainletBase):
    def __init__(self, wrapped=chains.depends(Wrapped)) -> None:
        self._wrapped = wrapped

    def run_remote(self, text: str) -> str:
        return text
