"""The model sizes snapshot: what `fit fetch` learned from the Hugging Face Hub about each model a config names, so that
the fit check runs offline. One file per config, beside its lock: `truss-instance.sizes.json` beside config.yaml
(`truss-instance.NAME.sizes.json` beside NAME.yaml).

Deterministic JSON (sorted keys, two-space indent, LF, exact integers, no floats, no timestamps). Per `repo@revision`:
the resolved commit sha, the weight bytes and parameters by safetensors dtype (from each file's header `data_offsets`
and shapes; weights are never downloaded), and the `config.json` fields the KV cache needs. The file comes from pull
requests like any other: it is read bounded and validated field by field, and anything else is refused with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.config import basename, dirname, join
from truss_instance_plugin.diagnostics import clip, json_safe

SIZES_NAME = "truss-instance.sizes.json"
SIZES_VERSION = 1
GENERATOR = "truss-instance fit fetch"
MAX_SIZES_BYTES = 1 << 20
MAX_MODELS = 64  # models one config names (a handful in practice)
MAX_DTYPES = 32
MAX_INT = 1 << 62  # bytes and parameters: ~4.6 EB, beyond any model
MAX_SMALL = 1 << 24  # layers, heads, dimensions, lengths
DOC_KEYS = frozenset({"generator", "sizes_version", "source", "models"})
ENTRY_KEYS = frozenset({"sha", "weights", "weights_missing", "config", "config_missing"})
WEIGHT_KEYS = frozenset({"files", "bytes_by_dtype", "parameters_by_dtype"})
CONFIG_INTS = (
    "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_size",
    "max_position_embeddings", "kv_lora_rank", "qk_rope_head_dim", "sliding_window", "sliding_window_pattern",
)  # fmt: skip
CONFIG_WORDS = ("model_type", "architecture", "torch_dtype", "quant_method")
CONFIG_KEYS = frozenset({*CONFIG_INTS, *CONFIG_WORDS, "use_sliding_window", "layer_types"})
_KEY_RE = r"(?a)(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}@[A-Za-z0-9][A-Za-z0-9_./-]{0,99}"
_SHA_RE = r"(?a)[0-9a-f]{40}"
_WORD_RE = r"(?a)[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}"
_DTYPE_RE = r"(?a)[A-Z][A-Z0-9_]{0,15}"

# Bytes per element of the safetensors dtypes (F4 and F6 pack several per byte: their bytes come from data_offsets).
DTYPE_BITS = {
    "F64": 64, "I64": 64, "U64": 64, "F32": 32, "I32": 32, "U32": 32, "F16": 16, "BF16": 16, "I16": 16, "U16": 16,
    "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "E8M0": 8, "I8": 8, "U8": 8, "BOOL": 8, "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4,
}  # fmt: skip


class SizesError(ValueError):
    """A sizes snapshot that cannot be used: the message says why."""


class Weights(NamedTuple):
    """A model's safetensors weights: bytes and parameters per dtype (exact, from the file headers)."""

    files: int
    bytes_by_dtype: dict[str, int]
    parameters_by_dtype: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_by_dtype.values())

    @property
    def parameters(self) -> int:
        return sum(self.parameters_by_dtype.values())


class ModelConfig(NamedTuple):
    """The config.json fields the KV cache needs (of the language model: a multimodal model's text_config)."""

    model_type: str | None = None
    architecture: str | None = None
    num_hidden_layers: int | None = None
    num_attention_heads: int | None = None
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    hidden_size: int | None = None
    max_position_embeddings: int | None = None
    kv_lora_rank: int | None = None  # MLA (DeepSeek-V2/V3, Kimi): one latent per token per layer
    qk_rope_head_dim: int | None = None
    sliding_window: int | None = None
    sliding_window_pattern: int | None = None  # every Nth layer is global (Gemma 3)
    use_sliding_window: bool | None = None  # Qwen2 names a window it does not use
    layer_types: dict[str, int] | None = None  # how many layers of each kind ("sliding_attention", "full_attention")
    torch_dtype: str | None = None
    quant_method: str | None = None  # quantization_config.quant_method: the checkpoint is quantized already


class Entry(NamedTuple):
    """One model at one revision, as the Hub described it."""

    sha: str
    weights: Weights | None
    weights_missing: str | None  # why there are no weights (no safetensors files in a layout we read)
    config: ModelConfig | None
    config_missing: str | None


class Sizes(NamedTuple):
    """A sizes snapshot: the Hub it came from and its models by `repo@revision`."""

    source: str
    models: dict[str, Entry]


def sizes_path(config_path: str) -> str:
    """truss-instance.sizes.json beside config.yaml; truss-instance.NAME.sizes.json beside NAME.yaml (as the lock)."""
    name = basename(config_path)
    stem = name.rsplit(".", 1)[0]
    return join(dirname(config_path), SIZES_NAME if name == "config.yaml" else f"truss-instance.{stem}.sizes.json")


# Reading -------------------------------------------------------------------------------------------------------------


def _int(value: object, what: str, high: int = MAX_INT, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SizesError(f"{what} must be a whole number from {low} to {high}, not {clip(repr(value), 40)}")
    return value


def _word(value: object, what: str, pattern: str = _WORD_RE) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise SizesError(f"{what} must be a short name, not {clip(repr(value), 40)}")
    return value


def _reason(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
        raise SizesError(f"{what} must be printable text of at most 200 characters")
    return value


def _keys(doc: object, keys: frozenset[str], what: str) -> Mapping[str, object]:
    if not isinstance(doc, dict):
        raise SizesError(f"{what} must be an object")
    if set(doc) != keys:
        unknown, missing = sorted(set(doc) - keys), sorted(keys - set(doc))
        parts = [p for p in (unknown and f"unknown keys {unknown}", missing and f"missing keys {missing}") if p]
        raise SizesError(f"{what}: {'; '.join(parts)}")
    return doc


def _counts(doc: object, what: str) -> dict[str, int]:
    if not isinstance(doc, dict) or len(doc) > MAX_DTYPES:
        raise SizesError(f"{what} must be an object of at most {MAX_DTYPES} dtypes")
    return {_word(k, f"{what} key", _DTYPE_RE): _int(v, f"{what}[{k}]") for k, v in doc.items()}


def weights_from(doc: object, what: str) -> Weights:
    d = _keys(doc, WEIGHT_KEYS, what)
    by_bytes = _counts(d["bytes_by_dtype"], f"{what}.bytes_by_dtype")
    by_params = _counts(d["parameters_by_dtype"], f"{what}.parameters_by_dtype")
    if set(by_bytes) != set(by_params):
        raise SizesError(f"{what}: bytes_by_dtype and parameters_by_dtype name different dtypes")
    if sum(by_bytes.values()) > MAX_INT or sum(by_params.values()) > MAX_INT:
        raise SizesError(f"{what}: more than {MAX_INT} bytes")
    return Weights(_int(d["files"], f"{what}.files", 100_000, 1), by_bytes, by_params)


def config_from(doc: object, what: str) -> ModelConfig:
    d = _keys(doc, CONFIG_KEYS, what)
    ints = {k: None if d[k] is None else _int(d[k], f"{what}.{k}", MAX_SMALL, 1) for k in CONFIG_INTS}
    words = {k: None if d[k] is None else _word(d[k], f"{what}.{k}") for k in CONFIG_WORDS}
    use = d["use_sliding_window"]
    if use is not None and not isinstance(use, bool):
        raise SizesError(f"{what}.use_sliding_window must be true, false or null")
    types = d["layer_types"]
    layer_types = None
    if types is not None:
        if not isinstance(types, dict) or len(types) > 8:
            raise SizesError(f"{what}.layer_types must be an object of at most 8 layer kinds")
        layer_types = {_word(k, f"{what}.layer_types key"): _int(v, f"{what}.layer_types[{k}]", MAX_SMALL) for k, v in types.items()}
    return ModelConfig(**words, **ints, use_sliding_window=use, layer_types=layer_types)  # type: ignore[arg-type]


def parse_sizes(data: bytes) -> Sizes:
    """A sizes snapshot from its bytes; SizesError says what is wrong (never an exception of another kind)."""
    if len(data) > MAX_SIZES_BYTES:
        raise SizesError(f"larger than {MAX_SIZES_BYTES >> 20} MiB")
    try:
        doc = json.loads(data.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
    except UnicodeDecodeError:
        raise SizesError("not UTF-8") from None
    except json.JSONDecodeError as e:
        raise SizesError(f"not valid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise SizesError("nested too deeply") from None
    except ValueError as e:  # a float, NaN, an int of 4,300+ digits
        raise SizesError("a number with too many digits" if "integer string conversion" in str(e) else clip(str(e), 100)) from None
    d = _keys(doc, DOC_KEYS, "the top level")
    version = d["sizes_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > SIZES_VERSION:
        raise SizesError(f"sizes_version {version} is newer than this truss-instance understands ({SIZES_VERSION}); upgrade it")
    if version != SIZES_VERSION or isinstance(version, bool) or d["generator"] != GENERATOR:
        raise SizesError(f"not written by `{GENERATOR}` (sizes_version {SIZES_VERSION})")
    source = d["source"]
    if not isinstance(source, str) or len(source) > 200 or not re.fullmatch(r"(?a)https?://[A-Za-z0-9._:/-]+", source):
        raise SizesError("source must be the Hub's URL")
    models = d["models"]
    if not isinstance(models, dict) or len(models) > MAX_MODELS:
        raise SizesError(f"models must be an object of at most {MAX_MODELS} models")
    out: dict[str, Entry] = {}
    for key, raw in models.items():
        what = f"model {_word(key, 'a model key', _KEY_RE)}"
        rec = _keys(raw, ENTRY_KEYS, what)
        weights = None if rec["weights"] is None else weights_from(rec["weights"], f"{what}: weights")
        config = None if rec["config"] is None else config_from(rec["config"], f"{what}: config")
        weights_missing = None if rec["weights_missing"] is None else _reason(rec["weights_missing"], f"{what}: weights_missing")
        config_missing = None if rec["config_missing"] is None else _reason(rec["config_missing"], f"{what}: config_missing")
        if (weights is None) == (weights_missing is None) or (config is None) == (config_missing is None):
            raise SizesError(f"{what}: exactly one of weights and weights_missing (config and config_missing) must be set")
        out[key] = Entry(_word(rec["sha"], f"{what}: sha", _SHA_RE), weights, weights_missing, config, config_missing)
    return Sizes(source, out)


def _no_float(text: str) -> object:
    raise ValueError(f"a number that is not a whole number ({clip(text, 20)}): sizes are exact integers")


# Writing -------------------------------------------------------------------------------------------------------------


def entry_json(e: Entry) -> dict[str, object]:
    weights = None if e.weights is None else {
        "files": e.weights.files,
        "bytes_by_dtype": dict(e.weights.bytes_by_dtype),
        "parameters_by_dtype": dict(e.weights.parameters_by_dtype),
    }  # fmt: skip
    config = None if e.config is None else {k: getattr(e.config, k) for k in sorted(CONFIG_KEYS)}
    return {"sha": e.sha, "weights": weights, "weights_missing": e.weights_missing, "config": config, "config_missing": e.config_missing}


def render_sizes(sizes: Sizes) -> bytes:
    """The snapshot file: sorted JSON, two-space indent, LF, a trailing newline; the same models give the same bytes."""
    doc = {
        "generator": GENERATOR,
        "sizes_version": SIZES_VERSION,
        "source": sizes.source,
        "models": {k: entry_json(sizes.models[k]) for k in sorted(sizes.models)},
    }
    return (json_safe(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)) + "\n").encode("utf-8")
