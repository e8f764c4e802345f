"""The Hugging Face Hub, for `fit fetch` only: the one module that imports huggingface_hub (an extra), imported by nothing
on the check path. Per `repo@revision`: the model info (the commit sha and the file list), the safetensors headers of
its weights (HTTP Range: the first 100 kB of each file, more only when a header is longer; the weights themselves are
never downloaded) and `config.json`.

huggingface_hub supplies the endpoint (`HF_ENDPOINT`), the token (`HF_TOKEN` or the saved one; sent in its headers,
never printed or stored), its HTTP session (proxies, certificates) and its error classes (a gated repo, a missing repo
or revision). Every answer is read bounded, with a per-read timeout and an overall deadline, and parsed as hostile.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any
from urllib.parse import quote, urlsplit

from truss_instance_plugin.config import load_config
from truss_instance_plugin.core.fit import fetch_refs
from truss_instance_plugin.core.sizes import MAX_INT, MAX_SMALL, Entry, ModelConfig, Sizes, Weights, render_sizes, sizes_path
from truss_instance_plugin.diagnostics import clip, location, write_lines
from truss_instance_plugin.discover import collect_configs
from truss_instance_plugin.errors import CatalogError
from truss_instance_plugin.lock.atomic import write_if_changed

INSTALL_HINT = "pip install 'truss-instance-plugin[hub]'"
DEFAULT_ENDPOINT = "https://huggingface.co"
FIRST_RANGE = 100_000  # bytes of each safetensors file read first (its header is usually shorter)
MAX_INFO_BYTES = 16 << 20
MAX_JSON_BYTES = 8 << 20  # config.json, an index's weight_map
MAX_HEADER_BYTES = 64 << 20  # a safetensors header; longer is no weights file we read
MAX_FILES = 4096  # weight files of one model
MAX_TENSORS = 2_000_000
_SHA = re.compile(r"(?a)[0-9a-f]{40}")
_FILE = re.compile(r"(?a)[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,255}")
_DTYPE = re.compile(r"(?a)[A-Z][A-Z0-9_]{0,15}")
NESTED = ("text_config", "llm_config", "language_config", "thinker_config")


class HubError(CatalogError):
    """The Hub could not be asked, or answered something unusable: exit 2, naming the repo (never the token)."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


class Hub:
    """A connection to the Hub: huggingface_hub's session and headers, our bounds, timeout and deadline."""

    def __init__(self, timeout: float = 10.0, deadline: float = 300.0, endpoint: str | None = None) -> None:
        if _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE")):
            raise HubError("HF_HUB_OFFLINE is set, and `fit fetch` asks the Hugging Face Hub; unset it to fetch (nothing was written)")
        try:
            from huggingface_hub import constants  # noqa: PLC0415 (huggingface_hub is an extra: imported when the command needs it)
            from huggingface_hub.utils import build_hf_headers, get_session  # noqa: PLC0415 (huggingface_hub is an extra: imported when the command needs it)
        except ImportError:
            raise HubError(f"`fit fetch` needs huggingface_hub, which is not installed: {INSTALL_HINT}") from None
        # HF_ENDPOINT is read now, not when huggingface_hub was imported (its constants keep the import-time value)
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or getattr(constants, "ENDPOINT", "") or DEFAULT_ENDPOINT).rstrip("/")
        if not re.fullmatch(r"(?a)https?://[A-Za-z0-9._:\[\]-]+(?:/[A-Za-z0-9._/-]*)?", self.endpoint):
            raise HubError(f"HF_ENDPOINT must be an http(s) URL like {DEFAULT_ENDPOINT}; got {clip(self.endpoint, 60)!r}")
        self.session: Any = get_session()
        self.headers: dict[str, str] = dict(build_hf_headers(library_name="truss-instance"))
        self.timeout, self.end = timeout, time.monotonic() + deadline
        self.deadline = deadline

    # HTTP --------------------------------------------------------------------------------------------------------

    def _left(self, what: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise HubError(f"{what}: the Hub did not finish within the {self.deadline:g} s deadline (--deadline); nothing was written")
        return min(left, self.timeout)

    def get(self, url: str, what: str, limit: int, first: int | None = None, start: int = 0) -> bytes | None:
        """The body of a GET (at most `limit` bytes; with `first`, the Range start..first), or None for a missing file.
        HubError for anything else: the Hub's own errors (gated, not found) by huggingface_hub's classes."""
        from huggingface_hub.errors import (  # noqa: PLC0415 (huggingface_hub is an extra: imported when the command needs it)
            EntryNotFoundError,
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
        from huggingface_hub.utils import hf_raise_for_status  # noqa: PLC0415 (huggingface_hub is an extra: imported when the command needs it)

        headers = dict(self.headers)
        if first is not None:
            headers["Range"] = f"bytes={start}-{first}"
        try:
            with self.session.stream("GET", url, headers=headers, timeout=self._left(what), follow_redirects=True) as r:
                body = self._read(r, limit if r.status_code < 400 else 1 << 16, what)
                if r.status_code >= 400:
                    copy = type(r)(status_code=r.status_code, headers=r.headers, content=body, request=r.request)
                    hf_raise_for_status(copy)  # huggingface_hub's classification, on a bounded copy of the answer
                if r.status_code not in (200, 206):
                    raise HubError(f"{what}: unexpected HTTP {r.status_code} from {self.endpoint}")
                return body
        except GatedRepoError:
            raise HubError(
                f"{what}: the repo is gated; accept its terms on the Hub, then log in (`hf auth login`) or set HF_TOKEN"
            ) from None
        except RevisionNotFoundError:
            raise HubError(f"{what}: no such revision on {self.endpoint}") from None
        except RepositoryNotFoundError:
            raise HubError(f"{what}: no such repo on {self.endpoint} (or it is private: log in or set HF_TOKEN)") from None
        except EntryNotFoundError:
            return None
        except OfflineModeIsEnabled:
            raise HubError("HF_HUB_OFFLINE is set, and `fit fetch` asks the Hugging Face Hub; unset it (nothing was written)") from None
        except HfHubHTTPError as e:
            status = getattr(getattr(e, "response", None), "status_code", "an error")
            raise HubError(f"{what}: HTTP {status} from {self.endpoint}") from None
        except HubError:
            raise
        except Exception as e:  # timeouts, refused or cut connections, TLS: the class says which, never the headers
            kind = type(e).__name__
            if "Timeout" in kind:
                raise HubError(
                    f"{what}: no answer from {self.endpoint} within {self.timeout:g} s (--timeout); nothing was written"
                ) from None
            raise HubError(f"{what}: cannot reach {self.endpoint} ({kind}); nothing was written") from None

    def _read(self, r: Any, limit: int, what: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in r.iter_bytes():
            self._left(what)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
        data = b"".join(chunks)
        return data[: limit + 1]

    def _json(self, data: bytes, what: str) -> object:
        try:
            return json.loads(data.decode("utf-8"), parse_float=_float, parse_constant=_float)
        except (ValueError, RecursionError, UnicodeDecodeError):
            raise HubError(f"{what}: the Hub answered something that is not JSON") from None

    def url(self, repo: str, revision: str, filename: str) -> str:
        return f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(filename)}"

    # The model ---------------------------------------------------------------------------------------------------

    def info(self, repo: str, revision: str) -> tuple[str, list[str]]:
        """(the commit sha, the repo's file names) of `repo` at `revision`."""
        what = f"{repo}@{revision}"
        data = self.get(f"{self.endpoint}/api/models/{repo}/revision/{quote(revision, safe='')}", what, MAX_INFO_BYTES)
        if data is None or len(data) > MAX_INFO_BYTES:
            raise HubError(f"{what}: the Hub's model info is missing or larger than {MAX_INFO_BYTES >> 20} MiB")
        doc = self._json(data, what)
        sha = doc.get("sha") if isinstance(doc, dict) else None
        siblings = doc.get("siblings") if isinstance(doc, dict) else None
        if not isinstance(sha, str) or not _SHA.fullmatch(sha) or not isinstance(siblings, list):
            raise HubError(f"{what}: the Hub's model info has no commit sha or file list")
        files = [s["rfilename"] for s in siblings if isinstance(s, dict) and isinstance(s.get("rfilename"), str)]
        return sha, [f for f in files if _FILE.fullmatch(f) and ".." not in f.split("/")]

    def fetch(self, repo: str, revision: str) -> Entry:
        """What the sizes snapshot records for `repo@revision`."""
        sha, files = self.info(repo, revision)
        what = f"{repo}@{revision}"
        shards = self.weight_files(repo, sha, files, what)
        weights, missing = (self.weights(repo, sha, shards, what), None) if isinstance(shards, list) else (None, shards)
        config, config_missing = self.config(repo, sha, files, what)
        return Entry(sha, weights, missing, config, config_missing)

    def weight_files(self, repo: str, sha: str, files: list[str], what: str) -> list[str] | str:
        """The safetensors files the model loads, or why there are none we can read."""
        present = set(files)
        folders = [""]
        if "model_index.json" in present:  # a diffusers pipeline: one model per folder
            folders = sorted({f.split("/", 1)[0] + "/" for f in files if "/" in f})
        out: list[str] = []
        for folder in folders:
            for stem in ("model", "diffusion_pytorch_model", "model.fp16", "diffusion_pytorch_model.fp16"):
                if f"{folder}{stem}.safetensors" in present:
                    out.append(f"{folder}{stem}.safetensors")
                    break
                index = f"{folder}{stem}.safetensors.index.json"
                if index in present:
                    out += [folder + s for s in self.index(repo, sha, index, present, folder, what)]
                    break
        if not out:
            return "no safetensors weights in a layout truss-instance reads (model.safetensors, its index, or a diffusers pipeline)"
        if len(out) > MAX_FILES:
            raise HubError(f"{what}: more than {MAX_FILES} weight files")
        return out

    def index(self, repo: str, sha: str, index: str, present: set[str], folder: str, what: str) -> list[str]:
        data = self.get(self.url(repo, sha, index), f"{what}: {index}", MAX_JSON_BYTES)
        doc = self._json(data or b"", f"{what}: {index}")
        weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(weight_map, dict):
            raise HubError(f"{what}: {index} has no weight_map")
        shards = sorted({v for v in weight_map.values() if isinstance(v, str)})
        bad = [s for s in shards if not _FILE.fullmatch(s) or folder + s not in present]
        if bad or len(shards) > MAX_FILES:
            raise HubError(f"{what}: {index} names files the repo does not have ({clip(str(bad[:1]), 60)})")
        return shards

    def weights(self, repo: str, sha: str, shards: list[str], what: str) -> Weights:
        by_bytes: dict[str, int] = {}
        by_params: dict[str, int] = {}
        tensors = 0
        for name in shards:
            header = self.header(repo, sha, name, what)
            tensors += len(header)
            if tensors > MAX_TENSORS:
                raise HubError(f"{what}: more than {MAX_TENSORS} tensors")
            for dtype, size, params in header:
                by_bytes[dtype] = by_bytes.get(dtype, 0) + size
                by_params[dtype] = by_params.get(dtype, 0) + params
        if sum(by_bytes.values()) > MAX_INT or sum(by_params.values()) > MAX_INT or len(by_bytes) > 32:
            raise HubError(f"{what}: weights beyond any model (more than {MAX_INT} bytes or 32 dtypes)")
        return Weights(len(shards), dict(sorted(by_bytes.items())), dict(sorted(by_params.items())))

    def header(self, repo: str, sha: str, name: str, what: str) -> list[tuple[str, int, int]]:
        """(dtype, bytes, parameters) of each tensor of one safetensors file, from its header alone."""
        where = f"{what}: {name}"
        url = self.url(repo, sha, name)
        data = self.get(url, where, FIRST_RANGE, first=FIRST_RANGE - 1) or b""
        if len(data) < 8:
            raise HubError(f"{where}: not a safetensors file (shorter than its 8-byte header size)")
        size = int.from_bytes(data[:8], "little")
        if size > MAX_HEADER_BYTES:
            raise HubError(f"{where}: a safetensors header of {size} bytes, more than {MAX_HEADER_BYTES >> 20} MiB")
        if len(data) >= 8 + size:
            raw = data[8 : 8 + size]
        else:
            raw = self.get(url, where, size, first=size + 7, start=8) or b""
            if len(raw) < size:
                raise HubError(f"{where}: the Hub sent {len(raw)} of the header's {size} bytes")
            raw = raw[:size]
        return parse_header(raw, where, self._json(raw, where))

    def config(self, repo: str, sha: str, files: list[str], what: str) -> tuple[ModelConfig | None, str | None]:
        if "config.json" not in files:
            return None, "no config.json (a diffusers pipeline, or another library's model)"
        data = self.get(self.url(repo, sha, "config.json"), f"{what}: config.json", MAX_JSON_BYTES)
        if data is None:
            return None, "no config.json"
        doc = self._json(data, f"{what}: config.json")
        if not isinstance(doc, dict):
            return None, "config.json is not an object"
        return config_fields(doc), None


def _float(text: str) -> object:
    return None  # a float is never one of the fields we record (they are whole numbers and words)


def parse_header(raw: bytes, where: str, doc: object) -> list[tuple[str, int, int]]:
    """(dtype, bytes from data_offsets, parameters from the shape) per tensor; HubError for a malformed header."""
    if not isinstance(doc, dict):
        raise HubError(f"{where}: the safetensors header is not an object")
    out: list[tuple[str, int, int]] = []
    for name, t in doc.items():
        if name == "__metadata__":
            continue
        if not isinstance(t, dict):
            raise HubError(f"{where}: tensor {clip(str(name), 40)!r} is not described")
        dtype, shape, offsets = t.get("dtype"), t.get("shape"), t.get("data_offsets")
        ok = isinstance(dtype, str) and _DTYPE.fullmatch(dtype) is not None
        ok = ok and isinstance(shape, list) and len(shape) <= 16 and all(type(n) is int and 0 <= n <= MAX_INT for n in shape)
        ok = ok and isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int and 0 <= n <= MAX_INT for n in offsets)
        if not ok or offsets[0] > offsets[1]:  # type: ignore[index]
            raise HubError(f"{where}: tensor {clip(str(name), 40)!r} has no dtype, shape and data_offsets")
        params = 1
        for n in shape:  # type: ignore[union-attr]
            params = min(params * n, MAX_INT + 1)
        out.append((str(dtype), offsets[1] - offsets[0], params))  # type: ignore[index]
    return out


def config_fields(doc: dict[str, object]) -> ModelConfig:
    """The fields the KV cache needs, from the language model's part of config.json (a multimodal model's text_config)."""
    text: dict[str, object] = doc
    for key in NESTED:
        nested = doc.get(key)
        if "num_hidden_layers" not in doc and isinstance(nested, dict):
            text = nested
            break

    def whole(key: str) -> int | None:
        value = text.get(key, doc.get(key))
        return value if type(value) is int and 1 <= value <= MAX_SMALL else None

    def word(value: object) -> str | None:
        return value if isinstance(value, str) and re.fullmatch(r"(?a)[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}", value) else None

    architectures = doc.get("architectures")
    quant = doc.get("quantization_config", text.get("quantization_config"))
    types = text.get("layer_types")
    layer_types = None
    if isinstance(types, list) and all(isinstance(t, str) and word(t) for t in types) and len(types) <= MAX_SMALL:
        counts: dict[str, int] = {}
        for t in types:
            counts[str(t)] = counts.get(str(t), 0) + 1
        layer_types = dict(sorted(counts.items())) if len(counts) <= 8 else None
    use = text.get("use_sliding_window")
    return ModelConfig(
        model_type=word(doc.get("model_type")),
        architecture=word(architectures[0]) if isinstance(architectures, list) and architectures else None,
        num_hidden_layers=whole("num_hidden_layers"),
        num_attention_heads=whole("num_attention_heads"),
        num_key_value_heads=whole("num_key_value_heads"),
        head_dim=whole("head_dim"),
        hidden_size=whole("hidden_size"),
        max_position_embeddings=whole("max_position_embeddings"),
        kv_lora_rank=whole("kv_lora_rank"),
        qk_rope_head_dim=whole("qk_rope_head_dim"),
        sliding_window=whole("sliding_window"),
        sliding_window_pattern=whole("sliding_window_pattern"),
        use_sliding_window=use if isinstance(use, bool) else None,
        layer_types=layer_types,
        torch_dtype=word(text.get("torch_dtype", text.get("dtype", doc.get("torch_dtype")))),
        quant_method=word(quant.get("quant_method")) if isinstance(quant, dict) else None,
    )


# `fit fetch` ---------------------------------------------------------------------------------------------------------


def _seconds(value: str | None, default: float, flag: str) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:
        raise HubError(f"{flag} must be a number of seconds above 0 and at most 3600, like {default:g}; got {clip(value, 20)!r}")
    return seconds


def cmd_fit_fetch(paths: list[str], timeout: str | None, deadline: str | None) -> int:
    """`fit fetch`: ask the Hub once per repo@revision the configs name, then write each config's sizes snapshot
    (atomically, only when its bytes change). Nothing is written unless every model could be fetched."""
    per_request, total = _seconds(timeout, 10.0, "--timeout"), _seconds(deadline, 300.0, "--deadline")
    plan: list[tuple[str, tuple[str, ...]]] = []
    wanted: dict[str, tuple[str, str]] = {}
    notes: list[str] = []
    for path in collect_configs(paths):
        config = load_config(path)
        fatal = [d for d in config.diagnostics if d.fatal]
        if fatal:
            d = fatal[0]
            raise HubError(f"{path}:{d.line}:{d.col}: {d.code} {d.message}; nothing was fetched or written")
        refs = fetch_refs(config)
        if not refs:
            notes.append(f"{location(path)}: names no Hugging Face model; nothing to fetch")
            continue
        plan.append((path, tuple(r.key for r in refs)))
        for r in refs:
            wanted.setdefault(r.key, (r.repo, r.revision or "main"))
    entries: dict[str, Entry] = {}
    endpoint = ""
    if wanted:
        hub = Hub(per_request, total)
        endpoint = hub.endpoint
        for key in sorted(wanted):
            entries[key] = hub.fetch(*wanted[key])
    lines = list(notes)
    for path, keys in plan:
        target = sizes_path(path)
        data = render_sizes(Sizes(_public(endpoint), {k: entries[k] for k in keys}))
        try:
            written = write_if_changed(target, data)
        except OSError as e:
            raise HubError(f"{target}: cannot write the sizes snapshot: {e.strerror or e}") from None
        shown = ", ".join(f"{k.partition('@')[0]}@{entries[k].sha[:7]}" for k in keys)
        lines.append(f"{'wrote' if written else 'unchanged'} {location(target)}: {shown}")
    write_lines(sys.stdout, lines)
    return 0


def _public(endpoint: str) -> str:
    """The endpoint as the snapshot records it: scheme, host, port and path; never user info."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path.rstrip("/")
