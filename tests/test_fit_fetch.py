"""`fit fetch` against a loopback fake of the Hugging Face Hub: the real console script in a subprocess (huggingface_hub
reads HF_ENDPOINT when it is imported), the snapshot's exact bytes, the Hub's errors, offline mode, timeouts, the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub, File, json_file, safetensors, serve
from support import TRUSS_INSTANCE

SHA = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "89abcdef0123456789abcdef0123456789abcdef"
LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 8,
    "num_key_value_heads": 2, "hidden_size": 256, "max_position_embeddings": 4096, "torch_dtype": "bfloat16",
    "rope_theta": 10000.0,
}  # fmt: skip
TINY = safetensors(
    {
        "model.embed_tokens.weight": ("BF16", [32000, 256]),
        "model.layers.0.self_attn.q_proj.weight": ("BF16", [256, 256]),
        "model.norm.weight": ("F32", [256]),
        "lm_head.weight": ("BF16", [32000, 256]),
    },
    {"format": "pt"},
)


def tiny_files() -> dict[str, File]:
    return {"config.json": json_file(LLAMA), "model.safetensors": TINY, "README.md": File(b"# tiny\n")}


def sharded_files() -> dict[str, File]:
    one = safetensors({"a.weight": ("F8_E4M3", [4096, 4096]), "a.scale": ("F32", [32, 32])})
    # a header longer than the first 100 kB read: a second Range request fetches the rest
    two = safetensors({"b.weight": ("BF16", [1024, 1024]), "c.weight": ("F4", [1000, 7])}, pad=150_000)
    index = {"metadata": {"total_size": 1}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
             "a.scale": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors",
             "c.weight": "model-00002-of-00002.safetensors"}}  # fmt: skip
    one.size += 5 << 30  # a shard of 5 GB: only its header may ever be read
    return {
        "config.json": json_file({**LLAMA, "quantization_config": {"quant_method": "fp8"}}),
        "model.safetensors.index.json": json_file(index),
        "model-00001-of-00002.safetensors": one,
        "model-00002-of-00002.safetensors": two,
    }


CONFIG = """\
model_name: llm
resources:
  accelerator: A10G
docker_server:
  start_command: sh -c "HF_TOKEN=$(cat /secrets/hf_access_token) vllm serve org/tiny-llm --max-model-len 4096"
"""


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.add("org/tiny-llm", tiny_files(), SHA)
    fake.add("org/sharded-llm", sharded_files(), SHA2, revisions=("main", "v1"))
    fake.add("org/gated-llm", tiny_files(), SHA, gated=True)
    fake.add("org/slow-llm", tiny_files(), SHA, slow=3.0)
    with serve(fake):
        yield fake


def env(tmp_path: Path, hub: FakeHub, **extra: str) -> dict[str, str]:
    """A clean environment: the fake as HF_ENDPOINT, no saved token, any other host unreachable."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING", "TRUSS_INSTANCE")) and "PROXY" not in k.upper()}
    out.update(
        HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1",
        HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost",
    )  # fmt: skip
    out.update(extra)
    return out


def fetch(tmp_path: Path, hub: FakeHub, *argv: str, **extra: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(TRUSS_INSTANCE), "fit", "fetch", *argv],
        cwd=tmp_path,
        env=env(tmp_path, hub, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def model(tmp_path: Path, name: str, config: str) -> Path:
    folder = tmp_path / "models" / name
    (folder / "model").mkdir(parents=True)
    (folder / "config.yaml").write_text(config)
    return folder


TINY_ENTRY = {
    "config": {
        "architecture": "LlamaForCausalLM", "head_dim": None, "hidden_size": 256, "kv_lora_rank": None, "layer_types": None,
        "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 8, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "qk_rope_head_dim": None, "quant_method": None, "sliding_window": None,
        "sliding_window_pattern": None, "torch_dtype": "bfloat16", "use_sliding_window": None,
    },
    "config_missing": None,
    "sha": SHA,
    "weights": {
        "bytes_by_dtype": {"BF16": 2 * (2 * 32000 * 256 + 256 * 256), "F32": 4 * 256},
        "files": 1,
        "parameters_by_dtype": {"BF16": 2 * 32000 * 256 + 256 * 256, "F32": 256},
    },
    "weights_missing": None,
}  # fmt: skip


def snapshot(models: dict[str, object], source: str) -> bytes:
    doc = {"generator": "truss-instance fit fetch", "models": models, "sizes_version": 1, "source": source}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


@pytest.mark.e2e
def test_fetch_writes_a_deterministic_snapshot_once(tmp_path: Path, hub: FakeHub) -> None:
    folder = model(tmp_path, "llm", CONFIG)
    code, out, err = fetch(tmp_path, hub, "models/llm")
    assert (code, err) == (0, "")
    assert out == f"wrote models/llm/truss-instance.sizes.json: org/tiny-llm@{SHA[:7]}\n"
    assert (folder / "truss-instance.sizes.json").read_bytes() == snapshot({"org/tiny-llm@main": TINY_ENTRY}, hub.url)
    before = (folder / "truss-instance.sizes.json").stat().st_mtime_ns
    code, out, err = fetch(tmp_path, hub, "models/llm")
    assert (code, out, err) == (0, f"unchanged models/llm/truss-instance.sizes.json: org/tiny-llm@{SHA[:7]}\n", "")
    assert (folder / "truss-instance.sizes.json").stat().st_mtime_ns == before  # same bytes: not even rewritten
    # one model info, one config.json, and the weights file read by Range only: its header, never its data
    weights = [r for r in hub.requests if r[1].endswith(".safetensors")]
    assert weights and all(r[2] == "bytes=0-99999" for r in weights)


@pytest.mark.e2e
def test_fetch_reads_sharded_headers_by_range_and_never_the_weights(tmp_path: Path, hub: FakeHub) -> None:
    config = CONFIG.replace("vllm serve org/tiny-llm", "vllm serve org/sharded-llm --revision v1")
    folder = model(tmp_path, "big", config)
    code, _, err = fetch(tmp_path, hub, "models/big")
    assert (code, err) == (0, "")
    doc = json.loads((folder / "truss-instance.sizes.json").read_text())
    entry = doc["models"]["org/sharded-llm@v1"]
    assert entry["sha"] == SHA2 and entry["config"]["quant_method"] == "fp8"
    assert entry["weights"] == {
        "bytes_by_dtype": {"BF16": 2 * 1024 * 1024, "F32": 4 * 32 * 32, "F4": 3500, "F8_E4M3": 4096 * 4096},
        "files": 2,
        "parameters_by_dtype": {"BF16": 1024 * 1024, "F32": 32 * 32, "F4": 7000, "F8_E4M3": 4096 * 4096},
    }
    ranges = sorted(r[2] or "" for r in hub.requests if r[1].endswith(".safetensors"))
    header = json.loads(hub.repos["org/sharded-llm"].files["model-00002-of-00002.safetensors"].head[8:])
    assert header  # the padded header parses
    size = int.from_bytes(hub.repos["org/sharded-llm"].files["model-00002-of-00002.safetensors"].head[:8], "little")
    assert ranges == ["bytes=0-99999", "bytes=0-99999", f"bytes=8-{size + 7}"]


@pytest.mark.e2e
def test_gated_repo_without_token_exits_2_and_writes_nothing(tmp_path: Path, hub: FakeHub) -> None:
    folder = model(tmp_path, "ok", CONFIG)
    model(tmp_path, "gated", CONFIG.replace("org/tiny-llm", "org/gated-llm"))
    code, out, err = fetch(tmp_path, hub, "models")
    assert (code, out) == (2, "")
    assert err == (
        "truss-instance: org/gated-llm@main: the repo is gated; accept its terms on the Hub, then log in (`hf auth login`) "
        "or set HF_TOKEN\n"
    )
    assert not (folder / "truss-instance.sizes.json").exists()  # the other model's snapshot is not written either


@pytest.mark.e2e
def test_gated_repo_with_token_is_fetched_and_the_token_is_never_shown_or_stored(tmp_path: Path, hub: FakeHub) -> None:
    folder = model(tmp_path, "gated", CONFIG.replace("org/tiny-llm", "org/gated-llm"))
    code, out, err = fetch(tmp_path, hub, "models/gated", HF_TOKEN=hub.token)
    assert (code, err) == (0, "")
    assert hub.token not in out
    assert hub.token.encode() not in (folder / "truss-instance.sizes.json").read_bytes()
    assert any(r[3] == f"Bearer {hub.token}" for r in hub.requests)  # huggingface_hub sent it, to the Hub only


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("vllm serve org/missing", "org/missing@main: no such repo on {url} (or it is private: log in or set HF_TOKEN)"),
        ("vllm serve org/tiny-llm --revision nope", "org/tiny-llm@nope: no such revision on {url}"),
    ],
)
def test_missing_repo_or_revision_exits_2_naming_it(tmp_path: Path, hub: FakeHub, start: str, message: str) -> None:
    folder = model(tmp_path, "llm", CONFIG.replace("vllm serve org/tiny-llm", start))
    code, out, err = fetch(tmp_path, hub, "models/llm")
    assert (code, out, err) == (2, "", f"truss-instance: {message.format(url=hub.url)}\n")
    assert not (folder / "truss-instance.sizes.json").exists()


@pytest.mark.e2e
def test_offline_exits_2_without_a_request(tmp_path: Path, hub: FakeHub) -> None:
    folder = model(tmp_path, "llm", CONFIG)
    code, out, err = fetch(tmp_path, hub, "models/llm", HF_HUB_OFFLINE="1")
    assert (code, out) == (2, "")
    assert (
        err == "truss-instance: HF_HUB_OFFLINE is set, and `fit fetch` asks the Hugging Face Hub; unset it to fetch (nothing was written)\n"
    )
    assert hub.requests == [] and not (folder / "truss-instance.sizes.json").exists()


@pytest.mark.e2e
def test_a_slow_hub_times_out_naming_the_repo(tmp_path: Path, hub: FakeHub) -> None:
    model(tmp_path, "llm", CONFIG.replace("org/tiny-llm", "org/slow-llm"))
    code, out, err = fetch(tmp_path, hub, "models/llm", "--timeout", "1")
    assert (code, out) == (2, "")
    assert err == f"truss-instance: org/slow-llm@main: no answer from {hub.url} within 1 s (--timeout); nothing was written\n"


@pytest.mark.e2e
def test_without_huggingface_hub_one_line_says_how_to_install_it(tmp_path: Path, hub: FakeHub) -> None:
    model(tmp_path, "llm", CONFIG)
    code = "import sys; sys.modules['huggingface_hub'] = None; from truss_instance_plugin.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "fit", "fetch", "models/llm"],
        cwd=tmp_path,
        env=env(tmp_path, hub),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr
        == "truss-instance: `fit fetch` needs huggingface_hub, which is not installed: pip install 'truss-instance-plugin[hub]'\n"
    )


@pytest.mark.e2e
def test_a_config_that_names_no_model_is_said_and_left_alone(tmp_path: Path, hub: FakeHub) -> None:
    folder = model(tmp_path, "plain", "model_name: plain\nresources:\n  accelerator: A10G\n")
    code, out, err = fetch(tmp_path, hub, "models/plain")
    assert (code, out, err) == (0, "models/plain/config.yaml: names no Hugging Face model; nothing to fetch\n", "")
    assert hub.requests == [] and sorted(p.name for p in folder.iterdir()) == ["config.yaml", "model"]


@pytest.mark.e2e
def test_a_python_model_and_a_diffusers_pipeline(tmp_path: Path, hub: FakeHub) -> None:
    unet = safetensors({"conv.weight": ("F32", [320, 4, 3, 3])})
    vae = safetensors({"dec.weight": ("F32", [128, 128])})
    vae16 = safetensors({"dec.weight": ("F16", [128, 128])})
    hub.add(
        "org/pipe",
        {"model_index.json": json_file({"_class_name": "X"}), "unet/diffusion_pytorch_model.safetensors": unet,
         "vae/diffusion_pytorch_model.safetensors": vae, "vae/diffusion_pytorch_model.fp16.safetensors": vae16},
        SHA,
    )  # fmt: skip
    folder = model(tmp_path, "sd", "model_name: sd\nresources:\n  accelerator: A10G\n")
    (folder / "model" / "model.py").write_text(
        "from diffusers import DiffusionPipeline\n"
        "class Model:\n"
        "    def load(self):\n"
        '        self.pipe = DiffusionPipeline.from_pretrained("org/pipe", torch_dtype=torch.float16)\n'
    )
    code, _, err = fetch(tmp_path, hub, "models/sd")
    assert (code, err) == (0, "")
    entry = json.loads((folder / "truss-instance.sizes.json").read_text())["models"]["org/pipe@main"]
    assert entry["weights"] == {
        "bytes_by_dtype": {"F32": 4 * (320 * 36 + 128 * 128)},
        "files": 2,
        "parameters_by_dtype": {"F32": 320 * 36 + 128 * 128},
    }
    assert (entry["config"], entry["config_missing"]) == (None, "no config.json (a diffusers pipeline, or another library's model)")


def test_the_endpoint_can_be_given_explicitly_in_process(tmp_path: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_ENDPOINT is read when huggingface_hub is imported; Hub(endpoint=…) (and HF_ENDPOINT read at call time) wins."""
    from truss_instance_plugin.integrations.hub import Hub

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    entry = Hub(endpoint=hub.url).fetch("org/tiny-llm", "main")
    assert entry.sha == SHA and entry.weights is not None and entry.weights.total_bytes == 2 * (2 * 32000 * 256 + 256 * 256) + 1024
    monkeypatch.setenv("HF_ENDPOINT", hub.url + "/")
    assert Hub().endpoint == hub.url
