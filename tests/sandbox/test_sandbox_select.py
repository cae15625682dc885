"""Choosing a sandbox (`open_sandbox`), `doctor`, and the image helpers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.sandbox.sandbox_fixtures import require
from tools.sandbox.errors import SandboxUnavailable
from tools.sandbox.image import debian_mirror
from tools.sandbox.select import doctor, open_sandbox


@pytest.fixture
def no_docker(monkeypatch, tmp_path):
    """Point the docker SDK at a unix socket nobody listens on (no network traffic)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    """A PATH with bash and coreutils but no bwrap."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "true"):
        for d in ("/usr/bin", "/bin"):
            if os.path.exists(f"{d}/{tool}"):
                os.symlink(f"{d}/{tool}", bin_dir / tool)
                break
    monkeypatch.setenv("PATH", str(bin_dir))


def test_local_by_name(workspace):
    sb = open_sandbox("local", workspace)
    try:
        assert sb.kind == "local"
        assert sb.exec("cat hello.txt", timeout=10).output.startswith("hello")
    finally:
        sb.close()


def test_unknown_kind_is_refused(workspace):
    with pytest.raises(SandboxUnavailable, match="unknown sandbox"):
        open_sandbox("chroot", workspace)


@pytest.mark.docker
def test_auto_prefers_docker(workspace):
    require("docker")
    sb = open_sandbox(None, workspace)
    try:
        assert sb.kind == "docker" and sb.workdir == "/workspace"
    finally:
        sb.close()


def test_auto_falls_back_to_bwrap_without_docker(workspace, no_docker):
    require("bwrap")
    sb = open_sandbox(None, workspace)
    try:
        assert sb.kind == "bwrap"
        assert sb.exec("cat hello.txt", timeout=10).exit_code == 0
    finally:
        sb.close()


def test_auto_refuses_without_any_sandbox(workspace, no_docker, no_bwrap):
    with pytest.raises(SandboxUnavailable) as e:
        open_sandbox(None, workspace)
    msg = str(e.value)
    assert "--sandbox local" in msg and "bubblewrap" in msg and "Docker" in msg


def test_docker_by_name_without_engine_does_not_fall_back(workspace, no_docker):
    with pytest.raises(SandboxUnavailable, match="does not answer"):
        open_sandbox("docker", workspace)


def test_bwrap_by_name_without_bwrap(workspace, no_bwrap):
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        open_sandbox("bwrap", workspace)


def test_doctor_without_anything_says_what_to_install(no_docker, no_bwrap):
    report = doctor()
    assert report.backend is None
    text = report.render()
    assert "bubblewrap" in text and "--sandbox local" in text
    assert any("Docker" in m or "docker" in m for m in report.missing)


def test_doctor_picks_bwrap_without_docker(no_docker):
    require("bwrap")
    report = doctor()
    assert report.backend == "bwrap"
    assert "no Docker engine answers" in report.reason


@pytest.mark.docker
def test_doctor_picks_docker_when_it_answers():
    require("docker")
    report = doctor()
    assert report.backend == "docker"
    assert "[ok] docker image" in report.render()


def test_python_dash_m_doctor_runs():
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "tools.sandbox", "doctor"],
                       capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert p.stdout.startswith("sandbox: ")


def test_debian_mirror_from_deb822_and_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n")
    assert debian_mirror(tmp_path) == ("http://mirror.example/debian", "bookworm")
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://other.example/debian trixie main\n")
    assert debian_mirror(tmp_path) == ("http://other.example/debian", "trixie")


def test_debian_mirror_falls_back(tmp_path):
    assert debian_mirror(tmp_path) == ("http://deb.debian.org/debian", "bookworm")


@pytest.mark.docker
def test_build_image_is_a_no_op_when_present():
    require("docker")
    from tests.sandbox.sandbox_fixtures import IMAGE
    from tools.sandbox.image import build_image

    result = build_image(IMAGE, log=lambda s: None)
    assert result.method == "present" and result.size > 0
    assert "already present" in result.render()


def test_a_missing_backend_fails_in_ci_and_skips_elsewhere(monkeypatch):
    from tests.sandbox.sandbox_fixtures import unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run, not skip"):
        unavailable("no engine")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        unavailable("no engine")
