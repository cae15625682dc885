"""`ama mcp add`'s flags for timeouts, tool lists, the sandbox and `enabled`, through the
real CLI against a user config in a temp HOME: what lands in the file, that ama reads
it back, and the clear refusals (nothing written) for values it must not take."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.ama_cli import Run, isolated_env, run_ama


@pytest.fixture
def ama(tmp_path):
    def run(*args: str) -> Run:
        return run_ama(("mcp", *args), isolated_env(tmp_path))
    return run


@pytest.fixture
def user_config(tmp_path) -> Path:
    return tmp_path / "xdg" / "amanuensis" / "config.toml"


def test_add_writes_every_flag_and_ama_reads_it_back(ama, user_config):
    r = ama("add", "db", "--startup-timeout", "5", "--tool-timeout", "0.5", "--enable-tool",
            "query", "--enable-tool", "schema", "--enable-tool", "query", "--disable-tool",
            "drop", "--sandbox", "--", "uvx", "db-server")
    assert r.code == 0, r.stderr
    r = ama("add", "docs", "--url", "https://docs.example/mcp", "--tool-timeout", "90",
            "--disabled")
    assert r.code == 0, r.stderr
    servers = tomllib.loads(user_config.read_text())["mcp_servers"]
    assert servers["db"] == {"command": "uvx", "args": ["db-server"], "startup_timeout": 5.0,
                             "tool_timeout": 0.5, "enabled_tools": ["query", "schema"],
                             "disabled_tools": ["drop"], "sandbox": True}
    assert servers["docs"] == {"url": "https://docs.example/mcp", "tool_timeout": 90.0,
                               "enabled": False}
    r = ama("get", "db")      # read back through the config loader, which checks every key
    assert r.code == 0, r.stderr
    assert 'enabled_tools = ["query", "schema"]' in r.stdout and "startup_timeout = 5.0" in r.stdout
    r = ama("list")
    assert r.code == 0 and "disabled (enabled = false)" in r.stdout


@pytest.mark.parametrize("args, message", [
    (("--url", "http://h/mcp", "--sandbox"), "--sandbox is for stdio servers only (this one "
                                             "has --url)"),
    (("--url", "http://h/mcp", "--sandbox", "-e", "A=1"), "--env, --sandbox are for stdio "
                                                          "servers only"),
    (("--header", "X=1", "--", "srv"), "--header is for HTTP servers only (this one is stdio)"),
    (("--startup-timeout", "0", "--", "srv"), "--startup-timeout must be a number of seconds "
                                              "greater than 0, not 0.0"),
    (("--tool-timeout", "-3", "--", "srv"), "--tool-timeout must be a number of seconds greater "
                                            "than 0"),
    (("--tool-timeout", "nan", "--", "srv"), "--tool-timeout must be a number of seconds"),
    (("--tool-timeout", "inf", "--", "srv"), "--tool-timeout must be a number of seconds"),
    (("--enable-tool", "q", "--disable-tool", "q", "--", "srv"), "q: given to both "
                                                                 "--enable-tool and --disable-tool"),
    (("--disable-tool", " ", "--", "srv"), "--disable-tool: a tool name cannot be empty"),
])
def test_add_refuses_what_the_server_cannot_take_and_writes_nothing(ama, user_config, args,
                                                                    message):
    r = ama("add", "s", *args)
    assert r.code == 2 and message in r.stderr, r.stderr
    assert not user_config.exists()
