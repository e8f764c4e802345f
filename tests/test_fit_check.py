"""The fit check offline: the truss-examples patterns read statically, the GLM-4.5-FP8 case with its exact output,
findings TI300–TI307 with positions and fixes, JSON and explain, the hook, and no network ever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin.config import load_config
from truss_instance_plugin.core.fit import sources_of
from truss_instance_plugin.core.sizes import Entry, ModelConfig, Sizes, Weights, render_sizes
from truss_instance_plugin.discover import config_for_lock

TRUSS_INSTANCE = Path(sys.executable).parent / "truss-instance"
SHA = "a" * 40

# z-ai/glm-4-5-fp8 in basetenlabs/truss-examples (its start command as published; the rest trimmed)
GLM = """\
model_name: GLM 4.5 FP8
base_image:
  image: lmsysorg/sglang:v0.4.9.post6-cu126
docker_server:
  start_command: sh -c "python3 -m sglang.launch_server --model-path zai-org/GLM-4.5-FP8 --tp-size 4   --tool-call-parser glm45    --reasoning-parser glm45    --speculative-algorithm EAGLE   --speculative-num-steps 3    --speculative-eagle-topk 1    --speculative-num-draft-tokens 4   --mem-fraction-static 0.7   --disable-shared-experts-fusion   --served-model-name glm-4.5-fp8   --host 0.0.0.0   --port 8000"  # noqa: E501
  readiness_endpoint: /health
  server_port: 8000
resources:
  accelerator: H100:8
  use_gpu: true
"""  # noqa: E501
GLM_CONFIG = ModelConfig(
    model_type="glm4_moe", architecture="Glm4MoeForCausalLM", num_hidden_layers=92, num_attention_heads=96, num_key_value_heads=8,
    head_dim=128, hidden_size=5120, max_position_embeddings=131072, torch_dtype="bfloat16", quant_method="fp8",
)  # fmt: skip
GLM_WEIGHTS = Weights(
    93,
    {"BF16": 11_600_000_000, "F32": 104_000_000, "F8_E4M3": 349_000_000_000},
    {"BF16": 5_800_000_000, "F32": 26_000_000, "F8_E4M3": 349_000_000_000},
)
LLAMA_8B = ModelConfig(
    model_type="llama", architecture="LlamaForCausalLM", num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
    hidden_size=4096, max_position_embeddings=131072, torch_dtype="bfloat16",
)  # fmt: skip
LLAMA_8B_WEIGHTS = Weights(4, {"BF16": 16_060_522_496}, {"BF16": 8_030_261_248})


def truss(root: Path, name: str, config: str, models: dict[str, Entry] | None = None) -> Path:
    folder = root / name
    (folder / "model").mkdir(parents=True)
    (folder / "config.yaml").write_text(config)
    if models is not None:
        (folder / "truss-instance.sizes.json").write_bytes(render_sizes(Sizes("https://huggingface.co", models)))
    return folder


@pytest.fixture
def glm(work: Path) -> Path:
    return truss(work, "glm", GLM, {"zai-org/GLM-4.5-FP8@main": Entry(SHA, GLM_WEIGHTS, None, GLM_CONFIG, None)})


GLM_CHECK = [
    "glm/config.yaml:5:100: error TI300 does not fit: 84.0 GiB of weights + 11.5 GiB of KV cache for one 131072-token sequence "
    "per GPU (tensor parallel 4) exceed the 56.0 GiB budget (--mem-fraction-static 0.7 of 80 GiB)",
    "  set --tp-size 8 to use all 8 GPUs: 47.7 GiB of 56.0 GiB per GPU",
    "glm/config.yaml:5:100: warning TI301 tensor parallel 4 uses 4 of the 8 GPUs of H100:8: 4 idle GPUs cost $18,979/month",
    "  set --tp-size 8, or request accelerator H100:4",
    "1 model: 1 error, 1 warning",
]


def test_glm_4_5_fp8_on_h100_8_with_tp_4_does_not_fit(run: Run, glm: Path) -> None:
    code, out, err = run("check", "--no-lock", "glm")
    assert (code, err) == (1, "")
    assert out.splitlines() == GLM_CHECK
    line = GLM.splitlines()[4]
    assert line[89:98] == "--tp-size" and line[99] == "4"  # 5:100 is the 4 of --tp-size 4


def test_glm_with_tp_8_fits(run: Run, work: Path) -> None:
    """And no cheaper type: A100s have no native fp8 (Baseten runs fp8 on L4, H100, H200, B200), H200 is on request."""
    truss(
        work,
        "glm8",
        GLM.replace("--tp-size 4", "--tp-size 8"),
        {"zai-org/GLM-4.5-FP8@main": Entry(SHA, GLM_WEIGHTS, None, GLM_CONFIG, None)},
    )
    assert run("check", "--no-lock", "glm8") == (0, "", "")
    _, out, _ = run("check", "--no-lock", "--format", "json", "glm8")
    fit = json.loads(out)["models"][0]["fit"]
    assert fit == {
        "verdict": "fits", "reason": "needs 47.7 GiB of 56.0 GiB per GPU (--mem-fraction-static 0.7 of 80 GiB)", "engine": "sglang",
        "model": f"zai-org/GLM-4.5-FP8@{SHA}", "gpu_type": "H100", "gpus": 8, "vram_bytes_per_gpu": 80 << 30, "tensor_parallel": 8,
        "pipeline_parallel": 1, "max_length": 131072, "max_length_source": "max_position_embeddings, the engine's default",
        "weights_bytes": 360_704_000_000, "weights_estimated": False, "weights_bytes_per_gpu": 45_088_000_000,
        "kv_cache_bytes_per_gpu": 92 * 131072 * 2 * 1 * 128 * 2, "need_bytes_per_gpu": 45_088_000_000 + 92 * 131072 * 512,
        "budget_bytes_per_gpu": 60_129_542_144, "budget_source": "--mem-fraction-static 0.7 of 80 GiB",
        "band_bytes_per_gpu": (1 << 30) + (80 << 30) // 20,
        "headroom_bytes_per_gpu": 60_129_542_144 - 45_088_000_000 - 92 * 131072 * 512, "cheaper": None,
    }  # fmt: skip


def test_explain_shows_the_memory_block(run: Run, glm: Path) -> None:
    code, out, _ = run("explain", "glm")
    lines = out.splitlines()
    at = lines.index("  memory    SGLang · tensor parallel 4 on 8 × H100 (80 GiB) · zai-org/GLM-4.5-FP8@aaaaaaa")
    assert lines[at + 1 : at + 5] == [
        "    weights   335.9 GiB in total, 84.0 GiB per GPU",
        "    KV cache  11.5 GiB per GPU for one 131072-token sequence (max_position_embeddings, the engine's default)",
        "    budget    56.0 GiB per GPU (--mem-fraction-static 0.7 of 80 GiB)",
        "    headroom  −39.5 GiB per GPU: does not fit (band 5.0 GiB: activations, CUDA graphs, usable VRAM below nominal)",
    ]
    assert code == 1
    code, out, _ = run("explain", "--format", "json", "glm")
    assert json.loads(out)["fit"]["verdict"] == "does-not-fit"


def test_the_pre_commit_hook_reports_the_same_findings(run: Run, glm: Path) -> None:
    code, out, _ = run("check", "--hook", "--no-lock", "glm/config.yaml")
    assert (code, out.splitlines()) == (1, GLM_CHECK)


def test_the_hook_given_only_the_sizes_file_checks_its_model(run: Run, glm: Path) -> None:
    """pre-commit passes only the files a commit changes: a refreshed sizes file re-checks the config beside it."""
    code, out, _ = run("check", "--hook", "--no-lock", "glm/truss-instance.sizes.json")
    assert (code, out.splitlines()) == (1, GLM_CHECK)
    assert run("check", "--no-lock", "glm/truss-instance.sizes.json")[:2] == (1, "\n".join(GLM_CHECK) + "\n")


def test_a_named_sizes_file_stands_for_its_named_config(work: Path) -> None:
    (work / "m").mkdir()
    (work / "m" / "prod.yaml").write_text("")
    assert config_for_lock(str(work / "m" / "truss-instance.prod.sizes.json")) == str(work / "m" / "prod.yaml")
    assert config_for_lock("m/truss-instance.sizes.json") == os.path.join("m", "config.yaml")
    assert config_for_lock("m/sizes.json") is None


def test_check_never_touches_the_network(glm: Path) -> None:
    """The same result with HF_HUB_OFFLINE=1, with HF_ENDPOINT at a dead port, and without either; no huggingface_hub."""
    results = []
    for extra in ({}, {"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}):
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRUSS_INSTANCE"))}
        environ.update(extra, HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
        done = subprocess.run(
            [str(TRUSS_INSTANCE), "check", "--no-lock", "glm"], cwd=glm.parent, env=environ, capture_output=True, text=True, timeout=60
        )
        results.append((done.returncode, done.stdout, done.stderr))
    assert results == [(1, "\n".join(GLM_CHECK) + "\n", "")] * 3
    code = "import sys; from truss_instance_plugin.cli import main; main(['check', '--no-lock', 'glm']); print(sorted(m for m in sys.modules if m.startswith(('huggingface_hub', 'httpx', 'requests'))))"  # noqa: E501
    done = subprocess.run([sys.executable, "-c", code], cwd=glm.parent, capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "[]"


# TI304: a cheaper type with margin -------------------------------------------------------------------------------------

LLAMA = """\
model_name: llama
docker_server:
  start_command: vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192
resources:
  accelerator: H100
"""


def test_an_8b_model_on_an_h100_gets_the_cheaper_type(run: Run, work: Path) -> None:
    truss(work, "llama", LLAMA, {"meta-llama/Llama-3.1-8B-Instruct@main": Entry(SHA, LLAMA_8B_WEIGHTS, None, LLAMA_8B, None)})
    code, out, _ = run("check", "--no-lock", "llama")
    assert (code, out.splitlines()) == (
        0,
        [
            "llama/config.yaml:5:16: info TI304 a cheaper type holds it with margin: L4:4x16 (24 GiB per GPU) saves $4,126/month",
            '  set accelerator: L4 (keeping cpu "1" and memory 2Gi): 16.0 GiB of 21.6 GiB per GPU',
            "1 model: 1 info",
        ],
    )
    code, out, _ = run("check", "--no-lock", "--format", "json", "llama")
    assert json.loads(out)["models"][0]["fit"]["cheaper"] == {
        "instance_type": "L4:4x16",
        "accelerator": "L4",
        "saving_usd_per_month": "4125.52",
    }


def test_the_cheaper_type_keeps_the_gpus_the_engine_needs_and_runs_its_dtype(run: Run, work: Path) -> None:
    """--tensor-parallel-size 2 needs 2 GPUs; fp8 (vLLM) needs compute capability 8.0: never a T4."""
    config = LLAMA.replace("--max-model-len 8192", "--max-model-len 8192 --tensor-parallel-size 2 --quantization fp8")
    truss(
        work,
        "tp2",
        config.replace("accelerator: H100", "accelerator: H100:2"),
        {"meta-llama/Llama-3.1-8B-Instruct@main": Entry(SHA, LLAMA_8B_WEIGHTS, None, LLAMA_8B, None)},
    )
    code, out, _ = run("check", "--no-lock", "tp2")
    first = out.splitlines()[0]
    assert code == 0
    assert first == "tp2/config.yaml:5:16: info TI304 a cheaper type holds it with margin: L4:2x24x96 (24 GiB per GPU) saves $7,737/month"


# Offline findings ------------------------------------------------------------------------------------------------------


def test_ti302_fp8_on_a10g_with_the_engine_builder(run: Run, work: Path) -> None:
    config = """\
model_name: engine
resources:
  accelerator: A10G
  memory: 10Gi
trt_llm:
  build:
    base_model: decoder
    checkpoint_repository:
      repo: meta-llama/Llama-3.1-8B-Instruct
      source: HF
    quantization_type: fp8_kv
    max_seq_len: 8192
"""
    truss(work, "engine", config)
    code, out, _ = run("check", "--no-lock", "engine")
    assert (code, out.splitlines()[2:4]) == (
        1,
        [
            "engine/config.yaml:11:24: error TI302 fp8 (trt_llm.build.quantization_type fp8_kv) cannot run on A10G with TensorRT-LLM: "
            "Baseten's engine builder runs fp8 only on L4, H100, H100_40GB, H200, B200",
            "  request a GPU that runs it, or change the dtype or quantization",
        ],
    )


def test_ti302_bf16_on_t4(run: Run, work: Path) -> None:
    truss(work, "t4", "resources:\n  accelerator: T4\ndocker_server:\n  start_command: vllm serve org/m --dtype bfloat16\n")
    code, out, _ = run("check", "--no-lock", "t4")
    assert (code, out.splitlines()) == (
        1,
        [
            "t4/config.yaml:4:29: info TI305 the size of org/m@main is unknown (no sizes snapshot)",
            "  run `truss-instance fit fetch t4` and commit t4/truss-instance.sizes.json",
            "t4/config.yaml:4:43: error TI302 bf16 (--dtype bfloat16) cannot run on T4 with vLLM: bf16 needs compute capability 8.0 and T4 has 7.5",  # noqa: E501
            "  request a GPU that runs it, or change the dtype or quantization",
            "1 model: 1 error, 1 info",
        ],
    )


def test_ti306_two_models_for_one_server(run: Run, work: Path) -> None:
    config = (
        "model_metadata:\n  repo_id: org/other\nresources:\n  accelerator: A10G\ndocker_server:\n  start_command: vllm serve org/served\n"
    )
    truss(work, "two", config)
    code, out, _ = run("check", "--no-lock", "two")
    assert code == 0
    assert out.splitlines()[:2] == [
        "two/config.yaml:2:12: warning TI306 two models for one server: the model argument org/served and model_metadata.repo_id org/other",
        "  name one model: make model_metadata.repo_id org/served, or remove it",
    ]


def test_ti305_no_snapshot_and_a_shell_substitution(run: Run, work: Path) -> None:
    config = (
        "resources:\n  accelerator: H100:8\ndocker_server:\n"
        '  start_command: sh -c "vllm serve org/big --tensor-parallel-size $(nvidia-smi -L | wc -l)"\n'
    )
    truss(work, "sub", config)
    code, out, _ = run("check", "--no-lock", "sub")
    assert (code, out.splitlines()) == (
        0,
        [
            "sub/config.yaml:4:36: info TI305 the size of org/big@main is unknown (no sizes snapshot)",
            "  run `truss-instance fit fetch sub` and commit sub/truss-instance.sizes.json",
            "sub/config.yaml:4:44: info TI305 tensor parallel unknown: --tensor-parallel-size $(nvidia-smi -L | wc -l) is read at run time",
            "  write the value in config.yaml: the fit check reads it, never runs it",
            "1 model: 2 info",
        ],
    )


def test_ti307_stale_and_unusable_snapshots(run: Run, work: Path) -> None:
    entry = Entry(SHA, LLAMA_8B_WEIGHTS, None, LLAMA_8B, None)
    folder = truss(
        work, "stale", LLAMA.replace("Instruct --max", "Instruct --revision v2 --max"), {"meta-llama/Llama-3.1-8B-Instruct@main": entry}
    )
    code, out, _ = run("check", "--no-lock", "stale")
    assert out.splitlines()[:2] == [
        "stale/config.yaml:3:29: warning TI307 the sizes snapshot is stale: no entry for meta-llama/Llama-3.1-8B-Instruct@v2 "
        "(it has meta-llama/Llama-3.1-8B-Instruct@main: the revision changed)",
        "  run `truss-instance fit fetch stale` and commit stale/truss-instance.sizes.json",
    ]
    (folder / "truss-instance.sizes.json").write_text('{"generator": 1.5}')
    code, out, _ = run("check", "--no-lock", "stale")
    assert (code, out.splitlines()[:2]) == (
        1,
        [
            "stale/truss-instance.sizes.json: error TI307 the sizes snapshot cannot be used: a number that is not a whole number (1.5): "
            "sizes are exact integers",
            "  run `truss-instance fit fetch stale` to write it again",
        ],
    )


def test_a_config_without_model_sources_has_no_fit(run: Run, work: Path) -> None:
    code, out, _ = run("check", "--no-lock", "--format", "json", "models/sdxl")
    assert code == 0 and "fit" not in json.loads(out)["models"][0]


# Reading the truss-examples patterns -----------------------------------------------------------------------------------

PATTERNS = [
    (  # vLLM through python -m, tensor parallel, a memory fraction written with =
        "docker_server:\n  start_command: python3 -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"
        " --tensor-parallel-size 2 --gpu-memory-utilization=0.95\n",
        "vllm", "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8@main", "--model", {"tp": ("2", 2, 130), "mem_fraction": ("0.95", 2, 157)},
    ),
    (  # a folded sh -c wrapper with an env prefix, the model mounted by weights[]
        "weights:\n  - source: \"hf://Qwen/Qwen3.5-9B@ef3d031a90d340a92d71f83ec17d054e100ce713\"\n    mount_location: /app/checkpoint/q\n"
        "docker_server:\n  start_command: >-\n    sh -c \"SAFETENSORS_FAST_GPU=1 vllm serve /app/checkpoint/q\n    --max-model-len 32768\n"
        "    --dtype bfloat16\"\n",
        "vllm", "Qwen/Qwen3.5-9B@ef3d031a90d340a92d71f83ec17d054e100ce713", "weights[0]", {"max_len": ("32768", 7, 21), "dtype": ("bfloat16", 8, 13)},  # noqa: E501
    ),
    (  # SGLang after truss-transfer-cli, the model in a model_cache volume
        "model_cache:\n  - repo_id: Qwen/Qwen3-32B-FP8\n    revision: 37f3f67\n    use_volume: true\n    volume_folder: qwen3\n"
        "docker_server:\n  start_command: sh -c \"truss-transfer-cli && python3 -m sglang.launch_server --model-path /app/model_cache/qwen3 --tp 1\"\n",  # noqa: E501
        "sglang", "Qwen/Qwen3-32B-FP8@37f3f67", "model_cache[0]", {"tp": ("1", 7, 120)},
    ),
    (  # TEI under bash -c, a model_cache volume
        "model_cache:\n  - repo_id: BAAI/bge-base-en-v1.5\n    use_volume: true\n    volume_folder: cached_model\n"
        "docker_server:\n  start_command: bash -c \"truss-transfer-cli && text-embeddings-router --port 7997 --model-id /app/model_cache/cached_model\"\n",  # noqa: E501
        "tei", "BAAI/bge-base-en-v1.5@main", "model_cache[0]", {},
    ),
    (  # TensorRT-LLM's engine builder
        "trt_llm:\n  build:\n    checkpoint_repository:\n      repo: Qwen/Qwen3-8B\n      revision: refs/pr/8\n      source: HF\n"
        "    max_seq_len: 40960\n    quantization_type: fp8\n    tensor_parallel_count: 2\n  runtime:\n    kv_cache_free_gpu_mem_fraction: 0.62\n",  # noqa: E501
        "trtllm", "Qwen/Qwen3-8B@refs/pr/8", "trt_llm.build.checkpoint_repository",
        {"max_len": ("40960", 7, 18), "quantization": ("fp8", 8, 24), "tp": ("2", 9, 28), "mem_fraction": ("0.62", 11, 37)},
    ),
    (  # the inference stack v2: a placeholder checkpoint, the real model in runtime.patch_kwargs.model_path
        "weights:\n  - source: hf://nvidia/Qwen3-235B-A22B-Instruct-2507-NVFP4@main\n    mount_location: /models/q\n"
        "trt_llm:\n  build:\n    checkpoint_repository:\n      repo: michaelfeil/empty-model\n      source: HF\n"
        "  runtime:\n    tensor_parallel_size: 4\n    patch_kwargs:\n      model_path: /models/q\n      kv_cache_config:\n        dtype: fp8\n",  # noqa: E501
        "trtllm", "nvidia/Qwen3-235B-A22B-Instruct-2507-NVFP4@main", "weights[0]", {"tp": ("4", 10, 27), "kv_dtype": ("fp8", 14, 16)},
    ),
    (  # a Python model whose model_metadata names it and configures vLLM in-process
        "model_metadata:\n  repo_id: microsoft/Phi-3.5-mini-instruct\n  vllm_config:\n    tensor_parallel_size: 1\n    max_model_len: 10000\n",  # noqa: E501
        "vllm", "microsoft/Phi-3.5-mini-instruct@main", "model_metadata.repo_id", {"tp": ("1", 4, 27), "max_len": ("10000", 5, 20)},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("config", "engine", "served", "origin", "knobs"), PATTERNS)
def test_truss_examples_patterns(
    tmp_path: Path, config: str, engine: str, served: str, origin: str, knobs: dict[str, tuple[str, int, int]]
) -> None:
    (tmp_path / "config.yaml").write_text("resources:\n  accelerator: H100\n" + config)
    loaded = load_config(str(tmp_path / "config.yaml"))
    s = sources_of(loaded)
    assert s is not None and s.served is not None
    assert (s.engine, s.served.key, s.served.origin) == (engine, served, origin)
    assert {k: (str(v.value), v.at.line - 2, v.at.col) for k, v in s.knobs.items()} == knobs
    assert not s.unknowns


def test_a_script_start_command_is_unknown_and_says_nothing(run: Run, work: Path) -> None:
    truss(
        work,
        "script",
        "resources:\n  accelerator: A10G\ndocker_server:\n  start_command: sh -c 'chmod +x /app/data/do.sh && /app/data/do.sh'\n",
    )
    assert run("check", "--no-lock", "script") == (0, "", "")
