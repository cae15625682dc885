"""Choosing and opening a sandbox: `open_sandbox`, and `doctor` which explains the choice.

Default: docker if the engine answers, else bwrap, else refuse. Never a silent fall
back to no sandbox: `local` only when asked for by name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tools.sandbox.base import Sandbox
from tools.sandbox.errors import SandboxUnavailable
from tools.sandbox.image import DEFAULT_IMAGE

KINDS = ("docker", "bwrap", "local")  # the one list: agent's flags and config check against it
PING_TIMEOUT = 3.0  # seconds a Docker engine has to answer before we call it absent
NO_SANDBOX = ("no sandbox is available: start a Docker engine (and run `ama sandbox "
              "build`), or install bubblewrap (`apt-get install bubblewrap`); "
              "`ama sandbox doctor` says what is missing. To run commands on this "
              "machine without isolation, pass `--sandbox local` knowingly.")


def open_sandbox(kind: str | None, root: Path, *, image: str | None = None,
                 network: bool = False, readonly_mounts: Sequence[Path] = (),
                 session_id: str = "") -> Sandbox:
    """Open a sandbox over the workspace `root`.

    Args:
        kind: "docker", "bwrap", "local", or None for the default choice.
        image: docker image (default `amanuensis-sandbox`); ignored by other kinds.
        network: give the sandbox a network (off by default).
        readonly_mounts: host directories to show read-only at the same path.
        session_id: recorded on the container, to find it later.
    Raises:
        SandboxUnavailable: the kind asked for (or, for None, every kind) cannot run;
        the message says how to get one.
    """
    root = Path(root)
    if kind not in (None, *KINDS):
        raise SandboxUnavailable(f"unknown sandbox {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "local":
        from tools.sandbox.local import LocalSandbox

        return LocalSandbox(root)
    if kind == "bwrap":
        return _bwrap(root, network, readonly_mounts, session_id)
    if kind == "docker":
        return _docker(root, image, network, readonly_mounts, session_id)
    # Auto: docker when its engine answers (a missing image is then an error to fix,
    # not a reason to quietly pick something weaker), else bwrap.
    if docker_answers():
        return _docker(root, image, network, readonly_mounts, session_id)
    if shutil.which("bwrap"):
        return _bwrap(root, network, readonly_mounts, session_id)
    raise SandboxUnavailable(NO_SANDBOX)


def _docker(root, image, network, readonly_mounts, session_id) -> Sandbox:
    from tools.sandbox.docker import DockerSandbox

    return DockerSandbox(root, image=image, network=network,
                         readonly_mounts=readonly_mounts, session_id=session_id)


def _bwrap(root, network, readonly_mounts, session_id) -> Sandbox:
    from tools.sandbox.bwrap import BwrapSandbox

    return BwrapSandbox(root, network=network, readonly_mounts=readonly_mounts,
                        session_id=session_id)


def docker_answers(timeout: float = PING_TIMEOUT) -> bool:
    """True if a Docker engine answers a ping (DOCKER_HOST or the default socket)."""
    return _docker_client(timeout) is not None


def _docker_client(timeout: float = PING_TIMEOUT):
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except Exception:  # no SDK, no socket, no permission: all mean "no engine"
        return None


@dataclass
class DoctorReport:
    """What `ama sandbox doctor` found.

    backend: the kind a default run would use (None: it would refuse).
    reason:  why that one.
    checks:  (name, ok, detail) for each thing looked at.
    missing: what to do to get the rest.
    """

    backend: str | None
    reason: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"sandbox: {self.backend or 'none'} — {self.reason}", ""]
        for name, ok, detail in self.checks:
            lines.append(f"  [{'ok' if ok else '--'}] {name}: {detail}")
        if self.missing:
            lines += ["", "to fix:"] + [f"  - {m}" for m in self.missing]
        return "\n".join(lines)


def doctor(image: str | None = None) -> DoctorReport:
    """Look at what this machine offers and say which sandbox a default run uses."""
    image = image or DEFAULT_IMAGE
    checks: list[tuple[str, bool, str]] = []
    missing: list[str] = []

    client = _docker_client()
    have_image = False
    if client is not None:
        version = client.version().get("Version", "?")
        checks.append(("docker engine", True, f"answers (server {version})"))
        from tools.sandbox.image import image_present

        have_image = image_present(client, image)
        checks.append(("docker image", have_image,
                       f"{image} present" if have_image else f"{image} missing"))
        if not have_image:
            missing.append("build the image: `ama sandbox build`" if image == DEFAULT_IMAGE
                           else f"pull or build the image {image}")
    else:
        cli = shutil.which("docker") or shutil.which("dockerd")
        checks.append(("docker engine", False,
                       "installed but not answering" if cli else "not installed"))
        missing.append("start the Docker engine (`dockerd`, or `systemctl start docker`)"
                       if cli else "install Docker (`apt-get install docker.io`)")

    bwrap_ok, bwrap_detail = _bwrap_works()
    checks.append(("bubblewrap", bwrap_ok, bwrap_detail))
    if not bwrap_ok and shutil.which("bwrap") is None:
        missing.append("install bubblewrap (`apt-get install bubblewrap`) for a sandbox "
                       "without Docker")
    if bwrap_ok:
        from tools.sandbox.bwrap import BwrapLimits, Cgroups

        cg = Cgroups.create(f"ama-doctor-{os.getpid()}", BwrapLimits())
        checks.append(("bwrap limits", bool(cg.paths),
                       "pids and memory cgroups available" if cg.paths else cg.why))
        cg.remove()
    deboot = shutil.which("debootstrap") is not None
    checks.append(("debootstrap", deboot,
                   "present (offline image build)" if deboot else "missing (needed to build "
                   "the image without a registry: `apt-get install debootstrap`)"))

    if client is not None:
        backend = "docker"
        reason = ("the Docker engine answers" if have_image else
                  f"the Docker engine answers, but the image {image} must be built first")
    elif bwrap_ok:
        backend, reason = "bwrap", "no Docker engine answers; bubblewrap works"
    else:
        backend, reason = None, "neither Docker nor bubblewrap is usable; " \
                                "a run would refuse (or pass `--sandbox local` knowingly)"
    return DoctorReport(backend, reason, checks, missing)


def _bwrap_works() -> tuple[bool, str]:
    path = shutil.which("bwrap")
    if path is None:
        return False, "not installed"
    try:
        p = subprocess.run([path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                            "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"cannot run: {e}"
    if p.returncode != 0:
        return False, f"cannot make namespaces: {p.stderr.strip()}"
    return True, f"works ({path})"
