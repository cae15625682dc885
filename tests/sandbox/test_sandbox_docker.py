"""The docker backend's container: its settings, its lifetime, leftovers of crashes."""
from __future__ import annotations

import os
import socket

import pytest

from tests.sandbox.sandbox_fixtures import IMAGE, open_kind, require

pytestmark = pytest.mark.docker


@pytest.fixture
def client():
    require("docker")
    import docker

    return docker.from_env()


def test_container_is_locked_down(workspace, opener, client):
    sb = opener("docker", workspace)
    c = client.containers.get(sb.container.id)
    host = c.attrs["HostConfig"]
    cfg = c.attrs["Config"]
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert any(o.startswith("no-new-privileges") for o in host["SecurityOpt"])
    assert host["Init"] is True
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is False
    assert 0 < host["PidsLimit"] <= 4096
    assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] > 0
    assert set(host["Tmpfs"]) == {"/tmp", "/home/ama", "/run/ama-shell"}
    assert all("size=" in v for v in host["Tmpfs"].values())
    assert not host.get("PortBindings")
    assert cfg["User"] == f"{os.getuid()}:{os.getgid()}"
    binds = host["Binds"]
    assert binds == [f"{workspace.resolve()}:/workspace:rw"]
    assert not any("docker.sock" in b for b in binds)
    assert cfg["Labels"]["org.amanuensis.sandbox"] == "1"


def test_network_on_request_gets_a_network_mode(workspace, opener, client):
    sb = opener("docker", workspace, network=True)
    assert client.containers.get(sb.container.id).attrs["HostConfig"]["NetworkMode"] != "none"


def test_readonly_mounts_are_visible_and_read_only(workspace, tmp_path, opener):
    objects = tmp_path / "alternates" / "objects"
    objects.mkdir(parents=True)
    (objects / "pack.txt").write_text("object data\n")
    sb = opener("docker", workspace, readonly_mounts=[objects])
    r = sb.exec(f"cat {objects}/pack.txt", timeout=30)
    assert r.output == "object data\n"
    r = sb.exec(f"touch {objects}/new; echo more >> {objects}/pack.txt", timeout=30)
    assert r.exit_code != 0
    assert not (objects / "new").exists()
    assert (objects / "pack.txt").read_text() == "object data\n"


def test_close_removes_the_container(workspace, client):
    import docker.errors

    sb = open_kind("docker", workspace)
    cid = sb.container.id
    sb.exec("sleep 1000 &", timeout=30)
    sb.close()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


def test_leftovers_of_a_dead_session_are_removed_on_next_start(workspace, client):
    """A container labelled as made by a process that is gone (pid 0 never runs user
    code, and a wrong start time means a recycled pid) is removed; one whose owner
    lives is kept."""
    import docker.errors
    from tools.sandbox.docker import LABEL, LABEL_OWNER, _owner_tag

    host = socket.gethostname()
    dead = client.containers.create(IMAGE, ["true"], labels={
        LABEL: "1", LABEL_OWNER: f"{host}:{os.getpid()}:1"})  # our pid, wrong start time
    alive = client.containers.create(IMAGE, ["true"], labels={
        LABEL: "1", LABEL_OWNER: _owner_tag()})
    other_host = client.containers.create(IMAGE, ["true"], labels={
        LABEL: "1", LABEL_OWNER: "some-other-host:1:1"})
    try:
        sb = open_kind("docker", workspace)
        sb.close()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(dead.id)
        client.containers.get(alive.id)
        client.containers.get(other_host.id)
    finally:
        for c in (dead, alive, other_host):
            try:
                c.remove(force=True)
            except docker.errors.NotFound:
                pass


def test_missing_image_says_how_to_build(workspace, client):
    from tools.sandbox.docker import DockerSandbox
    from tools.sandbox.errors import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="pull or build"):
        DockerSandbox(workspace, image="amanuensis-no-such-image:never")


def test_unreachable_engine_is_sandbox_unavailable(workspace, tmp_path, monkeypatch):
    """DOCKER_HOST at a unix socket nobody listens on: no traffic leaves the machine."""
    from tools.sandbox.docker import DockerSandbox
    from tools.sandbox.errors import SandboxUnavailable

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nobody.sock")
    with pytest.raises(SandboxUnavailable, match="does not answer"):
        DockerSandbox(workspace)


def test_shell_restart_restarts_a_stopped_container(workspace, opener, client):
    sb = opener("docker", workspace)
    sb.exec("kill -9 $$", timeout=30)
    r = sb.exec("echo again", timeout=60)
    assert r.output == "again\n"
    assert client.containers.get(sb.container.id).status == "running"


def test_image_without_bash_is_refused_quickly(workspace, tmp_path, client):
    import subprocess
    import time

    from tools.sandbox.docker import DockerSandbox
    from tools.sandbox.errors import SandboxUnavailable

    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    tar = tmp_path / "empty.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    client.api.import_image_from_file(str(tar), repository="ama-test-no-bash", tag="latest")
    try:
        start = time.monotonic()
        with pytest.raises(SandboxUnavailable, match="needs bash"):
            DockerSandbox(workspace, image="ama-test-no-bash")
        assert time.monotonic() - start < 20
        assert not client.containers.list(all=True, filters={"ancestor": "ama-test-no-bash"})
    finally:
        client.images.remove("ama-test-no-bash", force=True)
