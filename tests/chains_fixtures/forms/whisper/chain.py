# ruff: noqa: B008
"""The entrypoint depends on a chainlet imported from a sibling module."""

import truss_chains as chains
from whisper_chainlet import WhisperModel


@chains.mark_entrypoint
class Transcribe(chains.ChainletBase):
    def __init__(self, whisper: WhisperModel = chains.depends(WhisperModel)) -> None:
        self._whisper = whisper

    def run_remote(self, audio_b64: str) -> str:
        return self._whisper.run_remote(audio_b64)
