# ruff: noqa: B008
"""A chainlet whose remote_config comes from a base class in a local module."""

import bases
import truss_chains as chains


class Big(bases.H100Base):
    def run_remote(self, text: str) -> str:
        return text


@chains.mark_entrypoint
class Entry(chains.ChainletBase):
    def __init__(self, big: Big = chains.depends(Big)) -> None:
        self._big = big

    def run_remote(self, text: str) -> str:
        return self._big.run_remote(text)
