"""The hub against real SDK servers: over stdio and streamable HTTP, and when they fail."""
from __future__ import annotations

import os
import threading
import time

import pytest

from tools.base import ToolError
from tools.mcp.hub import McpHub
from tools.mcp.spec import ServerSpec
from tools.output_cap import OUTPUT_LIMIT

from .conftest import run, stdio_spec


def test_lists_and_calls(demo, ctx):
    assert demo.statuses[0].status == "connected"
    assert "mcp__demo__echo" in demo.statuses[0].tools
    assert {t.name for t in demo.tools} == set(demo.statuses[0].tools)
    result = run(demo, "mcp__demo__echo", ctx, text="hi", times=2)
    assert result.output == "hi hi"
    echo = next(t for t in demo.tools if t.name == "mcp__demo__echo")
    assert not echo.is_mutating(echo.params.model_validate({"text": "x"}))   # trusted, readOnlyHint
    assert "collide: dot_name" in demo.statuses[0].error            # "dot.name" kept the name
    assert run(demo, "mcp__demo__dot_name", ctx).output == "dot.name"
    multi = next(t for t in demo.tools if t.name == "mcp__demo__multi")
    assert multi.is_mutating(multi.params.model_validate({}))


def test_a_result_of_several_kinds_of_content(demo, ctx):
    assert run(demo, "mcp__demo__multi", ctx).output.split("\n") == [
        "some text", "[image: image/png, 100 bytes]", "[resource <file:///notes.txt>]",
        "the notes", "[resource link: readme <file:///README.md>]"]


def test_structured_content_is_serialised(demo, ctx):
    out = run(demo, "mcp__demo__weather", ctx, city="Oslo").output
    assert out.startswith("weather for Oslo\n") and '"celsius": 21' in out


def test_an_error_result_is_a_tool_error(demo, ctx):
    with pytest.raises(ToolError, match="it failed: disk full"):
        run(demo, "mcp__demo__fail", ctx, reason="disk full")
    with pytest.raises(ToolError, match="validation error"):   # the server checks the values
        run(demo, "mcp__demo__echo", ctx, text=5)


def test_long_output_is_capped_with_a_note(demo, ctx):
    result = run(demo, "mcp__demo__big", ctx, n=OUTPUT_LIMIT * 2)
    assert len(result.output) < OUTPUT_LIMIT + 200 and "cut from the middle" in result.output
    assert result.data["truncated"]


def test_a_hanging_tool_times_out_and_the_session_goes_on(demo, ctx):
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"timed out after 2s"):
        run(demo, "mcp__demo__hang", ctx)
    assert time.monotonic() - started < 4
    assert run(demo, "mcp__demo__echo", ctx, text="still here").output == "still here"


def test_a_call_is_cancelled_promptly(demo, ctx):
    threading.Timer(0.3, ctx.cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ToolError, match="interrupted"):
        run(demo, "mcp__demo__hang", ctx)
    assert time.monotonic() - started < 1.0
    with pytest.raises(ToolError, match="interrupted"):             # set before it starts
        run(demo, "mcp__demo__echo", ctx, text="not sent")
    ctx.cancel.clear()
    assert run(demo, "mcp__demo__echo", ctx, text="again").output == "again"


def test_paginated_tool_lists_are_followed(ctx):
    with McpHub.start([stdio_spec("paged", "paged.py", enabled_tools=None,
                                  disabled_tools=("t1",))]) as hub:
        names = [t.name for t in hub.tools]
        assert names == [f"mcp__paged__t{i}" for i in range(8) if i != 1]
        assert run(hub, "mcp__paged__t7", ctx, x=3).output == "t7(3)"


def test_a_crashed_server_is_reported_and_restarted_once(ctx):
    with McpHub.start([stdio_spec("demo", "demo.py", "stdio")]) as hub:
        first = run(hub, "mcp__demo__pid", ctx).output
        with pytest.raises(ToolError, match="MCP server 'demo' stopped.*started again"):
            run(hub, "mcp__demo__crash", ctx)
        second = run(hub, "mcp__demo__pid", ctx).output
        assert second != first
        with pytest.raises(ToolError, match="restarted once already"):
            run(hub, "mcp__demo__crash", ctx)
        with pytest.raises(ToolError, match="'demo' has stopped"):
            run(hub, "mcp__demo__pid", ctx)


def test_a_crashed_http_server_is_reported(http_url, ctx):
    with McpHub.start([ServerSpec("web", url=http_url, tool_timeout=5)]) as hub:
        with pytest.raises(ToolError, match="'web'"):
            run(hub, "mcp__web__crash", ctx)


def test_a_server_that_never_answers_times_out():
    started = time.monotonic()
    with McpHub.start([stdio_spec("silent", "silent.py", startup_timeout=1.0),
                       stdio_spec("paged", "paged.py")]) as hub:
        assert time.monotonic() - started < 2.0
        silent, paged = hub.statuses
        assert (silent.status, silent.tools) == ("timeout", ())
        assert "1s" in silent.error and paged.status == "connected"
        assert all(t.name.startswith("mcp__paged__") for t in hub.tools)


def test_servers_start_concurrently(tmp_path):
    # Each serves only once all of its group have been spawned: one after another, the
    # first's start would time out (as the lone one's does); together, all connect.
    together, alone = tmp_path / "together", tmp_path / "alone"
    together.mkdir(), alone.mkdir()
    specs = [stdio_spec(f"slow{i}", "barrier.py", str(together), "3", startup_timeout=20)
             for i in range(3)]
    lone = stdio_spec("lone", "barrier.py", str(alone), "2", startup_timeout=1)
    with McpHub.start([*specs, lone]) as hub:
        assert [s.status for s in hub.statuses] == ["connected"] * 3 + ["timeout"], hub.statuses


def test_failed_and_disabled_servers_say_why():
    with McpHub.start([ServerSpec("gone", command="/nonexistent/server"),
                       ServerSpec("nothing"),
                       stdio_spec("dies", "demo.py", "no-such-mode-exits", "--delay", "x"),
                       ServerSpec("off", command="/nonexistent/server", enabled=False)]) as hub:
        gone, nothing, dies, off = hub.statuses
        assert gone.status == "failed" and "/nonexistent/server" in gone.error
        assert nothing.status == "failed" and "neither command nor url" in nothing.error
        assert dies.status == "failed" and "ValueError" in dies.error   # its stderr is quoted
        assert (off.status, off.error) == ("disabled", "")
        assert hub.tools == []


def test_close_ends_the_server_process_and_is_idempotent(ctx):
    hub = McpHub.start([stdio_spec("demo", "demo.py", "stdio")])
    pid = int(run(hub, "mcp__demo__pid", ctx).output)
    hub.close()
    hub.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
