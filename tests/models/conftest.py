"""Fixtures for the provider tests: scripted wire servers and a loopback-only network.

Every test here talks only to servers it starts on 127.0.0.1. As a safety net, the
`loopback_only` fixture makes any attempt to resolve or connect elsewhere fail at
once, and the provider variables are cleared so nothing falls back to a real host.
"""
from __future__ import annotations

import socket

import pytest

from tests.models.wire_servers import Reply, ScriptedServer

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
PROVIDER_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
                 "ANTHROPIC_PROFILE", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_COMPAT_API_KEY",
                 "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
                 # a proxy from the environment would carry loopback traffic elsewhere
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK and not (isinstance(host, bytes) and host.decode() in LOOPBACK):
            raise OSError(f"test network guard: refusing to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise OSError(f"test network guard: refusing to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for var in PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def serve():
    """serve([Reply, ...]) -> a started ScriptedServer, closed after the test."""
    servers: list[ScriptedServer] = []

    def start(replies: list[Reply]) -> ScriptedServer:
        server = ScriptedServer(replies).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
