"""A single model written as a Python file (`truss push my_model.py`)."""

import truss_chains as chains


class MyModel(chains.ModelBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="8Gi", gpu="T4"), name="my model")

    def predict(self, prompt: str) -> str:
        return prompt
