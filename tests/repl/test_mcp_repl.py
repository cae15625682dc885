"""MCP servers in the real REPL (pipe input, script: model, a real SDK server over stdio):
/mcp, `@server:URI` attaching a resource, `/mcp__server__prompt ARGS` sending a prompt."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from prompt_toolkit.document import Document

from tools.mcp.spec import ServerSpec

LIBRARY = Path(__file__).parents[1] / "mcp" / "servers" / "library.py"
DONE = {"text": "Done."}
SERVERS = (ServerSpec("lib", command=sys.executable, args=(str(LIBRARY), "stdio"),
                      startup_timeout=20, tool_timeout=10),
           ServerSpec("gone", command="/nonexistent/mcp-server"))


@pytest.fixture
def lib_repl(repl):
    def start(*turns: dict):
        return repl(*turns, mcp_servers=SERVERS)
    return start


def last_user_message(h) -> str:
    return [m for m in h.repl.agent.messages if m.role == "user"][-1].content


def test_mcp_lists_servers_status_tools_resources_and_prompts(lib_repl):
    h = lib_repl(DONE)
    h.wait_idle()
    at = len(h.text())
    h.line("/mcp")
    h.wait_for("gone  failed", after=at)        # the last server's line
    out = h.text()[at:]
    assert "lib  connected" in out and "tools (1): mcp__lib__add_note" in out
    assert "resources (5): notes://today, notes://logo.png" in out and "notes://day/{day}" in out
    assert "prompts (3): /mcp__lib__review PATH [FOCUS], /mcp__lib__summarise TEXT, " \
           "/mcp__lib__dialogue" in out
    assert "gone  failed: " in out and "/nonexistent/mcp-server" in out


def test_a_resource_mention_attaches_its_contents(lib_repl):
    h = lib_repl(DONE, DONE)
    h.line("compare @lib:notes://today with @calc.py and @lib:notes://logo.png.")
    h.wait_for("Done.")
    h.wait_idle()
    user = last_user_message(h)
    assert user.startswith("compare @lib:notes://today with @calc.py and @lib:notes://logo.png.")
    assert '<resource server="lib" uri="notes://today">\nbuy milk\ncall the plumber\n</resource>' in user
    assert '<resource server="lib" uri="notes://logo.png">\n(binary content: image/png, ' \
           '100 bytes; not attached)' in user
    assert '<file path="calc.py">' in user                          # files still attach
    sent = len(h.repl.agent.messages)
    h.line("what about @lib:notes://nope?")
    h.wait_for("not sent: MCP server 'lib' answered resources/read of notes://nope with an "
               "error: Unknown resource")
    h.wait_idle()
    assert len(h.repl.agent.messages) == sent                        # nothing reached the model
    assert not h.repl.state.marks[-1].text.startswith("what about")
    h.line("")                                                       # Enter: it was back there
    h.wait_for("not sent:", after=h.text().index("not sent:") + 1)
    h.wait_idle()
    h.send("\x03")                                                   # Ctrl-C clears it again


def test_a_prompt_command_sends_the_prompt_as_the_turn(lib_repl):
    h = lib_repl(DONE)
    h.line("/mcp__lib__review")
    h.wait_for("/mcp__lib__review: missing required argument: path; usage: "
               "/mcp__lib__review PATH [FOCUS]")
    h.line("/mcp__lib__reveiw calc.py")
    h.wait_for("no MCP prompt /mcp__lib__reveiw; did you mean /mcp__lib__review?")
    h.line("/mcp__lib__review calc.py focus='the add function'")
    h.wait_for("Done.")
    h.wait_idle()
    assert last_user_message(h) == "Please review calc.py. Look closely at the add function."
    h.line("/help")
    h.wait_for("/mcp__lib__review PATH [FOCUS]  Review one file  (MCP server lib)")
    h.line("/help mcp__lib__summarise")
    h.wait_for("text (required)")


def test_tab_offers_prompt_commands_and_resource_uris(lib_repl):
    h = lib_repl(DONE)
    h.wait_idle()
    state, completer = h.repl.state, h.repl.completer
    deadline = time.monotonic() + 20      # the lists are fetched in the background
    while not (state.mcp_list("lib", "resources", wait=False)
               and state.mcp_list("lib", "prompts", wait=False)):
        assert time.monotonic() < deadline, "the server's lists were never fetched"
        time.sleep(0.05)

    def offered(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), None)]

    assert offered("/mcp__lib__s") == ["/mcp__lib__summarise"]
    assert "/mcp" in offered("/mc") and "/mcp__lib__review" in offered("/mc")
    assert offered("read @lib:notes://t") == ["@lib:notes://today"]
    assert "@lib:notes://day/{day}" in offered("read @lib:")
    assert offered("read @li")[0] == "@lib:"
    assert "@calc.py" in offered("read @calc")                      # files as before


def test_mcp_without_servers_says_how_to_add_one(repl):
    h = repl(DONE)
    h.line("/mcp")
    h.wait_for("no MCP servers in this session: define them in your config or with `ama mcp add`")
    h.line("/mcp__lib__review x")
    h.wait_for("no MCP prompt /mcp__lib__review (/mcp lists the servers' prompts)")
