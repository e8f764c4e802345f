"""Our safetensors header reading against huggingface_hub's own `get_safetensors_metadata`: the same parameters per dtype
for any tensors, in one file or sharded, served by the loopback fake Hub."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import BITS, FakeHub, json_file, safetensors, serve
from hypothesis import given, settings
from hypothesis import strategies as st

from truss_instance_plugin.integrations.hub import Hub

SHA = "fedcba9876543210fedcba9876543210fedcba98"
DTYPES = sorted(BITS)
tensor = st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(0, 3000), min_size=0, max_size=4))
tensors = st.lists(tensor, min_size=1, max_size=12)
_names = itertools.count()


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    with serve(FakeHub()) as fake:
        yield fake


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # hf_hub_download caches the index there
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@settings(max_examples=25)
@given(tensors=tensors, shards=st.integers(1, 3), pad=st.sampled_from([0, 120_000]))
def test_parameters_by_dtype_match_huggingface_hub(hub: FakeHub, tensors: list[tuple[str, list[int]]], shards: int, pad: int) -> None:
    from huggingface_hub import HfApi

    repo = f"org/model-{next(_names)}"
    named = {f"t{i}": t for i, t in enumerate(tensors)}
    if shards == 1:
        files = {"model.safetensors": safetensors(named, pad=pad)}
    else:
        groups = [dict(list(named.items())[i::shards]) for i in range(shards)]
        groups = [g for g in groups if g]
        names = [f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
        files = {n: safetensors(g, pad=pad) for n, g in zip(names, groups, strict=True)}
        files["model.safetensors.index.json"] = json_file({"weight_map": {t: n for n, g in zip(names, groups, strict=True) for t in g}})
    hub.add(repo, files, SHA)
    theirs = HfApi(endpoint=hub.url).get_safetensors_metadata(repo).parameter_count
    hub_ = Hub(endpoint=hub.url)
    sha, listed = hub_.info(repo, "main")
    shard_files = hub_.weight_files(repo, sha, listed, repo)
    assert isinstance(shard_files, list)
    ours = hub_.weights(repo, sha, shard_files, repo)
    assert ours.parameters_by_dtype == dict(theirs)
    expected_bytes: dict[str, int] = {}
    for dtype, shape in tensors:  # bytes from data_offsets: packed dtypes (F4) count bytes, not elements
        count = 1
        for n in shape:
            count *= n
        expected_bytes[dtype] = expected_bytes.get(dtype, 0) + -(-count * BITS[dtype] // 8)
    assert ours.bytes_by_dtype == dict(sorted(expected_bytes.items()))
