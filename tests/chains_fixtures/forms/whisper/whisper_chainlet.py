"""A chainlet in its own module, imported by chain.py."""

import truss_chains as chains


class WhisperModel(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="A10G", memory="12Gi"), name="Whisper")

    def run_remote(self, audio_b64: str) -> str:
        return audio_b64
