"""What a config says about the model it serves, read statically (nothing is run): the engine, the Hugging Face repos,
tensor and pipeline parallelism, the maximum length, the memory fraction and the dtypes, each with the position of the
value it came from.

Sources, in order of precedence for the served model: `docker_server.start_command` (split as a shell would, through
`sh -c "…"` wrappers, `VAR=$(…)` prefixes and `&&` chains); `trt_llm` (build and runtime); `model_metadata` (repo_id,
engine args); `weights[]` (`hf://repo@rev`) and `model_cache[]`; `from_pretrained("…")` literals in the model's `.py`
file (core/pretrained.py). A value only a shell would know (`$GPU_COUNT`, `$(nvidia-smi …)`) is unknown, never guessed.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import yaml

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.config import YAML_TAG, ModelNodes, construct, mapping, tag_of
from truss_instance_plugin.core.shell import (
    ASSIGN,
    MAX_SHELL_DEPTH,
    SHELLS,
    At,
    Span,
    commands,
    engine_of,
    flags,
    restore,
    spelling,
)
from truss_instance_plugin.diagnostics import clip

__all__ = ["At", "Knob", "Ref", "Sources", "Unknown", "read_sources"]

REPO_RE = re.compile(r"(?a)(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
REVISION_RE = re.compile(r"(?a)[A-Za-z0-9][A-Za-z0-9_./-]{0,99}")
ENGINES = ("vllm", "sglang", "tgi", "tei", "trtllm", "trtllm-encoder", "lmdeploy", "llama.cpp", "infinity", "python")


class Ref(NamedTuple):
    """A Hugging Face model the config names."""

    repo: str
    revision: str | None  # None: the default branch (main)
    origin: str  # where it is named, as the user would say it: "--model-path", "weights[0]", "model_metadata.repo_id"
    at: At
    dtype: str | None = None  # a Python model's from_pretrained(torch_dtype=…): float16, bfloat16, float32 or auto

    @property
    def key(self) -> str:
        """'org/name@main': how the sizes snapshot records it."""
        return f"{self.repo}@{self.revision or 'main'}"


class Knob(NamedTuple):
    """One setting (tensor parallel, max length, a memory fraction, a dtype) and where it is written."""

    value: int | Decimal | str
    origin: str  # "--tp-size", "trt_llm.build.tensor_parallel_count"
    at: At


class Unknown(NamedTuple):
    """A value that cannot be known without running the deployment."""

    what: str  # "model", "tensor parallel", ...
    why: str
    at: At


class Sources(NamedTuple):
    """What the config says about its model."""

    engine: str  # one of ENGINES, or "" when the start command runs something we cannot read (a script)
    engine_at: At
    version: str | None  # the engine version the config pins (requirements or image tag), when it says
    served: Ref | None  # the model the server loads (None: unknown, or none named)
    extra: tuple[Ref, ...]  # more models a Python model loads on the same GPUs
    named: tuple[Ref, ...]  # every model the config names, in order (what `fit fetch` asks the Hub about)
    knobs: dict[str, Knob]  # tp, pp, max_len, mem_fraction, kv_dtype, quantization, dtype, chunked_prefill, cuda_graph_bs, spec
    unknowns: tuple[Unknown, ...]
    conflict: tuple[Ref, Ref] | None  # two different models named for one server (TI306)


NONE = Sources("", At(1, 1), None, None, (), (), {}, (), None)


# YAML nodes ----------------------------------------------------------------------------------------------------------


def _at(node: yaml.Node) -> At:
    return At(node.start_mark.line + 1, node.start_mark.column + 1)


def scalar(node: yaml.Node | None) -> object:
    """A scalar node's value as the safe loader makes it (None for anything else, or a value its tag cannot hold)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    tag = tag_of(node)
    if tag == YAML_TAG + "str":
        return node.value
    try:
        return construct(node) if tag.startswith(YAML_TAG) else None
    except Exception:  # !!int "x": truss cannot load the file either; not ours to report here
        return None


def _get(node: yaml.Node | None, *path: str) -> yaml.Node | None:
    for key in path:
        if node is None:
            return None
        pair = mapping(node).get(key)
        node = pair[1] if pair else None
    return node


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


# Values --------------------------------------------------------------------------------------------------------------


def parse_int(text: object, low: int = 1, high: int = 1 << 20) -> int | None:
    """A whole number in [low, high] written as a YAML int or digits; None otherwise."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if low <= text <= high else None
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 9:
        n = int(text)
        return n if low <= n <= high else None
    return None


def parse_fraction(text: object) -> Decimal | None:
    """A memory fraction in (0, 1], exactly as written (a YAML float's text, never its binary value); None otherwise."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        return None
    raw = repr(text) if isinstance(text, float) else str(text)
    if len(raw) > 12:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() and 0 < value <= 1 else None


def is_repo(text: str) -> bool:
    """A Hugging Face repo id: `org/name` or a legacy one-word id (`gpt2`), no path, no URL."""
    return REPO_RE.fullmatch(text) is not None and ".." not in text and not text.endswith(".")


def _hf_source(text: str) -> tuple[str, str | None] | None:
    """`hf://org/name@rev` → (repo, rev); None for another scheme or a malformed one."""
    if not text.startswith("hf://"):
        return None
    repo, _, rev = text[5:].partition("@")
    if not is_repo(repo) or repo.count("/") != 1 or (rev and not REVISION_RE.fullmatch(rev)):
        return None
    return repo, rev or None


class _Reader:
    """Reads one config's model nodes into Sources."""

    def __init__(self, model: ModelNodes) -> None:
        self.text = model.text
        self.nodes = model.nodes
        self.knobs: dict[str, Knob] = {}
        self.unknowns: list[Unknown] = []
        self.named: list[Ref] = []
        self.mounts: list[tuple[str, Ref]] = []  # (folder a local path starts with, the repo found there)
        self.subs: list[str] = []  # the start command's shell substitutions, by placeholder number

    def unknown(self, what: str, why: str, at: At) -> None:
        self.unknowns.append(Unknown(what, why, at))

    def knob(self, name: str, raw: object, origin: str, at: At) -> None:
        """Record a setting, validated: tp/pp/lengths are whole numbers, fractions in (0, 1], dtypes short words."""
        if isinstance(raw, str) and "$" in raw:
            self.unknown(_WHAT[name], f"{origin} {_short(restore(raw, self.subs))} is read at run time", at)
            return
        if name == "max_len" and isinstance(raw, str) and raw.strip().lower() in ("auto", "-1"):
            self.knobs[name] = Knob("auto", origin, at)  # vLLM: the longest length that fits
            return
        value: int | Decimal | str | None
        if name in ("tp", "pp"):
            value = parse_int(raw, 1, 1024)
        elif name in ("max_len", "chunked_prefill", "cuda_graph_bs"):
            value = parse_int(raw, 1, 1 << 30)
        elif name == "mem_fraction":
            value = parse_fraction(raw)
        else:
            value = raw.strip().lower() if isinstance(raw, str) and 0 < len(raw.strip()) <= 40 else None
        if value is None:
            self.unknown(_WHAT[name], f"{origin} {_short(str(raw))} is not {_KIND[name]}", at)
            return
        self.knobs[name] = Knob(value, origin, at)

    def ref(self, repo: object, revision: object, origin: str, at: At) -> Ref | None:
        """A named repo (recorded for `fit fetch`), or None when it is not a repo id (a path, a URL, a substitution)."""
        if not isinstance(repo, str) or not is_repo(repo):
            return None
        rev = revision if isinstance(revision, str) and REVISION_RE.fullmatch(revision) and ".." not in revision else None
        found = Ref(repo, rev, origin, at)
        if all(r.key != found.key for r in self.named):
            self.named.append(found)
        return found

    # weights[] and model_cache[]: what they mount where

    def volumes(self) -> None:
        for i, item in enumerate(_items(self.nodes.get("weights"))):
            source, mount = scalar(_get(item, "source")), scalar(_get(item, "mount_location"))
            parsed = _hf_source(source) if isinstance(source, str) else None
            if parsed is None:
                continue
            node = _get(item, "source")
            ref = self.ref(parsed[0], parsed[1], f"weights[{i}]", _at(node) if node else _at(item))
            if ref is not None and isinstance(mount, str) and mount.startswith("/"):
                self.mounts.append((mount.rstrip("/"), ref))
        for i, item in enumerate(_items(self.nodes.get("model_cache"))):
            repo_node = _get(item, "repo_id")
            kind = scalar(_get(item, "kind"))
            if repo_node is None or (kind is not None and kind != "hf"):
                continue
            ref = self.ref(scalar(repo_node), scalar(_get(item, "revision")), f"model_cache[{i}]", _at(repo_node))
            folder = scalar(_get(item, "volume_folder"))
            if ref is not None and isinstance(folder, str) and folder and "/" not in folder.strip("/"):
                self.mounts.append((f"/app/model_cache/{folder.strip('/')}", ref))

    def local(self, path: str) -> Ref | None:
        """The repo a local path in a start command names: a weights[] mount or a model_cache volume folder."""
        path = path.rstrip("/")
        for mount, ref in self.mounts:
            if path == mount or path.startswith(mount + "/"):
                return ref
        return None

    # docker_server.start_command

    def start_command(self) -> tuple[bool, str, At, Ref | None, str | None]:
        """(a start command is set, its engine ("" when unreadable), where it starts, the model it serves, why the model
        is unknown)."""
        node = _get(self.nodes.get("docker_server"), "start_command")
        text = scalar(node)
        if node is None or not isinstance(text, str):
            return False, "", At(1, 1), None, None
        span = Span(self.text, node)
        found = self._script(text, span, 0)
        if found is None:
            return True, "", _at(node), None, "the start command runs something truss-instance cannot read (a script, an unknown program)"
        engine, args, at = found
        got, positional = flags(engine, args)
        for name, value in got.items():
            if name not in ("model", "revision"):
                flag = spelling(engine, name, args)
                self.knob(name, value, flag, span.value(flag, value))
        model_text = got.get("model", positional)
        if model_text is None:
            return True, engine, at, None, "the start command names no model"
        origin = "the model argument" if model_text == positional and "model" not in got else spelling(engine, "model", args)
        model_at = span.value(origin, model_text) if origin.startswith("-") else _found(span.find(model_text), at)
        if "$" in model_text:
            return True, engine, at, None, f"{origin} {_short(restore(model_text, self.subs))} is read at run time"
        if model_text.startswith(("/", ".", "~")):
            ref = self.local(model_text)
            why = None if ref else f"{origin} {_short(model_text)} is a local path no weights[] or model_cache entry mounts"
            return True, engine, at, ref, why
        ref = self.ref(model_text, got.get("revision"), origin, model_at)
        return True, engine, at, ref, None if ref else f"{origin} {_short(model_text)} is not a Hugging Face repo id"

    def _script(self, script: str, span: Span, depth: int) -> tuple[str, list[str], At] | None:
        """The first serving engine a script starts: (engine, its arguments, where its program is written)."""
        if depth > MAX_SHELL_DEPTH:
            return None
        for argv in commands(script, self.subs) or []:
            while argv and ASSIGN.match(argv[0]):  # VAR=value cmd ...
                argv = argv[1:]
            while argv and argv[0] in ("exec", "env", "/usr/bin/env", "nohup"):
                argv = argv[1:]
                while argv and ASSIGN.match(argv[0]):
                    argv = argv[1:]
            if not argv:
                continue
            if argv[0].rsplit("/", 1)[-1] in SHELLS:
                if "-c" in argv[1:] and argv.index("-c", 1) + 1 < len(argv):
                    inner = self._script(argv[argv.index("-c", 1) + 1], span, depth + 1)
                    if inner is not None:
                        return inner
                continue
            got = engine_of(argv)
            if got is not None:
                return got[0], got[1], _found(span.find(argv[0]), At(span.line, span.col))
        return None

    # trt_llm

    def trt_llm(self) -> tuple[str, Ref | None, str | None, At]:
        node = self.nodes.get("trt_llm")
        build, runtime = _get(node, "build"), _get(node, "runtime")
        if build is None and _get(node, "target", "build") is not None:  # speculative: target + draft
            build, runtime = _get(node, "target", "build"), _get(node, "target", "runtime")
        at = _at(node) if node is not None else At(1, 1)
        base = scalar(_get(build, "base_model"))
        engine = "trtllm-encoder" if isinstance(base, str) and base.startswith("encoder") else "trtllm"
        for name, path, origin in (
            ("tp", (build, "tensor_parallel_count"), "trt_llm.build.tensor_parallel_count"),
            ("pp", (build, "pipeline_parallel_count"), "trt_llm.build.pipeline_parallel_count"),
            ("max_len", (build, "max_seq_len"), "trt_llm.build.max_seq_len"),
            ("quantization", (build, "quantization_type"), "trt_llm.build.quantization_type"),
            ("tp", (runtime, "tensor_parallel_size"), "trt_llm.runtime.tensor_parallel_size"),
            ("max_len", (runtime, "max_seq_len"), "trt_llm.runtime.max_seq_len"),
            ("mem_fraction", (runtime, "kv_cache_free_gpu_mem_fraction"), "trt_llm.runtime.kv_cache_free_gpu_mem_fraction"),
            (
                "mem_fraction",
                (_get(runtime, "patch_kwargs", "kv_cache_config"), "free_gpu_memory_fraction"),
                "trt_llm.runtime.patch_kwargs.kv_cache_config.free_gpu_memory_fraction",
            ),
            ("kv_dtype", (_get(runtime, "patch_kwargs", "kv_cache_config"), "dtype"), "trt_llm.runtime.patch_kwargs.kv_cache_config.dtype"),
        ):
            value = _get(path[0], path[1])
            if value is not None and scalar(value) is not None:
                self.knob(name, scalar(value), origin, _at(value))
        local = _get(runtime, "patch_kwargs", "model_path")
        if isinstance(scalar(local), str) and str(scalar(local)).startswith("/"):
            ref = self.local(str(scalar(local)))
            if ref is not None:
                return engine, ref, None, at
        checkpoint = _get(build, "checkpoint_repository")
        repo_node = _get(checkpoint, "repo")
        source = scalar(_get(checkpoint, "source"))
        if repo_node is None:
            return engine, None, "trt_llm.build names no checkpoint_repository", at
        if source not in (None, "HF"):
            return engine, None, f"the checkpoint comes from {_short(str(source))}, not the Hugging Face Hub", at
        ref = self.ref(scalar(repo_node), scalar(_get(checkpoint, "revision")), "trt_llm.build.checkpoint_repository", _at(repo_node))
        return engine, ref, None if ref else "trt_llm.build.checkpoint_repository.repo is not a repo id", at

    # model_metadata

    def metadata(self) -> tuple[Ref | None, bool]:
        """The model model_metadata names (repo_id, engine_args.model, ...) and whether it configures vLLM in-process."""
        meta = self.nodes.get("model_metadata")
        found: Ref | None = None
        for path in (("repo_id",), ("engine_args", "model"), ("vllm_config", "model"), ("model",), ("llm_model",)):
            node = _get(meta, *path)
            value = scalar(node)
            if node is not None and isinstance(value, str) and "/" in value and found is None:
                found = self.ref(value, None, "model_metadata." + ".".join(path), _at(node))
        vllm = False
        for section in ("engine_args", "vllm_config"):
            sub = _get(meta, section)
            if sub is None:
                continue
            vllm = True
            for name, key in (("tp", "tensor_parallel_size"), ("max_len", "max_model_len"), ("mem_fraction", "gpu_memory_utilization")):
                value = _get(sub, key)
                if value is not None:
                    self.knob(name, scalar(value), f"model_metadata.{section}.{key}", _at(value))
        for key in ("tensor_parallel", "tensor_parallelism", "tensor_parallel_size"):
            value = _get(meta, key)
            if value is not None and "tp" not in self.knobs:
                self.knob("tp", scalar(value), f"model_metadata.{key}", _at(value))
        return found, vllm

    def version(self, engine: str) -> str | None:
        """The vLLM version pinned in requirements (vllm==X) or by the image tag (vllm/vllm-openai:vX)."""
        if engine != "vllm":
            return None
        for item in _items(self.nodes.get("requirements")):
            text = scalar(item)
            if isinstance(text, str):
                m = re.fullmatch(r"(?a)\s*vllm\s*==\s*(\d+(?:\.\d+){1,3})\s*", text)
                if m:
                    return m.group(1)
        image = scalar(_get(self.nodes.get("base_image"), "image"))
        if isinstance(image, str):
            m = re.fullmatch(r"(?a)(?:[\w.-]+/)*vllm-openai:v?(\d+(?:\.\d+){1,3})(?:[-+.\w]*)", image)
            if m:
                return m.group(1)
        return None


_WHAT = {
    "tp": "tensor parallel", "pp": "pipeline parallel", "max_len": "max length", "mem_fraction": "memory fraction",
    "kv_dtype": "KV cache dtype", "quantization": "quantization", "dtype": "dtype", "chunked_prefill": "chunked prefill size",
    "cuda_graph_bs": "CUDA graph batch size", "spec": "speculative decoding",
}  # fmt: skip
_KIND = {
    "tp": "a whole number from 1 to 1024", "pp": "a whole number from 1 to 1024", "max_len": "a whole number of tokens",
    "mem_fraction": "a fraction in (0, 1]", "chunked_prefill": "a whole number", "cuda_graph_bs": "a whole number",
}  # fmt: skip
for _name in ("kv_dtype", "quantization", "dtype", "spec"):
    _KIND[_name] = "a short word"


def _short(text: str, limit: int = 60) -> str:
    return clip(text, limit)


def _found(got: tuple[At, int] | None, default: At) -> At:
    return got[0] if got is not None else default


def read_sources(model: ModelNodes | None, pretrained: tuple[Ref, ...] = ()) -> Sources:
    """What the config's model nodes say; `pretrained`: the weight-loading `from_pretrained("…")` literals of its model
    file (a Python model's only source when its config names none)."""
    if model is None:
        if not pretrained:
            return NONE
        model = ModelNodes("", {})
    r = _Reader(model)
    r.volumes()
    meta, in_process_vllm = r.metadata()
    started, engine, engine_at, served, why = r.start_command()
    if not started and isinstance(r.nodes.get("trt_llm"), yaml.MappingNode):
        engine, served, why, engine_at = r.trt_llm()
    elif not started:
        engine = "vllm" if in_process_vllm else "python"
    conflict = (served, meta) if served is not None and meta is not None and meta.repo.lower() != served.repo.lower() else None
    extra: tuple[Ref, ...] = ()
    if engine == "python":
        for p in pretrained:
            r.ref(p.repo, p.revision, p.origin, p.at)
        yaml_named = [ref for _, ref in r.mounts] + [n for n in r.named if n.origin.startswith("model_metadata")]
        served = meta or next(iter(r.mounts), ("", None))[1] or (pretrained[0] if pretrained else None) or next(iter(r.named), None)
        if served is not None:
            extra = tuple({p.key: p for p in pretrained if p.key != served.key and p not in yaml_named}.values())
    elif served is None and meta is not None:  # the start command's model is unknown, model_metadata names one
        served, why = meta, None
    elif served is None and not started and not engine.startswith("trtllm"):
        served = next(iter(r.named), None)
    if served is None and why is not None and engine:
        r.unknown("model", why, engine_at)
    return Sources(engine, engine_at, r.version(engine), served, extra, tuple(r.named), r.knobs, tuple(r.unknowns), conflict)
