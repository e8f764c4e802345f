"""The fit check's inputs come from pull requests: a hostile sizes snapshot, start command, model file or YAML shape is
a finding or nothing, never a crash, an escape, a hang or a read outside the truss."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Run
from test_fit_check import LLAMA, LLAMA_8B, LLAMA_8B_WEIGHTS, SHA, truss

from truss_instance_plugin.config import load_config
from truss_instance_plugin.core.engines import read_sources
from truss_instance_plugin.core.sizes import Entry, SizesError, parse_sizes

GOOD = {"meta-llama/Llama-3.1-8B-Instruct@main": Entry(SHA, LLAMA_8B_WEIGHTS, None, LLAMA_8B, None)}


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ("[]", "the top level must be an object"),
        ('{"generator": "x", "sizes_version": 1, "source": "https://huggingface.co", "models": {}}', "not written by `truss-instance fit fetch` (sizes_version 1)"),  # noqa: E501
        ('{"generator": "truss-instance fit fetch", "sizes_version": 9, "source": "https://h.co", "models": {}}', "sizes_version 9 is newer than this truss-instance understands (1); upgrade it"),  # noqa: E501
        ('{"generator": "truss-instance fit fetch", "sizes_version": 1, "source": "javascript:alert(1)", "models": {}}', "source must be the Hub's URL"),  # noqa: E501
        ('{"generator": "truss-instance fit fetch", "sizes_version": 1, "source": "https://h.co", "models": {"a/b@main": {"sha": "x"}}}',
         "model a/b@main: missing keys ['config', 'config_missing', 'weights', 'weights_missing']"),
        ('{"generator": "truss-instance fit fetch", "sizes_version": 1, "source": "https://h.co", "models": {"../x@main\\u202e": {}}}',
         "a model key must be a short name, not '../x@main\\u202e'"),
        ('{"generator": "truss-instance fit fetch", "sizes_version": 1, "source": "https://h.co", "models": {}, "extra": 1}', "the top level: unknown keys ['extra']"),  # noqa: E501
        ("1" * 5000, "a number with too many digits"),
        ("[" * 100_000, "nested too deeply"),
        ('{"a": NaN}', "a number that is not a whole number (NaN): sizes are exact integers"),
    ],
)  # fmt: skip
def test_a_snapshot_that_cannot_be_used_says_why(doc: str, why: str) -> None:
    with pytest.raises(SizesError) as e:
        parse_sizes(doc.encode())
    assert str(e.value) == why


def test_bounds_on_numbers_and_counts() -> None:
    base = {"generator": "truss-instance fit fetch", "sizes_version": 1, "source": "https://h.co"}
    weights = {"files": 1, "bytes_by_dtype": {"BF16": 1 << 63}, "parameters_by_dtype": {"BF16": 1}}
    entry = {"sha": SHA, "weights": weights, "weights_missing": None, "config": None, "config_missing": "none"}
    with pytest.raises(SizesError, match=r"must be a whole number from 0 to 4611686018427387904"):
        parse_sizes(json.dumps({**base, "models": {"a/b@main": entry}}).encode())
    many = {f"a/b{i}@main": entry for i in range(65)}
    with pytest.raises(SizesError, match="at most 64 models"):
        parse_sizes(json.dumps({**base, "models": many}).encode())
    with pytest.raises(SizesError, match="larger than 1 MiB"):
        parse_sizes(b" " * ((1 << 20) + 1))


def test_an_unusable_snapshot_is_one_escaped_finding(run: Run, work: Path) -> None:
    folder = truss(work, "evil", LLAMA, GOOD)
    (folder / "truss-instance.sizes.json").write_text(
        '{"generator": "\\u001b[31m::error::x\\n", "sizes_version": 1, "source": "https://h", "models": {}}'
    )
    code, out, _ = run("check", "--no-lock", "evil")
    assert (code, out.splitlines()) == (
        1,
        [
            "evil/truss-instance.sizes.json: error TI307 the sizes snapshot cannot be used: not written by `truss-instance fit fetch` (sizes_version 1)",  # noqa: E501
            "  run `truss-instance fit fetch evil` to write it again",
            "1 model: 1 error",
        ],
    )


def test_a_symbolic_link_is_never_followed(run: Run, work: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text('{"password": "hunter2"}')
    folder = truss(work, "link", LLAMA)
    (folder / "truss-instance.sizes.json").symlink_to(outside)
    code, out, _ = run("check", "--no-lock", "link")
    assert code == 1
    assert "hunter2" not in out and "password" not in out
    assert (
        out.splitlines()[0]
        == "link/truss-instance.sizes.json: error TI307 the sizes snapshot cannot be used: cannot read it: a symbolic link; not read"
    )


@given(st.text(max_size=300))
def test_any_start_command_is_read_without_an_exception(command: str) -> None:
    from truss_instance_plugin.config import load_config_bytes

    text = "docker_server:\n  start_command: " + json.dumps(command) + "\nresources:\n  accelerator: A10G\n"
    loaded = load_config_bytes("config.yaml", text.encode())
    if loaded.model is not None:
        read_sources(loaded.model)


def test_a_huge_start_command_stays_linear(tmp_path: Path) -> None:
    command = "vllm serve org/m " + "--tp-size $(x) " * 60_000 + "`" * 1001 + "$(" * 20_000
    (tmp_path / "config.yaml").write_text("docker_server:\n  start_command: " + json.dumps(command) + "\n")
    loaded = load_config(str(tmp_path / "config.yaml"))
    assert loaded.model is not None
    start = time.perf_counter()
    s = read_sources(loaded.model)
    assert time.perf_counter() - start < 5
    assert s.engine == "vllm" and s.served is not None and s.served.key == "org/m@main"


def test_odd_yaml_shapes_name_nothing(tmp_path: Path) -> None:
    for text in (
        "model_metadata:\n  ? [a]\n  : b\n",
        "model_metadata: !!str 1\n",
        "docker_server: [1, 2]\n",
        "weights: {a: 1}\nmodel_cache: [1, [2], {repo_id: [x]}]\n",
        "trt_llm:\n  build:\n    checkpoint_repository: {repo: 5, source: HF}\n",
        "a: &x {b: *x}\nmodel_metadata: *x\n",
    ):
        (tmp_path / "config.yaml").write_text(text)
        loaded = load_config(str(tmp_path / "config.yaml"))
        s = read_sources(loaded.model) if loaded.model is not None else None
        assert s is None or s.served is None, text
