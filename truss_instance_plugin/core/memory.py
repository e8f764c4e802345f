"""GPU memory arithmetic for the fit check, pure and exact: bytes are integers, memory fractions Decimals from their text.

need per GPU   = the weights ÷ (tensor parallel × pipeline parallel) + the KV cache of one max-length sequence
budget per GPU = what the engine lets weights and KV cache use: vLLM's gpu_memory_utilization and SGLang's
                 mem_fraction_static of the GPU's VRAM, TensorRT-LLM's (and lmdeploy's) fraction of what the weights
                 leave free, the whole GPU for a Python model or an embedding server
band           = what no config says: activations, CUDA graphs, NCCL buffers, usable VRAM below nominal
                 (1 GiB + 5% of VRAM; + 20% of the weights where there is no KV cache to size; + 10% of the weights
                 when they are estimated from a quantization applied at build time)

does-not-fit: need > budget (even at the most generous budget: certain, the deploy fails); tight: need ≤ budget <
need + band; fits: need + band ≤ budget; unknown: an input is unknowable and the weights alone do not already exceed it.
"""

from __future__ import annotations

from decimal import Decimal

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.core.sizes import ModelConfig

GiB = 1 << 30
MiB = 1 << 20
KV_ENGINES = frozenset({"vllm", "sglang", "tgi", "trtllm", "lmdeploy"})  # a KV cache sized for the max length
TP_ENGINES = frozenset({"vllm", "sglang", "tgi", "trtllm", "lmdeploy", "trtllm-encoder"})  # tensor parallel splits weights
ENGINE_NAMES = {
    "vllm": "vLLM", "sglang": "SGLang", "tgi": "TGI", "tei": "TEI", "trtllm": "TensorRT-LLM",
    "trtllm-encoder": "TensorRT-LLM (encoder)", "lmdeploy": "lmdeploy", "llama.cpp": "llama.cpp",
    "infinity": "infinity", "python": "a Python model",
}  # fmt: skip


class Inputs(NamedTuple):
    """What the verdict is computed from (the config's settings and the snapshot's sizes, already combined)."""

    engine: str
    weights: int | None  # bytes the GPUs hold in total (None: unknown)
    estimated: bool  # the weights are quantized at build time: parameters × target bits (a lower bound)
    tp: int | None  # tensor parallel (None: unknown, e.g. a shell substitution)
    pp: int
    max_len: int | None  # tokens of one sequence (None: "auto", or unknown)
    config: ModelConfig | None  # None: no config.json (the KV cache is unknown)
    kv_bits: int  # bits per KV element (16; 8 for an fp8 KV cache; 4 for fp4)
    fraction: tuple[Decimal, Decimal] | None  # the engine's memory fraction (low, high); None: its default by GPU
    fraction_text: str  # how to say where the fraction comes from
    version: str | None = None  # the engine version the config pins (its defaults change)
    sglang: tuple[int | None, int | None, str | None] = (None, None, None)  # chunked prefill, CUDA graph batch, speculative
    unknown: str = ""  # why the KV cache is unknown (a max length read at run time)


class Verdict(NamedTuple):
    verdict: str  # fits, tight, does-not-fit, unknown
    weights_per_gpu: int | None
    kv_per_gpu: int | None
    need: int | None
    budget: int  # the low end: what the verdict "fits" is judged against
    budget_high: int
    budget_text: str
    band: int
    why: str  # for unknown: what is missing


def kv_per_token_bits(config: ModelConfig, tp: int, kv_bits: int) -> tuple[int, int, int] | None:
    """(bits per token of one full-attention layer on one GPU, full layers, sliding layers); None when config.json
    lacks what it takes. MLA keeps one latent per token per layer (not split by TP); other attention 2 × kv heads per GPU
    (at least one: replicated when TP > kv heads) × head_dim."""
    layers = config.num_hidden_layers
    if layers is None:
        return None
    if config.kv_lora_rank is not None:
        per_layer = (config.kv_lora_rank + (config.qk_rope_head_dim or 0)) * kv_bits
    else:
        heads = config.num_key_value_heads or config.num_attention_heads
        head_dim = config.head_dim or (
            config.hidden_size // config.num_attention_heads if config.hidden_size and config.num_attention_heads else None
        )
        if heads is None or head_dim is None:
            return None
        per_layer = 2 * max(1, heads // tp) * head_dim * kv_bits
    full, sliding = layers, 0
    if config.layer_types:
        full = sum(n for kind, n in config.layer_types.items() if "attention" in kind and "sliding" not in kind and "linear" not in kind)
        sliding = sum(n for kind, n in config.layer_types.items() if "sliding" in kind)
    elif config.sliding_window is not None and config.use_sliding_window is not False:
        if config.sliding_window_pattern:
            full = layers // config.sliding_window_pattern
        elif config.model_type == "gemma2":
            full = layers // 2
        else:
            full = 0
        sliding = layers - full
    return per_layer, full, sliding


def kv_bytes(config: ModelConfig, tp: int, pp: int, kv_bits: int, length: int) -> int | None:
    """The KV cache of one `length`-token sequence on one GPU (layers split by pipeline parallel); None if unknowable."""
    got = kv_per_token_bits(config, tp, kv_bits)
    if got is None:
        return None
    per_layer, full, sliding = got
    window = min(length, config.sliding_window or length)
    bits = -(-full // pp) * length * per_layer + -(-sliding // pp) * window * per_layer
    return -(-bits // 8)


def _sglang_reserved(vram: int, tp: int, pp: int, chunked: int | None, cuda_bs: int | None, spec: str | None) -> int:
    """SGLang 0.5's default reserve (bytes): mem_fraction_static = (VRAM − reserved) / VRAM (server_args.py)."""
    mem = vram // MiB
    if mem < 20 * 1024:
        tier = (2048, 8)
    elif mem < 35 * 1024:
        tier = (2048, 24 if tp < 4 else 80)
    elif mem < 60 * 1024:
        tier = (4096, 32 if tp < 4 else 160)
    elif mem < 160 * 1024:
        tier = (8192, 256 if tp < 4 else 512)
    else:
        tier = (16384, 512)
    chunk, bs = chunked or tier[0], cuda_bs or tier[1]
    reserved = 512 + max(chunk, 2048) * 3 // 2 + bs * 2 + tp * pp * 128
    if mem > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    if spec is not None:
        reserved += 6 * 1024 if spec == "standalone" else 0 if spec == "ngram" else 2 * 1024
    return reserved * MiB


def _sglang_tp_fraction(tp: int) -> Decimal:
    """SGLang 0.4's default mem_fraction_static, by tensor parallel size."""
    return Decimal("0.79" if tp >= 16 else "0.81" if tp >= 8 else "0.85" if tp >= 4 else "0.87" if tp >= 2 else "0.88")


def _older(version: str | None, than: tuple[int, ...]) -> bool | None:
    if version is None:
        return None
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    return parts < than


def budget(inputs: Inputs, vram: int, tp: int, weights_per_gpu: int) -> tuple[int, int, str]:
    """(low, high, how it is computed) bytes per GPU the engine gives weights and KV cache."""
    gib = f"{vram // GiB} GiB"
    e = inputs.engine
    if e in ("vllm", "sglang", "tgi") and inputs.fraction is not None:
        lo, hi = inputs.fraction
        return int(lo * vram), int(hi * vram), f"{inputs.fraction_text} of {gib}"
    if e == "vllm":  # 0.9 up to at least 0.6.4, 0.92 from at most 0.29 (their docs); between: either
        lo, hi = Decimal("0.9"), Decimal("0.92")
        if _older(inputs.version, (0, 7)):
            hi = lo
        elif _older(inputs.version, (0, 29)) is False:
            lo = hi
        text = (
            f"vLLM's default gpu_memory_utilization {lo}"
            if lo == hi
            else "vLLM's default gpu_memory_utilization 0.9 (0.92 in newer releases)"
        )
        return int(lo * vram), int(hi * vram), f"{text} of {gib}"
    if e == "sglang":
        chunked, cuda_bs, spec = inputs.sglang
        version = inputs.version
        heuristic = vram - _sglang_reserved(vram, tp, inputs.pp, chunked, cuda_bs, spec)
        by_tp = int(_sglang_tp_fraction(tp) * vram)
        old = _older(version, (0, 5))
        if old is None:
            return min(heuristic, by_tp), max(heuristic, by_tp), f"SGLang's default mem_fraction_static of {gib} (by version and GPU)"
        value = by_tp if old else heuristic
        return value, value, f"SGLang {version}'s default mem_fraction_static of {gib}"
    if e == "tgi":
        return vram, vram, f"TGI's default cuda_memory_fraction 1.0 of {gib}"
    if e in ("trtllm", "lmdeploy"):
        default = Decimal("0.9") if e == "trtllm" else Decimal("0.8")
        lo, hi = inputs.fraction or (default, default)
        free = max(0, vram - weights_per_gpu)
        what = inputs.fraction_text or (
            "kv_cache_free_gpu_mem_fraction 0.9 (default)" if e == "trtllm" else "cache-max-entry-count 0.8 (default)"
        )
        return weights_per_gpu + int(lo * free), weights_per_gpu + int(hi * free), f"the weights + {what} of the {gib} they leave"
    return vram, vram, f"the whole {gib}"


def band(inputs: Inputs, vram: int, weights_per_gpu: int) -> int:
    """The uncertainty band (bytes per GPU): see the module docstring."""
    out = GiB + vram // 20
    if inputs.engine not in KV_ENGINES:
        out += weights_per_gpu // 5
    if inputs.estimated:
        out += weights_per_gpu // 10
    return out


def verdict(inputs: Inputs, vram: int, gpus: int, tp: int | None = None) -> Verdict:
    """The verdict for `gpus` GPUs of `vram` bytes each (`tp`: a tensor parallel size to try instead of the config's)."""
    tp = tp if tp is not None else inputs.tp
    split_known = tp is not None or inputs.engine not in TP_ENGINES
    parts = (tp or 1) * inputs.pp if inputs.engine in TP_ENGINES else 1 if inputs.engine in ("tei", "infinity", "llama.cpp") else gpus
    best_parts = parts if split_known else gpus  # unknown tensor parallel: at best the weights spread over every GPU
    weights = inputs.weights
    if not inputs.engine:  # a start command we cannot read: only the weights spread over every GPU can say anything
        if weights is None:
            return Verdict(
                "unknown", None, None, None, vram, vram, f"the whole {vram // GiB} GiB", GiB + vram // 20, "the engine is unknown"
            )
        each = -(-weights // max(1, gpus))
        bad = each > vram
        return Verdict(
            "does-not-fit" if bad else "unknown",
            each,
            None,
            each if bad else None,
            vram,
            vram,
            f"the whole {vram // GiB} GiB",
            GiB + vram // 20,
            "the engine is unknown",
        )
    if weights is None:
        lo, hi, text = budget(inputs, vram, tp or 1, 0)
        return Verdict("unknown", None, None, None, lo, hi, text, GiB + vram // 20, "the weights are unknown")
    per_gpu = -(-weights // max(1, best_parts))
    lo, hi, text = budget(inputs, vram, tp or gpus, per_gpu)
    b = band(inputs, vram, per_gpu)
    if not split_known:
        bad = per_gpu > hi
        return Verdict(
            "does-not-fit" if bad else "unknown",
            per_gpu,
            None,
            per_gpu if bad else None,
            lo,
            hi,
            text,
            b,
            "the tensor parallel size is unknown",
        )
    kv: int | None = 0
    why = ""
    if inputs.engine in KV_ENGINES:
        if inputs.unknown:
            kv, why = None, f"the KV cache is unknown: {inputs.unknown}"
        elif inputs.config is None:
            kv, why = None, "config.json is unknown, so the KV cache is"
        elif inputs.max_len is None:
            kv = 0  # vLLM's --max-model-len auto: the longest length that fits
        else:
            kv = kv_bytes(inputs.config, tp or 1, inputs.pp, inputs.kv_bits, inputs.max_len)
            why = "" if kv is not None else "config.json lacks the attention shape, so the KV cache is unknown"
    if kv is None:
        return Verdict("does-not-fit" if per_gpu > hi else "unknown", per_gpu, None, None, lo, hi, text, b, why)
    need = per_gpu + kv
    result = "does-not-fit" if need > hi else "fits" if need + b <= lo else "tight"
    return Verdict(result, per_gpu, kv, need, lo, hi, text, b, "")
