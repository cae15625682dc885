"""The `docker` backend: one locked-down container per session.

The container's main process (under docker's init) is the persistent driver bash of
`shell_session.py`, and we talk to it over the container's attached stream: no
process starts per command, no port is published, no server runs inside. A timeout or
a cancel is a USR1 that docker's init forwards to the driver, which kills the
command's process group with a builtin (so it works even when a fork bomb holds every
pid). If the driver dies, the container stops; the next command starts it again.

Defaults (see `DockerLimits`): no network, every capability dropped,
no-new-privileges, init, pids/memory/CPU limits, read-only root with size-capped tmpfs
`/tmp` and `$HOME`, the host user's uid:gid, an allow-listed environment, labels
that let the next start find and remove the containers of a crashed session.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import socket
import struct
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from tools.sandbox.base import DEFAULT_PATH, ExecResult
from tools.sandbox.errors import SandboxUnavailable
from tools.sandbox.image import DEFAULT_IMAGE
from tools.sandbox.shell_session import ShellSession

WORKDIR = "/workspace"
HOME = "/home/ama"
STATE_DIR = "/run/ama-shell"  # its own tmpfs: a full /tmp must not break the shell
LABEL = "org.amanuensis.sandbox"          # on every sandbox container
LABEL_OWNER = "org.amanuensis.owner"      # host:pid:starttime of the process that made it
LABEL_SESSION = "org.amanuensis.session"
DRIVER = ["bash", "--noprofile", "--norc", "-s"]
# What of our environment the docker CLI gets, to reach the same engine as the SDK does.
DOCKER_CLI_ENV = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG",
                  "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")


@dataclass(frozen=True)
class DockerLimits:
    """Resource limits of a sandbox container.

    memory:    RAM cap (docker syntax); swap is capped to the same, so no swap.
    cpus:      CPU cap in cores.
    pids:      most processes at once (a fork bomb stops here).
    tmp_size:  size of the tmpfs at /tmp.
    home_size: size of the tmpfs at $HOME.
    """

    memory: str = "4g"
    cpus: float = 2.0
    pids: int = 512
    tmp_size: str = "1g"
    home_size: str = "256m"


class DockerSandbox:
    """A session's container, with the workspace `root` at /workspace.

    Args:
        root:            host path of the scratch workspace (bind-mounted read-write).
        image:           image to run; it needs bash.
        network:         False (default): network_mode "none", only `lo` inside.
        readonly_mounts: host directories to show read-only at the same path.
        session_id:      recorded in a label, for `docker ps` and leftovers.
        env:             extra variables for every command.
    Raises SandboxUnavailable when the engine or the image is missing.
    """

    kind = "docker"
    workdir = WORKDIR

    def __init__(self, root: Path, *, image: str | None = None, network: bool = False,
                 readonly_mounts: Sequence[Path] = (), session_id: str = "",
                 env: Mapping[str, str] | None = None, limits: DockerLimits = DockerLimits(),
                 client=None):
        import docker
        import docker.errors

        self.root = Path(root).resolve()
        self.image = image or DEFAULT_IMAGE
        try:
            self._client = client or docker.from_env()
            self._client.ping()
        except Exception as e:  # DockerException, or requests' errors from ping()
            raise SandboxUnavailable(f"the docker engine does not answer ({e}); start it, or "
                                     f"pass --sandbox bwrap") from e
        remove_leftovers(self._client)
        try:
            self._client.images.get(self.image)
        except docker.errors.ImageNotFound:
            hint = ("build it with `ama sandbox build`" if self.image == DEFAULT_IMAGE
                    else "pull or build it first")
            raise SandboxUnavailable(f"sandbox image {self.image!r} is missing: {hint}") from None
        self._env = {"PATH": DEFAULT_PATH, "HOME": HOME, "LANG": "C.UTF-8",
                     "AMA_SANDBOX": "docker", **(env or {})}
        for k in ("TERM", "TZ"):
            if k in os.environ:
                self._env.setdefault(k, os.environ[k])
        self.container = self._create(network, readonly_mounts, session_id, limits)
        # Removed even if the caller forgets close(); a crash is handled on next start.
        self._finalizer = weakref.finalize(self, _remove, self.container)
        self._shell = ShellSession(self._attach, state_dir=STATE_DIR, workdir=WORKDIR)
        try:
            probe = self.exec("true", timeout=60)
        except BaseException:
            self.close()
            raise
        if probe.exit_code != 0:
            self.close()
            raise SandboxUnavailable(f"image {self.image!r} cannot run the sandbox shell "
                                     f"(it needs bash): {probe.output.strip()}")

    def _create(self, network: bool, readonly_mounts: Sequence[Path], session_id: str,
                limits: DockerLimits):
        from docker.types import LogConfig

        uid, gid = os.getuid(), os.getgid()
        volumes = {str(self.root): {"bind": WORKDIR, "mode": "rw"}}
        for p in readonly_mounts:
            p = Path(p).resolve()
            volumes[str(p)] = {"bind": str(p), "mode": "ro"}
        return self._client.containers.run(
            self.image, DRIVER,
            detach=True, stdin_open=True, init=True,
            network_mode="bridge" if network else "none",
            cap_drop=["ALL"], security_opt=["no-new-privileges"], privileged=False,
            pids_limit=limits.pids, mem_limit=limits.memory, memswap_limit=limits.memory,
            nano_cpus=int(min(limits.cpus, os.cpu_count() or 1) * 1e9),
            read_only=True,
            tmpfs={
                "/tmp": f"rw,nosuid,nodev,size={limits.tmp_size},mode=1777",
                HOME: f"rw,nosuid,nodev,size={limits.home_size},uid={uid},gid={gid},mode=700",
                STATE_DIR: f"rw,nosuid,nodev,noexec,size=4m,uid={uid},gid={gid},mode=700",
            },
            user=f"{uid}:{gid}", environment=self._env, working_dir=WORKDIR,
            volumes=volumes, hostname="sandbox",
            # Output goes to us over the attached stream; docker keeping a copy on disk
            # would cost disk without bound and slow the stream down.
            log_config=LogConfig(type=LogConfig.types.NONE),
            labels={LABEL: "1", LABEL_OWNER: _owner_tag(), LABEL_SESSION: session_id},
        )

    def _attach(self) -> "AttachTransport":
        self.container.reload()
        if self.container.status != "running":
            self.container.start()  # the driver died and took the container with it
        transport = AttachTransport(self.container)
        # Checked after attaching: an exit from now on ends the stream, but attaching to
        # a container that has already exited would wait for ever.
        self.container.reload()
        if self.container.status != "running":
            transport.close()
            state = self.container.attrs.get("State", {})
            raise SandboxUnavailable(f"the sandbox container exited at once (image "
                                     f"{self.image!r} needs bash): exit code "
                                     f"{state.get('ExitCode')} {state.get('Error', '')}".strip())
        return transport

    def exec(self, command: str, *, cwd: str = ".", timeout: float,
             env: Mapping[str, str] = {}, cancel: threading.Event | None = None) -> ExecResult:
        """Run `command` in the container's shell; `cwd` relative to /workspace."""
        return self._shell.run(command, cwd=cwd, timeout=timeout, env=env, cancel=cancel)

    def stdio_argv(self, argv: Sequence[str], *, cwd: str = ".", env: Mapping[str, str] = {}
                   ) -> tuple[list[str], dict[str, str]]:
        """The host command line that runs `argv` in this container with its stdin and
        stdout as the pipes of the host process (`docker exec -i`; for a stdio MCP server),
        and that process's environment (what the docker CLI needs to find the engine).
        `cwd` relative to /workspace. The process has the container's user, network,
        capabilities and limits; it dies with the container at the latest."""
        cli = shutil.which("docker")
        if cli is None:
            raise SandboxUnavailable("the docker CLI is not installed, and a process with its "
                                     "own stdin and stdout in the sandbox needs it: install "
                                     "docker-ce-cli (or docker.io), or use --sandbox bwrap")
        cmd = [cli, "exec", "-i", "--user", f"{os.getuid()}:{os.getgid()}",
               "--workdir", posixpath.normpath(posixpath.join(WORKDIR, cwd))]
        for k, v in env.items():
            cmd += ["--env", f"{k}={v}"]
        host_env = {k: os.environ[k] for k in DOCKER_CLI_ENV if k in os.environ}
        return [*cmd, self.container.id, *argv], host_env

    def close(self) -> None:
        """Stop the shell and remove the container (every process in it dies)."""
        self._shell.close()
        self._finalizer()

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AttachTransport:
    """The container's attached stdin/stdout, demultiplexed (no TTY, so docker frames
    each chunk with an 8-byte header: stream id, 3 zero bytes, big-endian length)."""

    def __init__(self, container):
        self._container = container
        sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1,
                                               "stream": 1})
        self._io = sock
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._sock.setblocking(True)
        self._buf = bytearray()

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self) -> bytes | None:
        try:
            data = self._sock.recv(65536)
        except OSError:
            return None
        if not data:
            return None
        self._buf += data
        out = bytearray()
        while len(self._buf) >= 8:
            stream, size = self._buf[0], struct.unpack(">I", self._buf[4:8])[0]
            if len(self._buf) < 8 + size:
                break
            if stream == 1:  # stdout; the driver's own stderr (stream 2) is dropped
                out += self._buf[8:8 + size]
            del self._buf[:8 + size]
        return bytes(out)

    def write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError:
            pass  # the read side reports the end

    def kill_group(self, pgid: int) -> None:
        import docker.errors

        # docker's init forwards the signal to the driver, whose trap kills the group.
        try:
            self._container.kill(signal="SIGUSR1")
        except docker.errors.APIError:
            pass

    def close(self) -> None:
        """Close the stream and stop the driver: it is the container's main process, so
        the container stops (a wedged driver must not linger; `_attach` restarts it)."""
        import docker.errors

        for f in (self._sock.close, self._io.close):
            try:
                f()
            except OSError:
                pass
        try:
            self._container.kill()
        except docker.errors.APIError:
            pass  # not running (any more)


def remove_leftovers(client) -> list[str]:
    """Remove sandbox containers whose creating process on this host is gone.

    Containers of live sessions (this host, owner alive) and of other hosts are left
    alone. Returns the ids removed.
    """
    import docker.errors

    removed = []
    for c in client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        host, _, rest = c.labels.get(LABEL_OWNER, "").partition(":")
        if host != socket.gethostname() or _owner_alive(rest):
            continue
        try:
            c.remove(force=True)
            removed.append(c.id)
        except docker.errors.APIError:
            pass  # removed meanwhile by its neighbour's cleanup
    return removed


def _owner_tag() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _owner_alive(pid_start: str) -> bool:
    pid, _, start = pid_start.partition(":")
    if not pid.isdigit():
        return False
    # The pid alone could have been reused since; its start time tells.
    return _start_time(int(pid)) == start and start != ""


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:].split()[19].decode()
    except (OSError, IndexError, ValueError):
        return ""


def _remove(container) -> None:
    import docker.errors

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError:
        # The engine is busy removing it already, or gone; try once more a bit later.
        time.sleep(0.2)
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass
