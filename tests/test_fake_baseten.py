"""End-to-end checks that a real `truss push` subprocess runs against FakeBaseten."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

# Make the helper importable under --import-mode=importlib too.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from fake_baseten import MODEL_PY, FakeBaseten, truss_env

CONFIG_YAML = """\
model_name: fake-model
resources:
  cpu: "4"
  memory: 16Gi
  accelerator: A10G
"""


PUSH_OPS = [
    "teams",
    "models",  # team resolution looks the model name up (all: true)
    "models",  # exists_model looks it up again (team_id: ...)
    "truss_validation",
    "model_s3_upload_credentials",
    "s3_put",
]


@pytest.fixture
def truss_bin() -> str:
    """Path of the real truss CLI next to this interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / "truss"
    found = str(candidate) if candidate.exists() else shutil.which("truss")
    if not found:
        pytest.skip("truss CLI is not installed")
    return found


@pytest.fixture
def truss_dir(tmp_path: Path) -> Path:
    """A minimal truss directory with the A10G resources config."""
    root = tmp_path / "my_truss"
    (root / "model").mkdir(parents=True)
    (root / "config.yaml").write_text(CONFIG_YAML)
    (root / "model" / "model.py").write_text(MODEL_PY)
    return root


def _push(truss_bin: str, truss_dir: Path, home: Path, fake: FakeBaseten, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `truss push` against the fake server and return the finished process."""
    cmd = [truss_bin, "push", str(truss_dir), "--remote", "fake", "--non-interactive"]
    return subprocess.run(
        [*cmd, *extra],
        check=False,
        env=truss_env(home, fake.url),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _only(fake: FakeBaseten, operation: str) -> dict[str, Any]:
    """The single recorded request with this operation name."""
    matches = [r for r in fake.requests if r["operation"] == operation]
    assert len(matches) == 1, fake.operations()
    return matches[0]


@pytest.mark.e2e
def test_push_new_model_creates_model(truss_bin: str, truss_dir: Path, tmp_path: Path) -> None:
    with FakeBaseten() as fake:
        proc = _push(truss_bin, truss_dir, tmp_path / "home", fake)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert fake.operations() == [*PUSH_OPS, "create_model_from_truss"]
    for op in ("truss_validation", "create_model_from_truss"):
        resources = _only(fake, op)["config"]["resources"]
        assert resources["cpu"] == "4"
        assert resources["memory"] == "16Gi"
        assert resources["accelerator"] == "A10G"
    create_query = _only(fake, "create_model_from_truss")["body"]["query"]
    assert 'name: "fake-model"' in create_query
    assert 'team_id: "fake-team-id"' in create_query
    assert "Deploying truss using A10Gx4x16 instance type." in output
    assert "Model fake-model was successfully pushed" in output

    put = _only(fake, "s3_put")
    assert put["method"] == "PUT" and put["path"].startswith("/fake-bucket/models/")
    tar_bytes = fake.uploads[put["path"].lstrip("/")]
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        names = set(tar.getnames())
    assert {"config.yaml", "model/model.py"} <= names
    assert fake.models == {"fake-model": "fakemodel1"}


@pytest.mark.e2e
def test_push_existing_model_promote_creates_version(truss_bin: str, truss_dir: Path, tmp_path: Path) -> None:
    with FakeBaseten(existing_models={"fake-model": "m123"}) as fake:
        proc = _push(truss_bin, truss_dir, tmp_path / "home", fake, "--promote")

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert fake.operations() == [*PUSH_OPS, "create_model_version_from_truss"]
    query = _only(fake, "create_model_version_from_truss")["body"]["query"]
    assert 'model_id: "m123"' in query
    assert 'environment_name: "production"' in query
    assert "preserve_env_instance_type: true" in query
    resources = _only(fake, "create_model_version_from_truss")["config"]["resources"]
    assert (resources["cpu"], resources["memory"], resources["accelerator"]) == (
        "4",
        "16Gi",
        "A10G",
    )
    assert "Resources from the config will be ignored" in output
    assert "Deploying truss using A10Gx4x16 instance type." in output
    assert "Model ID:      m123" in output


@pytest.mark.e2e
def test_push_output_json_prints_json_on_stdout(truss_bin: str, truss_dir: Path, tmp_path: Path) -> None:
    with FakeBaseten(instance_type="H100x8") as fake:
        proc = _push(truss_bin, truss_dir, tmp_path / "home", fake, "--output", "json")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert fake.operations() == [*PUSH_OPS, "create_model_from_truss"]
    assert json.loads(proc.stdout) == {
        "model_id": "fakemodel1",
        "model_version_id": "fakedeployment1",
        "predict_url": f"{fake.url}/model-fakemodel1/deployment/fakedeployment1/predict",
        "logs_url": f"{fake.url}/models/fakemodel1/logs/fakedeployment1",
        "is_draft": False,
    }
    assert "Deploying truss using H100x8 instance type." in proc.stderr


def test_unknown_graphql_query_gets_error() -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with FakeBaseten() as fake:
        request = urllib.request.Request(
            f"{fake.url}/graphql/",
            data=json.dumps({"query": '{ model(name: "x") { id } }'}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with opener.open(request, timeout=5) as resp:
            payload = json.loads(resp.read())

    assert payload["data"] is None
    assert "does not implement" in payload["errors"][0]["message"]
    assert fake.operations() == ['unknown:{ model(name: "x")']


def test_multipart_upload_through_truss_upload_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transfer = pytest.importorskip("truss.remote.baseten.utils.transfer")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    blob = tmp_path / "big.bin"
    data = bytes(range(256)) * (9 * 4096)  # 9 MiB > boto3's 8 MiB multipart threshold
    blob.write_bytes(data)

    with FakeBaseten() as fake:
        creds = fake._gql_model_s3_upload_credentials("")
        bucket, key = creds.pop("s3_bucket"), creds.pop("s3_key")
        transfer.multipart_upload_boto3(str(blob), bucket, key, creds)

    ops = fake.operations()
    assert ops[0] == "s3_create_multipart_upload"
    assert ops[1:-1] == ["s3_upload_part", "s3_upload_part"]
    assert ops[-1] == "s3_complete_multipart_upload"
    assert fake.uploads[f"{bucket}/{key}"] == data
