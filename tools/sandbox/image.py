"""Building the default sandbox image, `amanuensis-sandbox`.

Two ways, same package set (Debian with bash, python3, git, ripgrep, gcc, make,
libc6-dev, procps, curl):
  * `dockerfile`: `docker build` from `tools/sandbox/Dockerfile`; needs the base image
    `debian:bookworm-slim` (pulled from a registry) and network for apt in the build.
  * `debootstrap`: offline from the registry's point of view: a root filesystem made
    by `debootstrap` from the Debian mirror in this machine's apt sources, then
    `docker import`. Needs root (debootstrap) and the `debootstrap` package.
`auto` uses the Dockerfile when the base image is already present locally, else
debootstrap, so nothing ever tries a registry that was not asked for.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEFAULT_IMAGE = "amanuensis-sandbox"
BASE_IMAGE = "debian:bookworm-slim"
PACKAGES = ("python3", "git", "ripgrep", "gcc", "make", "libc6-dev", "procps",
            "ca-certificates", "curl")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
FALLBACK_SUITE = "bookworm"
DOCKERFILE = Path(__file__).with_name("Dockerfile")
IMAGE_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Trimmed from the root filesystem: documentation and caches nobody runs.
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
        "usr/share/info", "usr/share/locale")


class ImageBuildError(Exception):
    """The image could not be built; the message says what is missing."""


@dataclass(frozen=True)
class BuildResult:
    """What `build_image` did. method: "present" (nothing to do), "dockerfile" or
    "debootstrap"; seconds: wall time; size: bytes of the image."""

    image: str
    method: str
    seconds: float
    size: int

    def render(self) -> str:
        if self.method == "present":
            return f"{self.image}: already present ({self.size / 2**20:.0f} MiB)"
        return (f"{self.image}: built with {self.method} in {self.seconds:.0f}s "
                f"({self.size / 2**20:.0f} MiB)")


def image_present(client, name: str = DEFAULT_IMAGE) -> bool:
    """True if the docker engine behind `client` has image `name`."""
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(name: str = DEFAULT_IMAGE, *, method: str = "auto", force: bool = False,
                mirror: str | None = None, suite: str | None = None,
                log: Callable[[str], None] = lambda line: None, client=None) -> BuildResult:
    """Build image `name` unless it is there already (or `force`).

    Args:
        method: "auto", "dockerfile" or "debootstrap" (see the module docstring).
        mirror, suite: the Debian mirror and release for debootstrap; by default
            taken from this machine's apt sources (AMA_DEBIAN_MIRROR overrides).
        log: receives one line per step.
    Returns:
        A BuildResult. Raises ImageBuildError with the fix when it cannot build.
    """
    import docker

    client = client or docker.from_env()
    start = time.monotonic()
    if not force and image_present(client, name):
        return BuildResult(name, "present", 0.0, client.images.get(name).attrs.get("Size", 0))
    if method == "auto":
        method = "dockerfile" if image_present(client, BASE_IMAGE) else "debootstrap"
    if method == "dockerfile":
        _build_dockerfile(client, name, log)
    elif method == "debootstrap":
        _build_debootstrap(client, name, mirror, suite, log)
    else:
        raise ImageBuildError(f"unknown build method {method!r}: use auto, dockerfile or debootstrap")
    size = client.images.get(name).attrs.get("Size", 0)
    return BuildResult(name, method, time.monotonic() - start, size)


def _build_dockerfile(client, name: str, log: Callable[[str], None]) -> None:
    import docker.errors

    log(f"building {name} from {DOCKERFILE.name} (base {BASE_IMAGE})")
    try:
        _, lines = client.images.build(path=str(DOCKERFILE.parent), dockerfile=DOCKERFILE.name,
                                       tag=name, rm=True, forcerm=True)
        for line in lines:
            if "stream" in line and line["stream"].strip():
                log(line["stream"].rstrip())
    except (docker.errors.BuildError, docker.errors.APIError) as e:
        raise ImageBuildError(f"docker build failed: {e}. Offline, use "
                              f"`ama sandbox build --method debootstrap`.") from e


def _build_debootstrap(client, name: str, mirror: str | None, suite: str | None,
                       log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed: `apt-get install debootstrap` "
                              "(or build from the Dockerfile where a registry answers)")
    if os.geteuid() != 0:
        raise ImageBuildError("building the image offline needs root (debootstrap): "
                              "run `sudo ama sandbox build`, or use --method dockerfile")
    found_mirror, found_suite = debian_mirror()
    mirror = mirror or os.environ.get("AMA_DEBIAN_MIRROR") or found_mirror
    suite = suite or found_suite
    with tempfile.TemporaryDirectory(prefix="ama-rootfs-") as tmp:
        root = Path(tmp) / "root"
        log(f"debootstrap {suite} from {mirror} (about a minute)")
        cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
               suite, str(root), mirror]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-15:])
            raise ImageBuildError(f"debootstrap failed (exit {proc.returncode}):\n{tail}")
        for rel in TRIM:
            shutil.rmtree(root / rel, ignore_errors=True)
        (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        (root / "workspace").mkdir(exist_ok=True)
        (root / "home/ama").mkdir(parents=True, exist_ok=True)
        os.chmod(root / "home/ama", 0o1777)
        tarball = Path(tmp) / "rootfs.tar"
        log("packing the root filesystem")
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tarball), "."],
                       check=True)
        log(f"docker import as {name}")
        repo, _, tag = name.partition(":")
        client.api.import_image_from_file(
            str(tarball), repository=repo, tag=tag or "latest",
            changes=[f"ENV {IMAGE_ENV}", "ENV LANG=C.UTF-8", "WORKDIR /workspace",
                     'CMD ["bash"]', 'LABEL org.amanuensis.sandbox="1"'],
        )


def debian_mirror(sources: Path = Path("/etc/apt")) -> tuple[str, str]:
    """The first Debian mirror and release named in this machine's apt sources.

    Reads one-line `sources.list` entries and deb822 `*.sources` files; skips the
    security and updates suites. Falls back to deb.debian.org and bookworm.
    Returns (mirror_url, suite).
    """
    entries: list[tuple[str, str]] = []
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
                if "deb" not in fields.get("Types", "").split():
                    continue
                for uri in fields.get("URIs", "").split():
                    for s in fields.get("Suites", "").split():
                        entries.append((uri, s))
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    entries.append((m.group(1), m.group(2)))
    for uri, suite in entries:
        if "debian" in uri and "security" not in uri and "-" not in suite:
            return uri.rstrip("/"), suite
    return FALLBACK_MIRROR, FALLBACK_SUITE
