"""Resources and prompts through the hub, against real SDK servers over stdio and
streamable HTTP: lists (pages followed), reads, prompts with arguments, and failures."""
from __future__ import annotations

import threading
import time

import pytest

from tools.mcp.hub import McpHub
from tools.mcp.resources import McpRequestError, PromptArg, PromptInfo, prompt_arguments
from tools.mcp.spec import ServerSpec

from .conftest import http_server, stdio_spec


@pytest.fixture(scope="module")
def library_url():
    """library.py on streamable HTTP, for this module's tests."""
    yield from http_server("library.py")


@pytest.fixture(params=["stdio", "http"])
def library(request) -> McpHub:
    if request.param == "stdio":
        spec = stdio_spec("lib", "library.py", "stdio", tool_timeout=2.0)
    else:
        spec = ServerSpec("lib", url=request.getfixturevalue("library_url"), tool_timeout=2.0)
    with McpHub.start([spec]) as hub:
        assert hub.statuses[0].status == "connected", hub.statuses[0].error
        yield hub


def test_resources_and_templates_are_listed_once(library):
    assert library.listed("lib", "resources") is None          # nothing asked yet
    listed = library.resources("lib")
    assert [(r.uri, r.template) for r in listed] == [
        ("notes://today", False), ("notes://logo.png", False), ("notes://slow", False),
        ("notes://crash", False), ("notes://day/{day}", True)]
    assert listed[0].description == "Today's notes" and listed[1].mime_type == "image/png"
    assert library.listed("lib", "resources") is listed            # kept, not asked again
    assert library.resources("lib") is listed


def test_text_blob_and_template_resources_are_read(library):
    [text] = library.read_resource("lib", "notes://today")
    assert (text.uri, text.mime_type, text.text) == ("notes://today", "text/plain",
                                                     "buy milk\ncall the plumber")
    [blob] = library.read_resource("lib", "notes://logo.png")
    assert blob.binary and blob.text == "(binary content: image/png, 100 bytes; not attached)"
    [day] = library.read_resource("lib", "notes://day/monday")
    assert day.text == "notes of monday"


def test_prompts_and_their_arguments(library):
    prompts = {p.name: p for p in library.prompts("lib")}
    assert set(prompts) == {"review", "summarise", "dialogue"}
    assert prompts["review"].arguments[0].name == "path" and prompts["review"].arguments[0].required
    assert prompts["review"].usage() == "PATH [FOCUS]"
    assert prompts["review"].description == "Review one file"
    assert library.get_prompt("lib", "review", {"path": "calc.py", "focus": "add"}) == \
        "Please review calc.py. Look closely at add."
    assert library.get_prompt("lib", "summarise", {"text": "a b c"}) == "Summarise this: a b c"
    assert library.get_prompt("lib", "dialogue", {}).split("\n\n") == [
        "[user]\nWhat is 2 + 2?", "[assistant]\n4", "[user]\nAnd times 3?"]


def test_errors_name_the_server_and_the_request(library):
    with pytest.raises(McpRequestError, match=r"'lib' answered resources/read of notes://nope "
                                              r"with an error: Unknown resource"):
        library.read_resource("lib", "notes://nope")
    with pytest.raises(McpRequestError, match=r"'lib' answered prompts/get of review with an error"):
        library.get_prompt("lib", "review", {})                    # the server checks them too
    with pytest.raises(McpRequestError, match=r"no MCP server named 'elsewhere' .*: lib\)"):
        library.resources("elsewhere")
    assert library.read_resource("lib", "notes://today")[0].text.startswith("buy milk")


def test_a_slow_read_times_out_and_can_be_interrupted():
    with McpHub.start([stdio_spec("lib", "library.py", "stdio", tool_timeout=1.5)]) as hub:
        started = time.monotonic()
        with pytest.raises(McpRequestError, match=r"notes://slow on MCP server 'lib' timed out "
                                                  r"after 1.5s \(its tool_timeout\)"):
            hub.read_resource("lib", "notes://slow")
        assert time.monotonic() - started < 3
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(McpRequestError, match="interrupted"):
            hub.read_resource("lib", "notes://slow", cancel)
        assert time.monotonic() - started < 1.0
        assert hub.get_prompt("lib", "summarise", {"text": "x"}) == "Summarise this: x"


def test_a_server_that_dies_during_a_read_is_restarted_for_the_next():
    with McpHub.start([stdio_spec("lib", "library.py", "stdio")]) as hub:
        hub.resources("lib")
        with pytest.raises(McpRequestError, match=r"'lib' stopped during resources/read of "
                                                  r"notes://crash .*started again"):
            hub.read_resource("lib", "notes://crash")
        assert hub.read_resource("lib", "notes://today")[0].text.startswith("buy milk")
        assert hub.listed("lib", "resources") is None              # asked again after a restart


def test_pages_are_followed_and_a_server_without_them_has_none():
    with McpHub.start([stdio_spec("paged", "paged.py", "--features"),
                       stdio_spec("tools_only", "paged.py"),
                       ServerSpec("gone", command="/nonexistent/server")]) as hub:
        assert [r.uri for r in hub.resources("paged")] == [f"paged://r{i}" for i in range(7)]
        assert [p.name for p in hub.prompts("paged")] == [f"p{i}" for i in range(5)]
        assert hub.read_resource("paged", "paged://r5")[0].text == "contents of paged://r5"
        assert hub.get_prompt("paged", "p4", {"x": "1"}) == "p4 with 1"
        assert hub.resources("tools_only") == [] and hub.prompts("tools_only") == []
        with pytest.raises(McpRequestError, match="'tools_only' offers no resources"):
            hub.read_resource("tools_only", "paged://r0")
        with pytest.raises(McpRequestError, match="'tools_only' offers no prompts"):
            hub.get_prompt("tools_only", "p0", {})
        with pytest.raises(McpRequestError, match=r"'gone' is not connected \(failed: .*nonexistent"):
            hub.prompts("gone")
        assert hub.connected() == ["paged", "tools_only"]


REVIEW = PromptInfo("review", arguments=(PromptArg("path", required=True), PromptArg("focus"),
                                         PromptArg("depth")))
ONE = PromptInfo("summarise", arguments=(PromptArg("text", required=True),))


def test_a_command_line_maps_to_the_declared_arguments():
    assert prompt_arguments(REVIEW, "calc.py") == {"path": "calc.py"}
    assert prompt_arguments(REVIEW, "calc.py 'the add function' 2") == {
        "path": "calc.py", "focus": "the add function", "depth": "2"}
    assert prompt_arguments(REVIEW, "depth=3 calc.py") == {"depth": "3", "path": "calc.py"}
    assert prompt_arguments(REVIEW, "calc.py x=1") == {"path": "calc.py", "focus": "x=1"}
    assert prompt_arguments(ONE, "  all of this, = and 'quotes  ") == {
        "text": "all of this, = and 'quotes"}                      # one argument: the whole line
    assert prompt_arguments(ONE, "text=short") == {"text": "short"}
    assert prompt_arguments(PromptInfo("dialogue"), "") == {}


def test_a_command_line_that_does_not_fit_says_why():
    with pytest.raises(ValueError, match="missing required argument: path"):
        prompt_arguments(REVIEW, "focus=add")
    with pytest.raises(ValueError, match="missing required argument: text"):
        prompt_arguments(ONE, "")
    with pytest.raises(ValueError, match="too many arguments: review takes 3 arguments"):
        prompt_arguments(REVIEW, "a b c d")
    with pytest.raises(ValueError, match="dialogue takes no arguments"):
        prompt_arguments(PromptInfo("dialogue"), "x")
    with pytest.raises(ValueError, match="cannot split the arguments"):
        prompt_arguments(REVIEW, "'unclosed")
