"""Properties of the fit arithmetic (core/memory.py): more tensor parallel never needs more memory per GPU, and a GPU
with more memory never gets a worse verdict (over the GPU sizes the catalog has, and fractions from 0.5 to 0.99)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from truss_instance_plugin.catalog import embedded_types
from truss_instance_plugin.core.memory import GiB, Inputs, kv_bytes, verdict
from truss_instance_plugin.core.sizes import ModelConfig

VRAMS = sorted({t.vram_gib for t in embedded_types() if t.gpu_type})
RANK = {"does-not-fit": 0, "unknown": 1, "tight": 1, "fits": 2}

configs = st.builds(
    ModelConfig,
    num_hidden_layers=st.integers(1, 128),
    num_attention_heads=st.sampled_from([8, 16, 32, 64, 96, 128]),
    num_key_value_heads=st.sampled_from([None, 1, 2, 4, 8, 16]),
    head_dim=st.sampled_from([None, 64, 128, 256]),
    hidden_size=st.sampled_from([1024, 4096, 8192]),
    max_position_embeddings=st.sampled_from([2048, 32768, 131072]),
    kv_lora_rank=st.sampled_from([None, None, 512]),
    qk_rope_head_dim=st.sampled_from([None, 64]),
    sliding_window=st.sampled_from([None, None, 4096]),
    sliding_window_pattern=st.sampled_from([None, 6]),
    layer_types=st.sampled_from([None, {"full_attention": 8, "sliding_attention": 24}, {"linear_attention": 30, "full_attention": 10}]),
)
fractions = st.integers(50, 99).map(lambda n: Decimal(n) / 100)
inputs = st.builds(
    Inputs,
    engine=st.sampled_from(["vllm", "sglang", "tgi", "trtllm", "lmdeploy", "tei", "python", "trtllm-encoder"]),
    weights=st.integers(0, 2 << 40),
    estimated=st.booleans(),
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.sampled_from([1, 1, 2]),
    max_len=st.sampled_from([None, 1, 4096, 131072, 1 << 20]),
    config=st.one_of(st.none(), configs),
    kv_bits=st.sampled_from([4, 8, 16, 32]),
    fraction=st.one_of(st.none(), fractions.map(lambda f: (f, f))),
    fraction_text=st.just(""),
    version=st.sampled_from([None, "0.4.9", "0.5.2", "0.6.3", "0.10.0", "0.29.0"]),
    sglang=st.tuples(st.sampled_from([None, 2048, 8192]), st.sampled_from([None, 8, 256]), st.sampled_from([None, "eagle"])),
)


def _need(v_need: int | None, per_gpu: int | None) -> int:
    return v_need if v_need is not None else per_gpu or 0


@given(inputs, st.sampled_from(VRAMS), st.sampled_from([1, 2, 4, 8]))
def test_more_tensor_parallel_never_needs_more_per_gpu(i: Inputs, vram: int, gpus: int) -> None:
    needs = [verdict(i, vram * GiB, gpus, tp) for tp in (1, 2, 4, 8)]
    per_gpu = [_need(v.need, v.weights_per_gpu) for v in needs]
    assert per_gpu == sorted(per_gpu, reverse=True)


@given(configs, st.integers(1, 1 << 20), st.sampled_from([4, 8, 16]))
def test_the_kv_cache_per_gpu_never_grows_with_tensor_parallel(config: ModelConfig, length: int, bits: int) -> None:
    sizes = [kv_bytes(config, tp, 1, bits, length) for tp in (1, 2, 4, 8, 16)]
    assert sizes == sorted(sizes, key=lambda s: -1 if s is None else -s) or None in sizes


@given(inputs, st.sampled_from([1, 2, 4, 8]))
def test_more_vram_never_gives_a_worse_verdict(i: Inputs, gpus: int) -> None:
    ranks = [RANK[verdict(i, vram * GiB, gpus).verdict] for vram in VRAMS]
    assert ranks == sorted(ranks)
