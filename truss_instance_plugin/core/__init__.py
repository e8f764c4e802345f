"""The offline pipeline for one model: policy, resolution, the built-in plugin, and running it on every CPU."""
