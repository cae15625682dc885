"""Fixtures shared by tests/sandbox and tests/security: real sandboxes over temp dirs.

A backend that is missing here skips its tests on a developer machine, but FAILS them
when the `CI` variable is set: in CI every backend must really run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from tools.sandbox.image import DEFAULT_IMAGE

IMAGE = os.environ.get("AMA_TEST_SANDBOX_IMAGE", DEFAULT_IMAGE)
ISOLATED = [pytest.param("bwrap", id="bwrap"),
            pytest.param("docker", id="docker", marks=pytest.mark.docker)]
ALL_KINDS = [pytest.param("local", id="local"), *ISOLATED]

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Call `check` until it returns something true or `timeout` seconds pass; returns
    its last result, so the caller's assert shows what it saw."""
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(interval)
    return result


def driver_gone(sb) -> bool:
    """Whether the sandbox's persistent shell has died, seen from the host: the docker
    container stopped, or the host process (bash, or bwrap around it) exited."""
    if sb.kind == "docker":
        sb.container.reload()
        return sb.container.status != "running"
    transport = sb._shell._transport  # no public handle: the driver is the shell's own
    return transport is None or transport.proc.poll() is not None


def unavailable(reason: str) -> None:
    """Skip, or fail in CI, for a backend this machine lacks."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: sandbox tests must run, not skip)")
    pytest.skip(reason)


def require(kind: str) -> None:
    """Make sure backend `kind` can run here (see `unavailable`)."""
    if kind == "docker":
        from tools.sandbox.select import _docker_client
        from tools.sandbox.image import image_present

        client = _docker_client()
        if client is None:
            unavailable("no Docker engine answers (start dockerd; see .ci/setup_sandbox.sh)")
        if not image_present(client, IMAGE):
            unavailable(f"sandbox image {IMAGE} is missing (python -m tools.sandbox build)")
    elif kind == "bwrap":
        if shutil.which("bwrap") is None:
            unavailable("bubblewrap is not installed")
        p = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"],
                           capture_output=True)
        if p.returncode != 0:
            unavailable(f"bwrap cannot make namespaces here: {p.stderr.decode().strip()}")


def open_kind(kind: str, root: Path, **kw):
    """Open a sandbox of `kind` over `root` (kw: network, readonly_mounts, limits, env)."""
    require(kind)
    if kind == "local":
        from tools.sandbox.local import LocalSandbox

        return LocalSandbox(root, env=kw.get("env"))
    if kind == "bwrap":
        from tools.sandbox.bwrap import BwrapSandbox

        return BwrapSandbox(root, **kw)
    from tools.sandbox.docker import DockerSandbox

    return DockerSandbox(root, image=IMAGE, **kw)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A scratch workspace with one file in it."""
    ws = tmp_path / "workspace"
    ws.mkdir()
    (ws / "hello.txt").write_text("hello from the workspace\n")
    return ws


@pytest.fixture
def opener():
    """opener(kind, root, **kw) -> sandbox; every sandbox opened is closed afterwards."""
    opened = []

    def _open(kind: str, root: Path, **kw):
        sb = open_kind(kind, root, **kw)
        opened.append(sb)
        return sb

    yield _open
    for sb in opened:
        sb.close()


@pytest.fixture(params=ALL_KINDS)
def any_sandbox(request, workspace, opener):
    """One sandbox of each kind (local, bwrap, docker) over `workspace`."""
    return opener(request.param, workspace)


@pytest.fixture(params=ISOLATED)
def isolated(request, workspace, opener):
    """One sandbox of each isolating kind (bwrap, docker) over `workspace`."""
    return opener(request.param, workspace)
