"""Attack suite, item 6: resources.

A fork bomb, a 100 GB allocation, `yes` without end and filling /tmp are each
contained and reported, the host stays responsive meanwhile, and no process
outlives the session. Sandboxes here get small limits so the tests stay quick.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import pytest

from tests.sandbox.sandbox_fixtures import ISOLATED, open_kind, wait_until

MiB = 1 << 20


def small_limits(kind: str) -> dict:
    if kind == "docker":
        from tools.sandbox.docker import DockerLimits

        return {"limits": DockerLimits(memory="256m", cpus=1.0, pids=64,
                                       tmp_size="16m", home_size="8m")}
    from tools.sandbox.bwrap import BwrapLimits

    return {"limits": BwrapLimits(memory=256 * MiB, pids=64, tmp_size=16 * MiB,
                                  home_size=8 * MiB)}


@pytest.fixture(params=ISOLATED)
def small(request, workspace, opener):
    sb = opener(request.param, workspace, **small_limits(request.param))
    if sb.kind == "bwrap" and not sb.cgroups.paths:
        pytest.skip(f"no cgroups for bwrap here: {sb.cgroups.why}")
    return sb


class HostProbe:
    """Measures, in a thread, the worst time the host takes to run `true`."""

    def __init__(self):
        self.worst = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            t = time.monotonic()
            subprocess.run(["true"])
            self.worst = max(self.worst, time.monotonic() - t)
            time.sleep(0.1)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def test_fork_bomb_is_contained(small):
    with HostProbe() as host:
        start = time.monotonic()
        r = small.exec("bomb() { bomb | bomb & }; bomb; sleep 60", timeout=5)
        elapsed = time.monotonic() - start
    assert r.timed_out and elapsed < 20
    assert host.worst < 2.0
    # The sandbox is usable again and nothing of the bomb is left.
    def few_processes():
        r = small.exec("ps -e --no-headers | wc -l", timeout=30)
        return r if r.exit_code == 0 and int(r.output.strip()) < 10 else None
    assert wait_until(few_processes), small.exec("ps -e --no-headers", timeout=30).output


def test_huge_allocation_is_contained(small):
    with HostProbe() as host:
        # Touch the memory page by page: a limit that only refused one big malloc
        # would not show here.
        r = small.exec("python3 -c \"\nimport sys\nchunks = []\n"
                       "for i in range(100 * 1024 // 64):\n"
                       "    chunks.append(bytearray(64 << 20))\n"
                       "print('ALLOC' + 'ATED 100 GB')\"", timeout=60)
    assert "ALLOCATED" not in r.output
    assert r.exit_code != 0 and not r.timed_out
    assert host.worst < 2.0
    assert small.exec("echo alive", timeout=30).output == "alive\n"


def test_endless_output_is_cut_and_stopped(small):
    start = time.monotonic()
    r = small.exec("yes", timeout=3)
    assert r.timed_out and time.monotonic() - start < 15
    assert r.truncated and len(r.output) < 40_000
    assert r.output.startswith("y\ny\n")


@pytest.mark.parametrize("where", ["/tmp", "$HOME"])
def test_filling_tmpfs_stops_at_its_size(small, where):
    r = small.exec(f"dd if=/dev/zero of={where}/fill bs=1M count=200 2>&1; echo rc=$?; "
                   f"du -sm {where}/fill", timeout=60)
    assert "No space left on device" in r.output
    assert "rc=0" not in r.output
    used = int(r.output.strip().splitlines()[-1].split()[0])
    assert used <= 16
    # The shell keeps working, and keeps its state, with the tmpfs full.
    small.exec("cd /workspace && export AFTER_FILL=yes", timeout=30)
    r = small.exec('echo "$AFTER_FILL"; ls hello.txt', timeout=30)
    assert r.output == "yes\nhello.txt\n"
    small.exec(f"rm -f {where}/fill", timeout=30)


def _host_pids_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("kind", ISOLATED)
def test_no_process_survives_the_session(kind, workspace):
    marker = f"ama-canary-{uuid.uuid4().hex[:8]}"
    sb = open_kind(kind, workspace)
    # setsid and nohup take the sleeper out of the command's process group, so only
    # the end of the session can stop it.
    r = sb.exec(f"setsid nohup bash -c 'exec -a {marker} sleep 1000' >/dev/null 2>&1 & "
                "sleep 0.5; pgrep -f " + marker, timeout=30)
    assert r.exit_code == 0, r.output
    visible_on_host = kind == "bwrap" or _host_pids_with(marker)
    sb.close()
    assert wait_until(lambda: not _host_pids_with(marker)), _host_pids_with(marker)
    assert visible_on_host  # the check above could have seen it
