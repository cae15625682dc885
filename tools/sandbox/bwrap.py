"""The `bwrap` backend (bubblewrap), for machines without a Docker engine.

The sandbox's root is an empty tmpfs, made read-only once these are in place:
  * /usr (and the /bin, /lib... links or dirs) read-only from the host, and a short
    allow-list of /etc entries (loader, users, certificates, alternatives) -- not
    /etc as a whole, not /home, /root, /opt, /var or /tmp;
  * the workspace read-write at /workspace, `readonly_mounts` at their own paths;
  * fresh /proc (new pid namespace), a minimal /dev, size-capped tmpfs /tmp and $HOME.
All namespaces are new (`--unshare-all`; no network unless asked), every capability
is dropped, no-new-privileges is set by bwrap itself, the environment is cleared and
rebuilt from the allow-list, and the sandbox dies with us (`--die-with-parent`).

Resources: where we may create cgroups (root, or a delegated v2 subtree) the sandbox
runs in its own with pids and memory limits; elsewhere only rlimits apply (which do
not bind root). `doctor` says which.
"""
from __future__ import annotations

import glob
import os
import posixpath
import shutil
import signal
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from tools.sandbox.base import DEFAULT_PATH, ExecResult
from tools.sandbox.errors import SandboxUnavailable
from tools.sandbox.process_transport import ProcessTransport, descendants
from tools.sandbox.shell_session import ShellSession

WORKDIR = "/workspace"
HOME = "/home/ama"
STATE_DIR = "/run/ama-shell"  # its own tmpfs: a full /tmp must not break the shell
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of the host's /etc a sandbox sees: enough for the loader, users and groups,
# TLS, Debian's alternatives and the interpreters; no host secrets or service config.
ETC_ALLOW = ("passwd", "group", "hosts", "nsswitch.conf", "host.conf", "gai.conf",
             "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl",
             "ca-certificates", "ca-certificates.conf", "localtime", "timezone",
             "python3*", "perl", "mime.types", "os-release", "debian_version",
             "protocols", "services", "magic", "magic.mime", "inputrc", "gitconfig")

PROC_READONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/fs")
PROC_MASKED = ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
               "/proc/latency_stats", "/proc/kallsyms")


@dataclass(frozen=True)
class BwrapLimits:
    """Resource limits of a bwrap sandbox.

    memory:    bytes of RAM (cgroup memory limit, where cgroups are ours to make).
    pids:      most processes at once (cgroup pids.max).
    tmp_size:  bytes of the tmpfs at /tmp.
    home_size: bytes of the tmpfs at $HOME.
    """

    memory: int = 4 << 30
    pids: int = 512
    tmp_size: int = 1 << 30
    home_size: int = 256 << 20


class BwrapSandbox:
    """A bubblewrap sandbox with the workspace `root` at /workspace.

    Args: as DockerSandbox (root, network, readonly_mounts, env, limits).
    Raises SandboxUnavailable when bwrap is missing or cannot make namespaces.
    """

    kind = "bwrap"
    workdir = WORKDIR

    def __init__(self, root: Path, *, network: bool = False,
                 readonly_mounts: Sequence[Path] = (), session_id: str = "",
                 env: Mapping[str, str] | None = None, limits: BwrapLimits = BwrapLimits()):
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap is not installed: `apt-get install bubblewrap` "
                                     "(or use --sandbox docker)")
        self.root = Path(root).resolve()
        self._env = {"PATH": DEFAULT_PATH, "HOME": HOME, "LANG": "C.UTF-8",
                     "AMA_SANDBOX": "bwrap", **(env or {})}
        for k in ("TERM", "TZ"):
            if k in os.environ:
                self._env.setdefault(k, os.environ[k])
        self._argv = bwrap_argv(self.root, network=network, readonly_mounts=readonly_mounts,
                                env=self._env, limits=limits)
        self.cgroups = Cgroups.create(f"ama-{session_id or 'bwrap'}-{uuid.uuid4().hex[:8]}",
                                      limits)
        self._driver: int | None = None
        self._shell = ShellSession(self._start, state_dir=STATE_DIR, workdir=WORKDIR)
        try:
            probe = self.exec("true", timeout=30)
        except BaseException:
            self.close()
            raise
        if probe.exit_code != 0:
            self.close()
            raise SandboxUnavailable(f"bwrap cannot start a sandbox here: {probe.output.strip()} "
                                     f"(unprivileged user namespaces may be off: "
                                     f"sysctl kernel.unprivileged_userns_clone=1)")

    def _start(self) -> ProcessTransport:
        argv = self._argv + ["bash", "--noprofile", "--norc", "-s"]
        if self.cgroups.paths:
            # Join the cgroups before bwrap starts, so nothing inside escapes them.
            joins = " && ".join(f"echo $$ > {p}/cgroup.procs" for p in self.cgroups.paths)
            argv = ["sh", "-c", f'{joins} && exec "$@"', "sh", *argv]
        self._driver = None
        return ProcessTransport(argv, env={"PATH": DEFAULT_PATH}, kill_group=self._kill_group)

    def _kill_group(self, transport: ProcessTransport, pgid: int) -> None:
        # Pids inside differ from ours; the driver's trap does the kill on USR1.
        if self._driver is None:
            for pid in descendants(transport.proc.pid):
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        if f.read().strip() == "bash":
                            self._driver = pid
                            break
                except OSError:
                    continue
        if self._driver is not None:
            try:
                os.kill(self._driver, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def exec(self, command: str, *, cwd: str = ".", timeout: float,
             env: Mapping[str, str] = {}, cancel: threading.Event | None = None) -> ExecResult:
        """Run `command` in the sandbox's shell; `cwd` relative to /workspace."""
        return self._shell.run(command, cwd=cwd, timeout=timeout, env=env, cancel=cancel)

    def stdio_argv(self, argv: Sequence[str], *, cwd: str = ".", env: Mapping[str, str] = {}
                   ) -> tuple[list[str], dict[str, str]]:
        """The host command line that runs `argv` in a sandbox like this one (the same
        workspace, mounts, network policy and cgroups; its own pid namespace and tmpfs)
        with stdin and stdout as the pipes of the host process (for a stdio MCP server),
        and that process's environment. `cwd` relative to /workspace."""
        inner = posixpath.normpath(posixpath.join(WORKDIR, cwd))
        extra = [a for k, v in env.items() for a in ("--setenv", k, v)]
        cmd = [*self._argv, *extra, "--chdir", inner, "--", *argv]
        if self.cgroups.paths:
            joins = " && ".join(f"echo $$ > {p}/cgroup.procs" for p in self.cgroups.paths)
            cmd = ["sh", "-c", f'{joins} && exec "$@"', "sh", *cmd]
        return cmd, {"PATH": DEFAULT_PATH}

    def close(self) -> None:
        """Stop the shell; the pid namespace, and so every process in it, goes too."""
        self._shell.close()
        self.cgroups.remove()

    def __enter__(self) -> "BwrapSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bwrap_argv(root: Path, *, network: bool, readonly_mounts: Sequence[Path],
               env: Mapping[str, str], limits: BwrapLimits) -> list[str]:
    """The bwrap command line (without the command to run inside)."""
    a = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
         "--cap-drop", "ALL", "--hostname", "sandbox", "--clearenv"]
    if network:
        a.append("--share-net")
        for f in ("/etc/resolv.conf",):
            if os.path.exists(f):
                a += ["--ro-bind", f, f]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            a += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            a += ["--ro-bind", d, d]
    for pattern in ETC_ALLOW:
        for p in sorted(glob.glob(f"/etc/{pattern}")):
            a += ["--ro-bind", p, p]
    a += ["--proc", "/proc"]
    # Root on the host stays the owner of /proc's files inside (the user namespace maps
    # it to itself), and owner bits are all a sysctl write checks: without these covers
    # a sandbox run by root could set kernel.core_pattern. As docker does: sysctls and
    # sysrq read-only, kernel internals masked.
    for p in PROC_READONLY:
        if os.path.exists(p):
            a += ["--ro-bind", p, p]
    for p in PROC_MASKED:
        if os.path.exists(p):
            a += ["--ro-bind", "/dev/null", p]
    a += ["--dev", "/dev",
          "--size", str(limits.tmp_size), "--tmpfs", "/tmp",
          "--size", str(limits.home_size), "--perms", "0700", "--tmpfs", HOME,
          "--size", str(4 << 20), "--perms", "0700", "--tmpfs", STATE_DIR,
          "--bind", str(root), WORKDIR]
    for p in readonly_mounts:
        p = str(Path(p).resolve())
        a += ["--ro-bind", p, p]
    a += ["--remount-ro", "/", "--chdir", WORKDIR]
    for k, v in env.items():
        a += ["--setenv", k, v]
    return a


@dataclass
class Cgroups:
    """The cgroups (pids, memory) one sandbox runs in, if we may make them.

    `paths` is empty where we may not (then `why` says so)."""

    paths: list[str]
    why: str = ""

    @classmethod
    def create(cls, name: str, limits: BwrapLimits) -> "Cgroups":
        """Make child cgroups of our own, with the limits set; never raises."""
        made: list[str] = []
        try:
            own = _own_cgroups()
            if "" in own:  # cgroup v2: one tree, both controllers in one directory
                path = f"/sys/fs/cgroup{own['']}/{name}".replace("//", "/")
                os.mkdir(path)
                made.append(path)
                _write(path, "pids.max", str(limits.pids))
                _write(path, "memory.max", str(limits.memory))
                _write(path, "memory.swap.max", "0")
            else:
                for ctl, files in (("pids", {"pids.max": limits.pids}),
                                   ("memory", {"memory.limit_in_bytes": limits.memory})):
                    path = f"/sys/fs/cgroup/{ctl}{own[ctl]}/{name}".replace("//", "/")
                    os.mkdir(path)
                    made.append(path)
                    for f, v in files.items():
                        _write(path, f, str(v))
                    if ctl == "memory" and os.path.exists(f"{path}/memory.memsw.limit_in_bytes"):
                        _write(path, "memory.memsw.limit_in_bytes", str(limits.memory))
            return cls(made)
        except (OSError, KeyError) as e:
            cls(made).remove()
            return cls([], f"cannot create cgroups ({e}); only the tmpfs sizes are capped")

    def remove(self) -> None:
        """Remove the cgroups once their processes are gone (waits up to 2 s)."""
        import time

        for path in self.paths:
            for _ in range(40):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.paths = []


def _own_cgroups() -> dict[str, str]:
    """controller -> our cgroup path in it ("" is the v2 unified tree, when it is the
    only one)."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            for c in ctls.split(","):
                own[c] = path
    if set(own) != {""}:
        own.pop("", None)
    return own


def _write(path: str, name: str, value: str) -> None:
    with open(f"{path}/{name}", "w") as f:
        f.write(value)
