"""Will it fit? One model's GPU-memory verdict, offline: what the config says (core/engines.py) and the sizes snapshot
(core/sizes.py) → the need and the budget per GPU (core/memory.py) → a verdict and findings TI300–TI307.

The step runs only for a config that names a model (or a Python model file that calls `from_pretrained`); it never
touches the network, and reads no file but the model file and the sizes snapshot beside the config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import HOURS_PER_MONTH, InstanceType, round_half_up
from truss_instance_plugin.config import LoadedConfig, dirname, read_unlinked
from truss_instance_plugin.core.engines import At, Knob, Ref, Sources, read_sources, scalar
from truss_instance_plugin.core.memory import ENGINE_NAMES, TP_ENGINES, GiB, Inputs, Verdict, verdict
from truss_instance_plugin.core.pretrained import mentions_pretrained, model_file, pretrained_refs
from truss_instance_plugin.core.resolve import rejection
from truss_instance_plugin.core.sizes import MAX_SIZES_BYTES, Entry, Sizes, SizesError, parse_sizes, sizes_path
from truss_instance_plugin.diagnostics import ERROR, INFO, WARNING, Diagnostic, clip

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model

Read = Callable[[str, int], bytes]

# Compute capability (bf16 needs 8.0) and what Baseten's engine builder runs fp8 and fp4 on (its quantization guide).
GPU_CC = {
    "T4": 75, "V100": 70, "A10G": 86, "A100": 80, "A100_40GB": 80, "L4": 89, "L40S": 89, "H100": 90, "H100_40GB": 90,
    "H200": 90, "B200": 100, "B300": 103, "GB300": 103, "RTX_PRO_6000": 120,
}  # fmt: skip
TRT_FP8 = ("L4", "H100", "H100_40GB", "H200", "B200")
TRT_FP4 = ("B200",)
TP_FLAGS = {"vllm": "--tensor-parallel-size", "sglang": "--tp-size", "tgi": "--num-shard", "lmdeploy": "--tp"}
SINGLE_GPU = frozenset({"tei", "infinity", "llama.cpp"})


class Cheaper(NamedTuple):
    """A cheaper instance type that holds the model with margin (TI304)."""

    instance_type: str
    accelerator: str  # what to write in config.yaml: "A10G", "L4:2"
    saving_per_month: Decimal  # USD, 730 hours


class Fit(NamedTuple):
    """One model's fit verdict and the numbers behind it (per GPU unless said otherwise)."""

    verdict: str  # fits, tight, does-not-fit, unknown
    reason: str  # one line: what decided it, or what is unknown
    engine: str
    model: str | None  # repo@sha (repo@revision when the snapshot has no entry)
    gpu_type: str | None
    gpus: int
    vram: int | None
    tensor_parallel: int | None
    pipeline_parallel: int
    max_length: int | None
    max_length_from: str
    weights: int | None  # bytes the GPUs hold in total
    v: Verdict | None
    estimated: bool
    cheaper: Cheaper | None


def gib(n: int) -> str:
    """'82.6 GiB' (rounded half-up to a tenth; for display only: every comparison is on exact bytes)."""
    return f"{round_half_up(Decimal(n) / GiB, '0.1')} GiB"


def _month(price_per_min: Decimal) -> str:
    return f"${round_half_up(price_per_min * 60 * HOURS_PER_MONTH, '1'):,}/month"


def _precision(word: str) -> str | None:
    w = word.lower()
    return "fp4" if "fp4" in w else "fp8" if "fp8" in w else "bf16" if w in ("bfloat16", "bf16") else None


def _unsupported(engine: str, gpu: str, kind: str, strict: bool = False) -> str | None:
    """Why `gpu` cannot run `kind` (fp8, fp4, bf16) with `engine`; None when it can (or nothing is known). TensorRT-LLM
    (Baseten's engine builder) runs fp8 and fp4 only where Baseten's quantization guide says; other engines fall back to
    slower kernels on older GPUs, so only a GPU below the compute capability they need is certain to fail. `strict`
    (choosing a GPU to suggest) applies Baseten's list to every engine."""
    cc = GPU_CC.get(gpu)
    if kind == "bf16":
        return f"bf16 needs compute capability 8.0 and {gpu} has {cc / 10}" if cc is not None and cc < 80 else None
    if engine.startswith("trtllm") or strict:
        allowed = TRT_FP8 if kind == "fp8" else TRT_FP4
        return None if gpu in allowed else f"Baseten's engine builder runs {kind} only on {', '.join(allowed)}"
    need = 80 if kind == "fp8" else 100
    if cc is not None and cc < need:
        return f"{kind} needs compute capability {need / 10} and {gpu} has {cc / 10}"
    return None


class _Fit:
    """The fit step for one analysed model."""

    def __init__(self, model: Model, sources: Sources, read: Read) -> None:
        self.model = model
        self.s = sources
        self.read = read
        self.diags: list[Diagnostic] = []
        self.config_path = model.config.path
        self.sizes_file = sizes_path(self.config_path)
        self.served_entry: Entry | None = None
        self.unusable = False  # the sizes snapshot is there but cannot be used (TI307)

    def diag(self, code: str, severity: str, message: str, hint: str, at: At | tuple[int, int], file: str = "") -> None:
        line, col = at[0], at[1]
        where = file or (at.file if isinstance(at, At) else "")
        self.diags.append(Diagnostic(code, severity, message, hint, line, col, where))  # type: ignore[arg-type]

    def accelerator_at(self) -> tuple[int, int]:
        return self.model.position("accelerator", "instance_type") if self.config_path.endswith((".yaml", ".yml")) else (0, 0)

    def snapshot(self) -> Sizes | None:
        """The sizes snapshot beside the config (None when there is none; an unusable one is error TI307)."""
        try:
            data = self.read(self.sizes_file, MAX_SIZES_BYTES)
        except FileNotFoundError:
            return None
        except OSError as e:
            data, problem = b"", f"cannot read it: {e.strerror or e}"
        else:
            problem = ""
        try:
            if problem:
                raise SizesError(problem)
            return parse_sizes(data)
        except SizesError as e:
            self.unusable = True  # said once, here: no model is "not in the snapshot" too
            hint = f"run `truss-instance fit fetch {self.where()}` to write it again"
            self.diag("TI307", ERROR, f"the sizes snapshot cannot be used: {clip(str(e), 160)}", hint, (0, 0), self.sizes_file)
            return None

    def where(self) -> str:
        return dirname(self.config_path) or "."

    def entry(self, sizes: Sizes | None, ref: Ref) -> Entry | None:
        """The snapshot's entry for a model (TI305 when there is no snapshot, TI307 when it has no such entry)."""
        got = sizes.models.get(ref.key) if sizes is not None else None
        if got is not None:
            return got
        fetch = f"run `truss-instance fit fetch {self.where()}` and commit {self.sizes_file}"
        if self.unusable:
            return None
        if sizes is None:
            self.diag("TI305", INFO, f"the size of {ref.key} is unknown (no sizes snapshot)", fetch, ref.at)
        else:
            others = [k for k in sizes.models if k.partition("@")[0].lower() == ref.repo.lower()]
            why = f"it has {others[0]}: the revision changed" if others else "the config names another model now"
            self.diag("TI307", WARNING, f"the sizes snapshot is stale: no entry for {ref.key} ({why})", fetch, ref.at)
        return None

    # Inputs ------------------------------------------------------------------------------------------------------

    def knob(self, name: str) -> Knob | None:
        return self.s.knobs.get(name)

    def weights(self, refs: Sequence[tuple[Ref, Entry]]) -> tuple[int | None, bool]:
        """Bytes on the GPUs and whether they are estimated (quantized at build time)."""
        engine, quant = self.s.engine, self.knob("quantization")
        target = _precision(str(quant.value)) if quant is not None else None
        bits = {"fp8": 8, "fp4": 4}.get(target or "")
        dtype = self.knob("dtype")
        explicit = str(dtype.value) if dtype is not None else None
        total, estimated = 0, False
        for ref, entry in refs:
            w = entry.weights
            if w is None:
                return None, False
            prequantized = entry.config is not None and entry.config.quant_method is not None
            for d, n in w.bytes_by_dtype.items():
                params = w.parameters_by_dtype[d]
                floating = d in ("F32", "F16", "BF16")
                if bits and floating and not prequantized and engine != "python":
                    total += params * bits // 8
                    estimated = True
                elif d == "F32" and not prequantized and engine != "python" and explicit not in ("float32", "float"):
                    total += params * 2  # served engines load a float32 checkpoint in 16 bits unless --dtype float32
                elif floating and engine == "python" and ref.dtype in ("float16", "bfloat16", "float32"):
                    total += params * (4 if ref.dtype == "float32" else 2)
                elif floating and explicit in ("float32", "float") and d != "F32":
                    total += params * 4
                else:
                    total += n
        return total, estimated

    def inputs(self, weights: int | None, estimated: bool, entry: Entry | None, gpus: int) -> tuple[Inputs, str]:
        """The verdict's inputs, and where the max length comes from."""
        s, k = self.s, self.knob
        tp_knob, pp_knob, length, dtype, quant = k("tp"), k("pp"), k("max_len"), k("dtype"), k("quantization")
        tp: int | None = int(tp_knob.value) if tp_knob is not None else None
        if tp is None and not any(u.what == "tensor parallel" for u in s.unknowns):
            tp = gpus if s.engine == "tgi" else 1  # TGI shards over every GPU by default; the others use one
        pp = int(pp_knob.value) if pp_knob is not None else 1
        config = entry.config if entry is not None else None
        max_len: int | None = None
        if length is not None:
            max_len = None if length.value == "auto" else int(length.value)
            source = f"{length.origin} {length.value}"
        elif config is not None and config.max_position_embeddings is not None:
            max_len, source = config.max_position_embeddings, "max_position_embeddings, the engine's default"
        else:
            source = "unknown"
        unknown = next((u.why for u in s.unknowns if u.what == "max length"), "")
        if unknown or (source == "unknown" and config is not None):
            unknown = unknown or "config.json has no max_position_embeddings"
        kv_word = str(k("kv_dtype").value) if k("kv_dtype") is not None else ""  # type: ignore[union-attr]
        if s.engine.startswith("trtllm") and quant is not None and str(quant.value) in ("fp8_kv", "fp4_kv"):
            kv_word = str(quant.value)
        wide = dtype is not None and str(dtype.value) in ("float32", "float")
        kv_bits = 8 if "fp8" in kv_word else 4 if "fp4" in kv_word else 32 if wide else 16
        fraction = k("mem_fraction")
        frac = (fraction.value, fraction.value) if fraction is not None and isinstance(fraction.value, Decimal) else None
        text = f"{fraction.origin} {fraction.value}" if fraction is not None else ""
        chunk, bs, spec = k("chunked_prefill"), k("cuda_graph_bs"), k("spec")
        sg = (
            int(chunk.value) if chunk is not None else None,
            int(bs.value) if bs is not None else None,
            str(spec.value) if spec is not None else None,
        )
        engine = s.engine if s.engine in ENGINE_NAMES else ""
        tp = 1 if engine in SINGLE_GPU else tp
        inputs = Inputs(engine, weights, estimated, tp, pp, max_len, config, kv_bits, frac, text, s.version, sg, unknown)
        return inputs, source

    # Findings ----------------------------------------------------------------------------------------------------

    def run(self) -> Fit | None:
        s, model = self.s, self.model
        if s.conflict is not None:
            first, second = s.conflict
            message = f"two models for one server: {first.origin} {first.repo} and {second.origin} {second.repo}"
            hint = f"name one model: make {second.origin} {first.repo}, or remove it"
            self.diag("TI306", WARNING, message, hint, second.at)
        res, req = model.resolution, model.request
        chosen = res.chosen if res is not None else None
        if chosen is None or req is None or chosen.gpu_type is None:
            return None  # no GPU to fit into (a CPU request, or one with errors of its own)
        nodes = res.nodes if res is not None else 1
        gpus = chosen.gpu_count * nodes
        for u in s.unknowns:
            self.diag(
                "TI305", INFO, f"{u.what} unknown: {u.why}", "write the value in config.yaml: the fit check reads it, never runs it", u.at
            )
        self.precisions_ok(chosen.gpu_type, None, report=True)
        sizes = self.snapshot() if s.served is not None else None
        pairs: list[tuple[Ref, Entry]] = []
        missing = False
        for ref in (s.served, *s.extra) if s.served is not None else ():
            entry = self.entry(sizes, ref)
            missing |= entry is None
            if entry is not None:
                pairs.append((ref, entry))
        entry = pairs[0][1] if pairs and s.served is not None and pairs[0][0] == s.served else None
        self.served_entry = entry
        self.precisions_ok(chosen.gpu_type, entry, report=True)
        weights, estimated = (None, False) if missing or not pairs else self.weights(pairs)
        inputs, source = self.inputs(weights, estimated, entry, gpus)
        self.parallelism(inputs, chosen, nodes)
        v = _fits_on(inputs, chosen, nodes)
        served = s.served
        shown = f"{served.repo}@{entry.sha}" if served is not None and entry is not None else served.key if served else None
        fit = Fit(v.verdict, self.reason(v, inputs, pairs, missing), s.engine, shown, chosen.gpu_type, gpus, chosen.vram_gib * GiB,
                  inputs.tp, inputs.pp, inputs.max_len, source, weights, v, estimated, None)  # fmt: skip
        if v.verdict == "does-not-fit":
            self.does_not_fit(fit, inputs, chosen, nodes)
        elif v.verdict == "tight":
            assert v.need is not None
            message = f"tight: needs {gib(v.need)} of {gib(v.budget)} per GPU, within the {gib(v.band)} band"
            hint = "activations, CUDA graphs and usable VRAM below nominal may not fit: a larger GPU or a shorter max length leaves room"
            self.diag("TI303", WARNING, message, hint, self.accelerator_at())
        if v.verdict in ("fits", "tight"):
            fit = fit._replace(cheaper=self.cheaper(inputs, chosen, nodes))
        return fit

    def reason(self, v: Verdict, inputs: Inputs, pairs: list[tuple[Ref, Entry]], missing: bool) -> str:
        if self.s.served is None:
            return next((u.why for u in self.s.unknowns if u.what == "model"), "the model is unknown")
        if missing:
            return "not in the sizes snapshot: run `truss-instance fit fetch`"
        if inputs.weights is None:
            return next((e.weights_missing or "" for _, e in pairs if e.weights is None), "the weights are unknown")
        if v.verdict == "unknown":
            return v.why
        assert v.need is not None
        return f"needs {gib(v.need)} of {gib(v.budget)} per GPU ({v.budget_text})"

    def precisions_ok(self, gpu: str, entry: Entry | None, report: bool = False, strict: bool = False) -> bool:
        """Whether `gpu` runs the config's dtypes and quantization (the checkpoint's, with `entry`) with this engine;
        with `report`, TI302 for each it cannot."""
        ok = True
        for kind, what, at in self.precisions(entry):
            why = _unsupported(self.s.engine, gpu, kind, strict)
            if why is not None:
                ok = False
                if report:
                    name = ENGINE_NAMES.get(self.s.engine, "this engine")
                    hint = "request a GPU that runs it, or change the dtype or quantization"
                    self.diag("TI302", ERROR, f"{what} cannot run on {gpu} with {name}: {why}", hint, at)
        return ok

    def precisions(self, entry: Entry | None) -> list[tuple[str, str, At | tuple[int, int]]]:
        out: list[tuple[str, str, At | tuple[int, int]]] = []
        if entry is None:
            for name in ("quantization", "kv_dtype", "dtype"):
                knob = self.knob(name)
                kind = _precision(str(knob.value)) if knob is not None else None
                if knob is not None and kind is not None:
                    out.append((kind, f"{kind} ({knob.origin} {knob.value})", knob.at))
            return out
        w, c, served = entry.weights, entry.config, self.s.served
        assert served is not None
        method = (c.quant_method or "") if c is not None else ""
        fp4 = "fp4" in method or (w is not None and "F4" in w.bytes_by_dtype)
        fp8 = "fp8" in method or (w is not None and any(d.startswith("F8_E") for d in w.bytes_by_dtype))
        if fp4 or fp8:
            kind = "fp4" if fp4 else "fp8"
            out.append((kind, f"the {kind} checkpoint {served.repo}", served.at))
        return out

    def parallelism(self, inputs: Inputs, chosen: InstanceType, nodes: int) -> None:
        """TI301: tensor × pipeline parallel is not the number of GPUs paid for."""
        if inputs.engine not in TP_ENGINES or inputs.tp is None:
            return
        used, gpus = inputs.tp * inputs.pp, chosen.gpu_count * nodes
        if used == gpus:
            return
        tp_knob = self.knob("tp")
        at = tp_knob.at if tp_knob is not None else self.s.engine_at
        flag = tp_knob.origin if tp_knob is not None else TP_FLAGS.get(inputs.engine, "tensor_parallel_count")
        what = f"tensor parallel {inputs.tp}" + (f" × pipeline parallel {inputs.pp}" if inputs.pp > 1 else "")
        if used > gpus:
            message = f"{what} needs {used} GPUs; {chosen.name} has {gpus}: the engine cannot start"
            self.diag("TI301", ERROR, message, f"request accelerator {chosen.gpu_type}:{used}, or set {flag} {gpus // inputs.pp}", at)
            return
        idle = gpus - used
        cost = _month(chosen.price_per_min * nodes * idle / gpus)
        message = f"{what} uses {used} of the {gpus} GPUs of {chosen.name}: {idle} idle GPU{'s' if idle > 1 else ''} cost {cost}"
        self.diag("TI301", WARNING, message, f"set {flag} {gpus // inputs.pp}, or request accelerator {chosen.gpu_type}:{used}", at)

    def candidates(self, inputs: Inputs, count: int, nodes: int) -> list[InstanceType]:
        """Baseten's pick for the request with each GPU type that runs this model's dtypes and `count` GPUs."""
        model, req = self.model, self.model.request
        assert req is not None
        chosen = model.chosen
        out: list[InstanceType] = []
        on_request = chosen is not None and chosen.on_request  # types available on request only are suggested only then
        for gpu in model.catalog.gpu_types():
            if not self.precisions_ok(gpu, None, strict=True) or not self.precisions_ok(gpu, self.served_entry, strict=True):
                continue
            want = req._replace(gpu_type=gpu, gpu_count=count, instance_type=None)
            fits = [t for t in model.catalog.types if rejection(t, want) is None and (on_request or not t.on_request)]
            if fits:
                out.append(min(fits, key=InstanceType.sort_key))
        return sorted(out, key=InstanceType.sort_key)

    def does_not_fit(self, fit: Fit, inputs: Inputs, chosen: InstanceType, nodes: int) -> None:
        v = fit.v
        assert v is not None and v.weights_per_gpu is not None
        tp_knob = self.knob("tp")
        what = f"{gib(v.weights_per_gpu)} of weights" + (
            f" + {gib(v.kv_per_gpu)} of KV cache for one {inputs.max_len}-token sequence" if v.kv_per_gpu else ""
        )
        split = f" (tensor parallel {inputs.tp})" if inputs.engine in TP_ENGINES and inputs.tp else ""
        message = f"does not fit: {what} per GPU{split} exceed the {gib(v.budget_high)} budget ({v.budget_text})"
        at: At | tuple[int, int] = self.accelerator_at()
        gpus = chosen.gpu_count * nodes
        hint = ""
        if inputs.engine in TP_ENGINES and inputs.tp is not None and inputs.tp * inputs.pp < gpus:
            all_gpus = gpus // inputs.pp
            better = _fits_on(inputs, chosen, nodes, all_gpus)
            if better.verdict in ("fits", "tight") and better.need is not None:
                flag = tp_knob.origin if tp_knob is not None else TP_FLAGS.get(inputs.engine, "tensor_parallel_count")
                hint = f"set {flag} {all_gpus} to use all {gpus} GPUs: {gib(better.need)} of {gib(better.budget)} per GPU"
                at = tp_knob.at if tp_knob is not None else at
        if not hint:
            best: tuple[InstanceType, int | None] | None = None
            for count in sorted({t.gpu_count for t in self.model.catalog.types if t.gpu_count}):
                for t in self.candidates(inputs, count, nodes):
                    size = _tp_for(inputs, t, nodes)
                    if (
                        t.gpu_count == count
                        and _fits_on(inputs, t, nodes, size).verdict == "fits"
                        and (best is None or t.sort_key() < best[0].sort_key())
                    ):
                        best = (t, size)
            if best is not None:
                t, size = best
                flag = tp_knob.origin if tp_knob is not None else TP_FLAGS.get(inputs.engine, "tensor_parallel_count")
                with_tp = f" with {flag} {size}" if size is not None else ""
                cost = _month(t.price_per_min * nodes)
                hint = f"the cheapest type that holds it: accelerator {t.gpu_type}:{t.gpu_count}{with_tp} ({t.name}, {cost})"
            else:
                hint = "no instance type in the catalog holds it: a smaller or more quantized model, or a shorter max length"
        self.diag("TI300", ERROR, message, hint, at)

    def cheaper(self, inputs: Inputs, chosen: InstanceType, nodes: int) -> Cheaper | None:
        """TI304: the cheapest type that holds the model with margin, with the GPUs the engine needs and the request's
        cpu and memory, when it costs less than the chosen type."""
        count = inputs.tp * inputs.pp if inputs.engine in TP_ENGINES and inputs.tp else chosen.gpu_count
        req = self.model.request
        assert req is not None
        for t in self.candidates(inputs, count, nodes):
            if t.price_per_min >= chosen.price_per_min:
                break
            v = _fits_on(inputs, t, nodes)
            if v.verdict != "fits" or v.need is None:
                continue
            saving = (chosen.price_per_min - t.price_per_min) * nodes * 60 * HOURS_PER_MONTH
            accelerator = f"{t.gpu_type}:{count}" if count > 1 else str(t.gpu_type)
            raw = self.model.parsed.raw
            keeps = f'keeping cpu "{raw.get("cpu", "1")}" and memory {raw.get("memory", "2Gi")}'
            message = (
                f"a cheaper type holds it with margin: {t.name} ({t.vram_gib} GiB per GPU) saves {_month(saving / 60 / HOURS_PER_MONTH)}"
            )
            hint = f"set accelerator: {accelerator} ({keeps}): {gib(v.need)} of {gib(v.budget)} per GPU"
            self.diag("TI304", INFO, message, hint, self.accelerator_at())
            return Cheaper(t.name, accelerator, saving)
        return None


def _fits_on(inputs: Inputs, t: InstanceType, nodes: int, tp: int | None = None) -> Verdict:
    gpus = t.gpu_count * nodes
    if inputs.engine in SINGLE_GPU:
        gpus = 1
    return verdict(inputs, t.vram_gib * GiB, gpus, tp)


def _tp_for(inputs: Inputs, t: InstanceType, nodes: int) -> int | None:
    """The tensor parallel size that uses every GPU of `t` (None when the engine has none to set)."""
    if inputs.engine not in TP_ENGINES:
        return None
    return max(1, t.gpu_count * nodes // inputs.pp)


def sources_of(config: LoadedConfig, read: Read = read_unlinked) -> Sources | None:
    """What a config says about its model (a Python model's from_pretrained literals too); None when it names none."""
    path = config.path
    sources = read_sources(config.model) if config.model is not None else None
    if path.endswith((".yaml", ".yml")) and (sources is None or sources.engine == "python"):
        file = model_file(path, _top_scalar(config, "model_module_dir"), _top_scalar(config, "model_class_filename"))
        data = mentions_pretrained(file, read)
        refs = pretrained_refs(file, data, file) if data is not None else ()
        if refs or sources is None:
            sources = read_sources(config.model, refs)
    if sources is None or (sources.served is None and not sources.unknowns and sources.conflict is None):
        return None
    return sources


def fetch_refs(config: LoadedConfig, read: Read = read_unlinked) -> tuple[Ref, ...]:
    """The models whose sizes the fit check of this config looks up (what `fit fetch` asks the Hub about)."""
    sources = sources_of(config, read)
    return () if sources is None or sources.served is None else (sources.served, *sources.extra)


def assess(model: Model, read: Read = read_unlinked) -> tuple[Fit | None, list[Diagnostic]]:
    """The model's fit and findings TI300–TI307 (None and none when it names no model); `read` reads its files."""
    sources = sources_of(model.config, read)
    if sources is None:
        return None, []
    step = _Fit(model, sources, read)
    return step.run(), step.diags


# Rendering -----------------------------------------------------------------------------------------------------------


def fit_json(fit: Fit) -> dict[str, object]:
    """The documented `fit` object of `check --format json` (bytes as exact integers, money as a decimal string)."""
    v = fit.v
    need, budget = (v.need, v.budget) if v is not None else (None, None)
    return {
        "verdict": fit.verdict,
        "reason": fit.reason,
        "engine": fit.engine or None,
        "model": fit.model,
        "gpu_type": fit.gpu_type,
        "gpus": fit.gpus,
        "vram_bytes_per_gpu": fit.vram,
        "tensor_parallel": fit.tensor_parallel,
        "pipeline_parallel": fit.pipeline_parallel,
        "max_length": fit.max_length,
        "max_length_source": fit.max_length_from,
        "weights_bytes": fit.weights,
        "weights_estimated": fit.estimated,
        "weights_bytes_per_gpu": v.weights_per_gpu if v is not None else None,
        "kv_cache_bytes_per_gpu": v.kv_per_gpu if v is not None else None,
        "need_bytes_per_gpu": need,
        "budget_bytes_per_gpu": budget,
        "budget_source": v.budget_text if v is not None else None,
        "band_bytes_per_gpu": v.band if v is not None else None,
        "headroom_bytes_per_gpu": budget - need if need is not None and budget is not None else None,
        "cheaper": None
        if fit.cheaper is None
        else {
            "instance_type": fit.cheaper.instance_type,
            "accelerator": fit.cheaper.accelerator,
            "saving_usd_per_month": str(round_half_up(fit.cheaper.saving_per_month, "0.01")),
        },
    }


def fit_lines(fit: Fit) -> list[str]:
    """The memory block of `explain` and `fit`: weights, KV cache, budget and headroom per GPU."""
    engine = ENGINE_NAMES.get(fit.engine, "an engine truss-instance cannot read")
    split = f"tensor parallel {fit.tensor_parallel}" if fit.engine in TP_ENGINES and fit.tensor_parallel else "one model"
    if fit.pipeline_parallel > 1:
        split += f" × pipeline parallel {fit.pipeline_parallel}"
    vram = f" ({fit.vram // GiB} GiB)" if fit.vram else ""
    shown = fit.model[: fit.model.index("@") + 8] if fit.model and "@" in fit.model else fit.model or "model unknown"
    head = f"  memory    {engine} · {split} on {fit.gpus} × {fit.gpu_type}{vram} · {shown}"
    v = fit.v
    if v is None or v.weights_per_gpu is None or fit.weights is None:
        return [head, f"    {fit.verdict}: {fit.reason}"]
    lines = [
        head,
        f"    weights   {gib(fit.weights)} in total, {gib(v.weights_per_gpu)} per GPU"
        + (" (estimated: quantized at build time)" if fit.estimated else ""),
    ]
    if v.kv_per_gpu is not None and fit.engine in ("vllm", "sglang", "tgi", "trtllm", "lmdeploy"):
        length = f"one {fit.max_length}-token sequence" if fit.max_length else "the length that fits"
        lines.append(f"    KV cache  {gib(v.kv_per_gpu)} per GPU for {length} ({fit.max_length_from})")
    lines.append(f"    budget    {gib(v.budget)} per GPU ({v.budget_text})")
    if v.need is not None:
        left = v.budget - v.need
        sign = "−" if left < 0 else ""
        band = f"band {gib(v.band)}: activations, CUDA graphs, usable VRAM below nominal"
        lines.append(f"    headroom  {sign}{gib(abs(left))} per GPU: {fit.verdict.replace('-', ' ')} ({band})")
    else:
        lines.append(f"    {fit.verdict}: {fit.reason}")
    return lines


def _top_scalar(config: object, key: str) -> str | None:
    nodes = getattr(getattr(config, "model", None), "nodes", {})
    value = scalar(nodes.get(key)) if key in nodes else None
    return value if isinstance(value, str) else None
