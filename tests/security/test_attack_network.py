"""Attack suite, item 1: no network from inside the sandbox.

The only traffic these tests send goes to a listener they start on the host's
127.0.0.1. Inside the sandbox, 127.0.0.1 is the sandbox's own loopback, so a working
sandbox never reaches it; a broken one would, and the listener would count it. The
local backend (no isolation) is the control that shows the probes do connect.
"""
from __future__ import annotations

import socket
import threading

import pytest

from tests.sandbox.sandbox_fixtures import ISOLATED, wait_until


@pytest.fixture
def listener():
    """A TCP server on host 127.0.0.1; yields (port, hits) where hits lists every
    accepted connection."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.1)
    hits: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except (socket.timeout, OSError):
                continue
            hits.append(addr)
            try:
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nCANARY")
            finally:
                conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join(timeout=2)
    srv.close()


def probes(port: int) -> dict[str, str]:
    """Three ways to connect to 127.0.0.1:port; each prints CONNECTED on success."""
    return {
        "curl": f"curl -s -m 3 http://127.0.0.1:{port}/ && echo CONNECTED",
        "python": ("python3 -c \"import socket; socket.create_connection(('127.0.0.1', "
                   f"{port}), timeout=3); print('CONNECTED')\""),
        "bash": f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED",
    }


def test_control_local_backend_reaches_the_listener(workspace, opener, listener):
    """Without isolation every probe connects: the probes themselves work."""
    port, hits = listener
    sb = opener("local", workspace)
    for name, cmd in probes(port).items():
        r = sb.exec(cmd, timeout=20)
        assert "CONNECTED" in r.output, (name, r.output)
    assert wait_until(lambda: len(hits) == 3), hits  # the listener thread counts them


@pytest.mark.parametrize("kind", ISOLATED)
def test_host_loopback_listener_is_unreachable(kind, workspace, opener, listener):
    port, hits = listener
    sb = opener(kind, workspace)
    for name, cmd in probes(port).items():
        r = sb.exec(cmd, timeout=20)
        assert "CONNECTED" not in r.output, (name, r.output)
        assert r.exit_code != 0, (name, r.output)
    # Nothing should come: give a late connection the time the control test needs.
    wait_until(lambda: hits, timeout=0.3)
    assert hits == []


@pytest.mark.parametrize("kind", ISOLATED)
def test_only_loopback_interface_and_no_route(kind, workspace, opener):
    sb = opener(kind, workspace)
    dev = sb.exec("cat /proc/net/dev", timeout=20).output.splitlines()[2:]
    assert [line.split(":")[0].strip() for line in dev] == ["lo"]
    route = sb.exec("cat /proc/net/route", timeout=20).output.splitlines()
    assert route[1:] == []  # IPv4: no route at all, let alone a default one
    v6 = sb.exec("cat /proc/net/ipv6_route", timeout=20).output.splitlines()
    assert v6 and all(line.split()[-1] == "lo" for line in v6)
