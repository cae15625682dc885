"""Attack suite, item 2: host secrets in the environment never reach the sandbox."""
from __future__ import annotations

import pytest

from tests.sandbox.sandbox_fixtures import ALL_KINDS, ISOLATED

CANARIES = {
    "OPENAI_API_KEY": "sk-canary-openai-4f1c9e",
    "ANTHROPIC_API_KEY": "sk-ant-canary-77d2a0",
    "AWS_SECRET_ACCESS_KEY": "aws-canary-secret-b83e",
}


@pytest.fixture
def planted(monkeypatch):
    for k, v in CANARIES.items():
        monkeypatch.setenv(k, v)
    return CANARIES


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_env_shows_no_host_secret(kind, planted, workspace, opener):
    sb = opener(kind, workspace)
    out = sb.exec("env", timeout=20).output
    assert f"AMA_SANDBOX={kind}" in out  # the probe reads the real environment
    for name, value in planted.items():
        assert value not in out and name not in out


@pytest.mark.parametrize("kind", ISOLATED)
def test_no_process_environ_holds_a_secret(kind, planted, workspace, opener):
    sb = opener(kind, workspace)
    # Start a second process so there is more than the shell to look at.
    r = sb.exec("sleep 5 & cat /proc/*/environ | tr '\\0' '\\n'; kill %1", timeout=20)
    assert "AMA_SANDBOX=" in r.output  # environ files were read
    for name, value in planted.items():
        assert value not in r.output and name not in r.output


@pytest.mark.docker
def test_container_config_holds_no_secret(planted, workspace, opener):
    import docker

    sb = opener("docker", workspace)
    env = docker.from_env().containers.get(sb.container.id).attrs["Config"]["Env"]
    joined = "\n".join(env)
    for value in planted.values():
        assert value not in joined
