"""The online commands on every supported truss: the oldest (0.15.12), a middle one (0.17.2) and the newest.

truss's remote API grew within the range: 0.17.2 added OAuth remotes (`fetch_auth_header`) and
`resolve_rest_api_url`, 0.18.0 the User-Agent helper, 0.18.26 the env-pair remote (`BASETEN_TRUSS_AUTH_REMOTE_URL` +
`BASETEN_TRUSS_AUTH_API_KEY`). Each version here is a real venv (truss from the registry, cached across runs by
helpers_venv.truss_venv; the newest is the running interpreter's) with this project's wheel installed by pip, and the
real `truss-instance` console script talks to the loopback FakeBaseten: `catalog fetch`, `adopt --from-baseten`,
`check --online`, each way of naming credentials, and what a truss cannot do (exit 2, one line, the version needed).
A contract test lists, per version, every truss attribute the client touches, and checks the REST host mapping
against the one truss itself computes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_baseten import FakeBaseten, truss_env
from helpers_venv import TRUSS_MIDDLE, TRUSS_OLDEST, Venv, build_wheel, installed_venv, truss_venv
from hypothesis import given
from hypothesis import strategies as st
from support import REPO, copy_sdxl

from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT

NEWEST = "newest"  # the truss of the interpreter running the tests (the newest release the `truss` extra allows)
VERSIONS = [TRUSS_OLDEST, TRUSS_MIDDLE, NEWEST]
KEY = "sk-test.0123456789abcdefSECRET"  # distinctive: a test fails if any of it leaks
DATE_EPOCH = "1790000000"  # 2026-09-21 UTC
AS_OF = "2026-09-21"
ENV_PAIR = ("BASETEN_TRUSS_AUTH_REMOTE_URL", "BASETEN_TRUSS_AUTH_API_KEY")
MI300X = (
    "truss-instance: warning: MI300X:8 is not usable: gpu_type 'MI300X' is no accelerator truss accepts "
    "(B10, T4, L4, A10G, V100, A100, A100_40GB, H100, H200, H100_40GB, B200, L40S, RTX_PRO_6000, B300, GB300) "
    '(kept under "unmapped")'
)
LOCK = "models/sdxl/truss-instance.lock"

Installed = Callable[[str], Venv]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """installed(version) -> a venv with that truss and this project's wheel, installed by pip (built once per module)."""
    base = tmp_path_factory.mktemp("truss-range")
    venvs: dict[str, Venv] = {}
    wheel: list[Path] = []

    def get(version: str) -> Venv:
        if version not in venvs:
            if not wheel:
                wheel.append(build_wheel(base / "wheel"))
            parent = None if version == NEWEST else truss_venv(version)
            venvs[version] = installed_venv(base / f"venv-{version}", wheel[0], parent)
        return venvs[version]

    return get


def _env(home: Path, fake: FakeBaseten, **extra: str) -> dict[str, str]:
    """A new process's environment: a ~/.trussrc with remote 'fake' (KEY at the fake), the REST API at the fake too."""
    env = truss_env(home, fake.url, api_key=KEY)
    env.pop("PYTHONPATH", None)  # the installed copy, not the source tree
    env.update({"TRUSS_INSTANCE_REST_URL": fake.url, "SOURCE_DATE_EPOCH": DATE_EPOCH, **extra})
    return env


def _run(venv: Venv, env: dict[str, str], cwd: Path, *argv: str) -> tuple[int, str, str]:
    """The installed `truss-instance` console script: (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [str(venv.script("truss-instance")), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def _truss_version(venv: Venv) -> str:
    code = "import importlib.metadata as m; print(m.version('truss'))"
    return subprocess.run([str(venv.python), "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


@pytest.mark.e2e
@pytest.mark.parametrize("version", VERSIONS)
def test_fetch_adopt_and_check_online_with_a_trussrc_remote(installed: Installed, tmp_path: Path, version: str) -> None:
    venv = installed(version)
    copy_sdxl(tmp_path / "models" / "sdxl")
    with FakeBaseten(api_key=KEY) as fake:
        env = _env(tmp_path / "home", fake)
        mid, _ = fake.add_deployment("sdxl", "A10Gx8x32")
        fetched = _run(venv, env, tmp_path, "catalog", "fetch", "-o", "snap.json")
        sha = json.loads((tmp_path / "snap.json").read_text())["sha256"][:19] if fetched[0] == 0 else "?"
        assert fetched == (0, f"{MI300X}\nwrote snap.json: 8 types from {fake.url} as of {AS_OF}, {sha}\n", "")
        snap = ("--catalog", "snap.json")
        assert _run(venv, env, tmp_path, "adopt", "models/sdxl", "--instance", "A10Gx4x16", "--model-id", mid, *snap) == (
            0, f"recorded deployment of sdxl (A10Gx4x16) in {LOCK}\n{FIRST_DEPLOYMENT.format(instance='A10Gx4x16')}\n",
            "truss-instance: warning: A10Gx4x16 does not match the request in models/sdxl/config.yaml: it has 15 GiB < 16 GiB "
            "requested; recording it as given\n",  # the snapshot's A10Gx4x16 has 15 GiB
        )  # fmt: skip
        assert _run(venv, env, tmp_path, "check", "models", "--online", *snap, "--format", "parsable") == (
            0, f"{LOCK}:10:18: [warning] TI111 changed outside this repo (dashboard?): lock says A10Gx4x16, Baseten runs A10Gx8x32 "
            "(production deployment of sdxl)\n", "",
        )  # fmt: skip
        assert _run(venv, env, tmp_path, "adopt", "models/sdxl", "--from-baseten", *snap) == (
            0, f"recorded deployment of sdxl (A10Gx8x32) in {LOCK}\n", "",
        )  # fmt: skip
        assert _run(venv, env, tmp_path, "check", "models", "--online", *snap) == (0, "", "")
        assert fake.operations() == ["listed_instances", "rest_models", "rest_models", "rest_deployment", "rest_models"]
        assert {r["authorization"] for r in fake.requests} == {f"Api-Key {KEY}"}  # a trussrc api_key: truss's legacy scheme
        # Without the REST override, truss's map sends a loopback remote_url to the production host (the dead proxy here)
        del env["TRUSS_INSTANCE_REST_URL"]
        assert _run(venv, env, tmp_path, "adopt", "models/sdxl", "--from-baseten", "--timeout", "2") == (
            2, "", "truss-instance: GET /v1/models: cannot connect to https://api.baseten.co: connection refused (at the proxy in "
            "HTTPS_PROXY / HTTP_PROXY); check --rest-url or TRUSS_INSTANCE_REST_URL (default: truss's REST host for remote_url)\n",
        )  # fmt: skip
        assert len(fake.requests) == 5
    assert KEY not in (tmp_path / LOCK).read_text() and KEY not in (tmp_path / "snap.json").read_text()


OAUTH = "[fake]\nremote_provider = baseten\nremote_url = {url}\nauth_type = oauth\noauth_access_token = {key}\n"
OAUTH += "oauth_refresh_token = refresh-token\noauth_expires_at = 4102444800\n"  # 2100-01-01: never refreshed here


@pytest.mark.e2e
@pytest.mark.parametrize("version", VERSIONS)
def test_every_way_of_naming_credentials(installed: Installed, tmp_path: Path, version: str) -> None:
    venv = installed(version)
    truss = _truss_version(venv)
    with FakeBaseten(api_key=KEY) as fake:
        env = _env(tmp_path / "home", fake)
        trussrc = Path(env["USER_TRUSSRC_PATH"])
        trussrc.unlink()
        assert _run(venv, env, tmp_path, "catalog", "fetch", "-o", "snap.json") == (
            2, "", f"truss-instance: no Baseten credentials: {trussrc} has no remote and {' and '.join(ENV_PAIR)} are not set; "
            "run `truss login`\n",
        )  # fmt: skip
        # The env pair, as truss >= 0.18.26 reads it (and truss-instance on older trusses): it hides ~/.trussrc, sent as Bearer
        pair = dict(zip(ENV_PAIR, (fake.url, KEY), strict=True))
        code, out, err = _run(venv, {**env, **pair}, tmp_path, "catalog", "fetch")
        assert (code, json.loads(out)["as_of"] if code == 0 else out) == (0, AS_OF), err
        assert err.splitlines()[-1].startswith(f"truss-instance: 8 types from {fake.url} as of {AS_OF}, sha256:")
        assert fake.requests[-1]["authorization"] == f"Bearer {KEY}"
        trussrc.write_text(f"[fake]\nremote_provider = baseten\napi_key = {KEY}\nremote_url = {fake.url}\n")
        assert _run(venv, {**env, **pair}, tmp_path, "catalog", "fetch", "--remote", "fake") == (
            2, "", f"truss-instance: remote 'fake' cannot be used: {' and '.join(ENV_PAIR)} are set and take precedence (as in truss "
            ">= 0.18.26); unset them\n",
        )  # fmt: skip
        assert _run(venv, {**env, ENV_PAIR[1]: KEY}, tmp_path, "catalog", "fetch") == (
            2, "", f"truss-instance: no usable Baseten credentials: {ENV_PAIR[1]} is set but {ENV_PAIR[0]} is not; set both or "
            "neither.\n",
        )  # fmt: skip
        # An OAuth remote (`truss login` since 0.17.2): sent as truss sends it, or the version it needs, in one line
        trussrc.write_text(OAUTH.format(url=fake.url, key=KEY))
        asked, expired = len(fake.requests), ""
        code, out, err = _run(venv, env, tmp_path, "catalog", "fetch")
        if version == TRUSS_OLDEST:
            assert (code, out, err) == (
                2, "", f"truss-instance: remote 'fake' signs in with OAuth, which needs truss >= 0.17.2 (truss {truss} is installed); "
                "upgrade truss, or give remote 'fake' an api_key\n",
            )  # fmt: skip
            assert len(fake.requests) == asked
        else:
            assert (code, json.loads(out)["as_of"] if code == 0 else out) == (0, AS_OF), err
            assert fake.requests[-1]["authorization"] == f"Bearer {KEY}"
            # An expired token: truss refreshes it with a request of its own (to the production host, the dead proxy here)
            expired = OAUTH.format(url=fake.url, key=KEY).replace("4102444800", "1000000000")
            trussrc.write_text(expired)
            assert _run(venv, env, tmp_path, "catalog", "fetch") == (
                2, "", "truss-instance: GraphQL listed_instances: the credentials of remote 'fake' cannot be used: truss failed to "
                "refresh them (ProxyError); try again, or run `truss login`\n",
            )  # fmt: skip
            assert (len(fake.requests), trussrc.read_text()) == (asked + 1, expired)
        assert trussrc.read_text() == (expired or OAUTH.format(url=fake.url, key=KEY))  # never written
    assert not (tmp_path / "snap.json").exists()


# What each version offers of what baseten.connect touches: RemoteFactory (get_available_config_names,
# load_remote_config, create), USER_TRUSSRC_PATH, a remote's remote_url, the api module's REST host map, always;
# fetch_auth_header, resolve_rest_api_url, the env-pair remote and the User-Agent helper only from some version on.
CONTRACT = """
import importlib.metadata, importlib.util, json, sys
from truss.remote import remote_factory
from truss.remote.baseten import api, remote
from truss_instance_plugin.integrations.baseten import rest_api_url
factory = remote_factory.RemoteFactory
urls = sys.argv[1:] + [u + s for u in getattr(api, "API_URL_MAPPING", {}) for s in ("", "/", "//")]
print(json.dumps({
    "version": importlib.metadata.version("truss"),
    "always": {
        "RemoteFactory": [n for n in ("get_available_config_names", "load_remote_config", "create") if callable(getattr(factory, n, None))],
        "USER_TRUSSRC_PATH": hasattr(remote_factory, "USER_TRUSSRC_PATH"),
        "REGISTRY": factory.REGISTRY.get("baseten") is remote.BasetenRemote,
        "remote_url": remote.BasetenRemote("https://app.baseten.co", api_key="k").remote_url,
        "API_URL_MAPPING": hasattr(api, "API_URL_MAPPING") and hasattr(api, "DEFAULT_API_DOMAIN"),
    },
    "fetch_auth_header": callable(getattr(remote.BasetenRemote, "fetch_auth_header", None)),
    "resolve_rest_api_url": callable(getattr(api, "resolve_rest_api_url", None)),
    "env pair": [getattr(remote_factory, n, None) for n in ("REMOTE_URL_ENV", "API_KEY_ENV", "ENV_REMOTE_NAME")],
    "user agent": importlib.util.find_spec("truss.remote.baseten.user_agent") is not None,
    "REST hosts that differ from truss's": [
        (u, rest_api_url(u), remote.BasetenRemote(u, api_key="k").api.rest_api_url) for u in urls
        if rest_api_url(u) != remote.BasetenRemote(u, api_key="k").api.rest_api_url
    ],
}))
"""
ALWAYS = {
    "RemoteFactory": ["get_available_config_names", "load_remote_config", "create"], "USER_TRUSSRC_PATH": True,
    "REGISTRY": True, "remote_url": "https://app.baseten.co", "API_URL_MAPPING": True,
}  # fmt: skip
ENV_NAMES = [*ENV_PAIR, "<environment>"]
EXPECTED = {  # version -> fetch_auth_header, resolve_rest_api_url, env pair, user agent
    TRUSS_OLDEST: (False, False, [None, None, None], False),
    TRUSS_MIDDLE: (True, True, [None, None, None], False),
    NEWEST: (True, True, ENV_NAMES, True),
}
SAMPLE_URLS = ["http://127.0.0.1:1234", "https://APP.baseten.co", "https://app.baseten.co/x", " https://app.baseten.co", ""]


@pytest.mark.e2e
@pytest.mark.parametrize("version", VERSIONS)
def test_every_truss_attribute_the_client_uses(installed: Installed, version: str) -> None:
    venv = installed(version)
    proc = subprocess.run([str(venv.python), "-c", CONTRACT, *SAMPLE_URLS], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["version"] == (_truss_version(venv) if version == NEWEST else version)
    assert found["always"] == ALWAYS
    offered = (found["fetch_auth_header"], found["resolve_rest_api_url"], found["env pair"], found["user agent"])
    assert offered == EXPECTED[version]
    assert found["REST hosts that differ from truss's"] == []


# -- the REST host map where truss has none (before 0.17.2), against the newest truss's own function ------------------


def _remote_urls(mapped: list[str]) -> st.SearchStrategy[str]:
    """remote_urls truss maps (with trailing slashes, paths, spaces, other case) and any text."""
    known = st.sampled_from(mapped)
    suffixed = st.tuples(known, st.sampled_from(["", "/", "//", "/x", " "])).map("".join)
    return st.one_of(suffixed, known.map(str.upper), st.text(max_size=40))


@given(st.data())
def test_the_rest_host_map_is_truss_s(data: st.DataObject) -> None:
    api = pytest.importorskip("truss.remote.baseten.api")
    from truss_instance_plugin.integrations.baseten import rest_api_url

    remote_url = data.draw(_remote_urls(sorted(api.API_URL_MAPPING)))
    old_truss = SimpleNamespace(API_URL_MAPPING=api.API_URL_MAPPING, DEFAULT_API_DOMAIN=api.DEFAULT_API_DOMAIN)  # no function
    assert rest_api_url(remote_url, old_truss) == api.resolve_rest_api_url(remote_url) == rest_api_url(remote_url)


# -- truss installed but broken is not "install truss" -----------------------------------------------------------------


@pytest.mark.e2e
def test_an_installed_truss_that_cannot_be_imported_is_not_reported_missing(tmp_path: Path) -> None:
    truss = pytest.importorskip("importlib.metadata").version("truss")
    broken = "import sys; sys.modules['truss.remote.remote_factory'] = None; from truss_instance_plugin.cli import run; run()"
    with FakeBaseten(api_key=KEY) as fake:
        env = {**_env(tmp_path / "home", fake), "PYTHONPATH": str(REPO)}
        proc = subprocess.run([sys.executable, "-c", broken, "catalog", "fetch"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"truss-instance: talking to Baseten needs truss, and truss {truss} is installed but cannot be imported "
        "(import of truss.remote.remote_factory halted; None in sys.modules); reinstall it: pip install --force-reinstall "
        "'truss-instance-plugin[truss]'\n"
    )
