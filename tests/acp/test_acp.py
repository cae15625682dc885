"""`ama acp` driven as a subprocess by the `acp` package's own client side, with the
`script:` model, in temp git repos: the updates a turn streams, approvals and the
review in the editor, cancel, modes and models, session/load, MCP servers from
session/new, and JSON-RPC errors for bad requests."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("acp")

from acp import (RequestError, embedded_text_resource, image_block, resource_block,  # noqa: E402
                 resource_link_block, text_block)
from acp.schema import McpServerStdio  # noqa: E402

from tests.acp.editor import HOLD, ROOT, Editor, ama_acp, run  # noqa: E402
from tests.ama_cli import calc_repo, isolated_env, write_script  # noqa: E402


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def show_stderr(home):
    yield
    log = home / "acp-stderr.txt"
    if log.exists():
        print("--- ama acp stderr ---\n" + log.read_text())   # shown when a test fails


def test_a_turn_streams_its_work_and_the_review_applies_what_was_accepted(tmp_path, home):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, (
        {"thinking": "add looks wrong", "text": "Looking. ", "tool_calls": [
            {"name": "todo_write", "arguments": {"items": [
                {"content": "find the bug", "status": "completed"},
                {"content": "fix add", "status": "in_progress"}]}},
            {"name": "read_file", "arguments": {"path": "calc.py"}},
            {"name": "grep", "arguments": {"pattern": "def add"}}]},
        {"text": "Fixing.", "tool_calls": [
            {"name": "edit_file", "arguments": {"path": "calc.py", "old_string": "a - b",
                                                "new_string": "a + b"}},
            {"name": "write_file", "arguments": {"path": "notes.txt", "content": "scratch\n"}},
            {"name": "shell", "arguments": {"command": "echo one"}},
            {"name": "shell", "arguments": {"command": "echo two"}}]},
        {"text": "Fixed add."},
        {"text": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]},
        {"text": "It is gone."}))

    def policy(call, options):
        if call.kind == "execute":
            return "allow_always"      # the second `echo` is then allowed without asking
        return "reject" if "notes.txt" in call.title else "accept"

    editor = Editor(policy)

    async def go():
        async with ama_acp(editor, home, "--model", model) as (conn, _):
            session = (await conn.new_session(cwd=str(repo), mcp_servers=[])).session_id
            first = await conn.prompt(session_id=session, prompt=[text_block("fix add")])
            seen = len(editor.updates)
            second = await conn.prompt(session_id=session, prompt=[text_block("and notes?")])
            return first.stop_reason, second.stop_reason, seen
    first, second, seen = run(go())

    assert (first, second) == ("end_turn", "end_turn")
    # the warning from when the session opened comes first, with the first turn
    assert editor.text("agent_thought_chunk") == (
        "sandbox 'local': commands run on this machine without isolation (in the scratch "
        "copy)\nadd looks wrong\n(always allowed in this repository: shell(echo*))\n")
    assert editor.text().startswith("Looking. Fixing.Fixed add.\n\nApplied to your tree: calc.py.")
    starts = {u.tool_call_id: u for u in editor.of("tool_call")}
    kinds = {u.title.split()[0]: u.kind for u in starts.values()
             if u.tool_call_id.startswith("call_")}
    assert kinds == {"todo_write": "think", "read_file": "read", "grep": "search",
                     "edit_file": "edit", "write_file": "edit", "shell": "execute"}
    plan = editor.of("plan")[0].entries
    assert [(e.content, e.status) for e in plan] == [("find the bug", "completed"),
                                                     ("fix add", "in_progress")]
    edit = next(u for u in starts.values() if u.title == "edit_file calc.py")
    diff = [c for c in editor.finished(edit.tool_call_id).content if c.type == "diff"][0]
    assert (diff.path, diff.old_text, diff.new_text) == (
        str(repo / "calc.py"), "def add(a, b):\n    return a - b\n",
        "def add(a, b):\n    return a + b\n")
    created = next(u for u in starts.values() if u.title == "write_file notes.txt")
    new = [c for c in editor.finished(created.tool_call_id).content if c.type == "diff"][0]
    assert (new.old_text, new.new_text) == (None, "scratch\n")
    # one approval for the shell (allow always), then the review: one request per file
    assert [(c.kind, c.title) for c in editor.asked] == [
        ("execute", "shell echo one"),
        ("edit", "Apply to your tree: calc.py (+1 −1)"),
        ("edit", "Apply to your tree: notes.txt (new file)")]
    shells = [u for u in starts.values() if u.kind == "execute"]
    assert [editor.finished(u.tool_call_id).status for u in shells] == ["completed", "completed"]
    assert [c.type for c in editor.asked[1].content] == ["diff"]
    # accepted: on disk, written through the editor; rejected: not there
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert editor.writes == [str(repo / "calc.py")]
    assert not (repo / "notes.txt").exists()
    # ...and reverted in ama's copy too: the next turn does not find it
    later = [u for u in editor.updates[seen:] if u.session_update == "tool_call"]
    assert editor.finished(later[0].tool_call_id).status == "failed"


def test_cancel_stops_a_turn_and_a_review_whose_files_then_stay_pending(tmp_path, home):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, (
        {"text": " ".join(["word"] * 200), "delay": 0.05},
        {"text": "still here", "tool_calls": [
            {"name": "write_file", "arguments": {"path": "a.txt", "content": "a\n"}},
            {"name": "write_file", "arguments": {"path": "b.txt", "content": "b\n"}}]},
        {"text": "done"},
        {"text": "nothing more"}))
    answers = iter([HOLD, "accept_all"])    # the first review request is never answered
    editor = Editor(lambda call, options: next(answers))

    async def go():
        async with ama_acp(editor, home, "--model", model) as (conn, _):
            session = (await conn.new_session(cwd=str(repo), mcp_servers=[])).session_id
            reasons = []
            for text, wait in (("talk", "agent_message_chunk"), ("write", "permission")):
                turn = asyncio.ensure_future(conn.prompt(session_id=session,
                                                         prompt=[text_block(text)]))
                await editor.wait_for(wait)
                await conn.cancel(session_id=session)
                reasons.append((await turn).stop_reason)
            pending = (repo / "a.txt").exists(), (repo / "b.txt").exists()
            editor.release.set()                 # the late answer changes nothing
            again = await conn.prompt(session_id=session, prompt=[text_block("and?")])
            return reasons, pending, again.stop_reason
    assert run(go()) == (["cancelled", "cancelled"], (False, False), "end_turn")
    assert editor.text().count("word") < 100    # stopped well before the end
    assert "still here" in editor.text()
    assert [c.title for c in editor.asked] == [      # held and cancelled, then "accept all"
        "Apply to your tree: a.txt (new file)", "Apply to your tree: a.txt (new file)"]
    assert (repo / "a.txt").read_text() == "a\n" and (repo / "b.txt").read_text() == "b\n"
    started = {u.tool_call_id for u in editor.of("tool_call")}
    assert {u.tool_call_id for u in editor.of("tool_call_update")} <= started   # none unknown


def test_modes_and_models(tmp_path, home):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, (
        {"text": "", "tool_calls": [{"name": "write_file",
                                     "arguments": {"path": "plan.txt", "content": "no\n"}}]},
        {"text": "I would write plan.txt."}))
    other = write_script(tmp_path, (
        {"text": "", "tool_calls": [{"name": "write_file",
                                     "arguments": {"path": "auto.txt", "content": "yes\n"}}]},
        {"text": "the other model"}), name="other.jsonl")
    guard = tmp_path / "guard.py"     # a UserPromptSubmit hook that refuses one prompt
    guard.write_text("import json, sys\n"
                     "sys.exit(2 if 'password' in json.load(sys.stdin)['prompt'] else 0)\n")
    hooks = tmp_path / "hooks.toml"
    command = json.dumps(f"{sys.executable} {guard}")
    hooks.write_text(f"[[hooks.UserPromptSubmit]]\ncommand = {command}\n")
    editor = Editor(fs=False)

    async def go():
        async with ama_acp(editor, home, "--model", model, "--config", str(hooks)) as (conn, _):
            new = await conn.new_session(cwd=str(repo), mcp_servers=[])
            session = new.session_id
            assert new.modes.current_mode_id == "review"
            assert [m.id for m in new.modes.available_modes] == ["review", "auto-accept", "plan"]
            await conn.set_session_mode(session_id=session, mode_id="plan")
            planned = await conn.prompt(session_id=session, prompt=[text_block("write it")])
            plan_updates = len(editor.updates)
            options = await conn.set_config_option(config_id="model", session_id=session,
                                                   value=other)
            await conn.set_config_option(config_id="mode", session_id=session,
                                         value="auto-accept")
            auto = await conn.prompt(session_id=session, prompt=[text_block("write it")])
            refused = await conn.prompt(session_id=session, prompt=[text_block("the password")])
            return (planned.stop_reason, plan_updates, options, auto.stop_reason,
                    refused.stop_reason)
    planned, plan_updates, options, auto, refused_prompt = run(go())

    assert (planned, auto, refused_prompt) == ("end_turn", "end_turn", "refusal")
    # (the second script numbers its calls from call_1 again: look at the plan turn only)
    refused = [u for u in editor.updates[:plan_updates] if u.session_update == "tool_call_update"]
    assert [u.status for u in refused] == ["failed"]
    assert "plan mode is read-only" in refused[0].content[0].content.text
    assert not (repo / "plan.txt").exists()
    model_option = next(o for o in options.config_options if o.id == "model")
    assert model_option.current_value == other
    # auto-accept: applied without asking, written directly (this editor offers no fs)
    assert editor.asked == [] and editor.writes == []
    assert (repo / "auto.txt").read_text() == "yes\n"
    assert "the other model" in "".join(u.content.text for u in editor.updates[plan_updates:]
                                        if u.session_update == "agent_message_chunk")


def test_a_loaded_session_replays_its_history_and_goes_on(tmp_path, home):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, ({"text": "the first answer"}, {"text": "the second answer"}))

    async def first():
        async with ama_acp(Editor(), home, "--model", model) as (conn, _):
            session = (await conn.new_session(cwd=str(repo), mcp_servers=[])).session_id
            await conn.prompt(session_id=session, prompt=[text_block("remember the plums")])
            return session
    session = run(first())
    editor = Editor()

    async def again():
        async with ama_acp(editor, home, "--model", model) as (conn, _):
            with pytest.raises(RequestError) as unknown:
                await conn.load_session(cwd=str(repo), session_id="no-such-session",
                                        mcp_servers=[])
            await conn.load_session(cwd=str(repo), session_id=session, mcp_servers=[])
            replayed = list(editor.updates)
            reply = await conn.prompt(session_id=session, prompt=[text_block("what was it?")])
            return unknown.value, replayed, reply.stop_reason
    unknown, replayed, stop = run(again())

    assert unknown.code == -32602 and "no-such-session" in unknown.data["message"]
    assert [(u.session_update, u.content.text) for u in replayed] == [
        ("user_message_chunk", "remember the plums"), ("agent_message_chunk", "the first answer")]
    assert stop == "end_turn"
    log = [json.loads(line) for line in
           (home / "ama" / "sessions" / f"{session}.jsonl").read_text().splitlines()]
    users = [e["text"] for e in log if e["type"] == "user_message"]
    assert users == ["remember the plums", "what was it?"]   # one session, both turns


def test_an_mcp_server_passed_in_session_new_is_used_and_verify_shows(tmp_path, home):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, (
        {"text": "", "tool_calls": [{"name": "mcp__demo__echo",
                                     "arguments": {"text": "hi", "times": 2}}]},
        {"text": "it echoed"}))
    server = McpServerStdio(name="demo", command=sys.executable, env=[],
                            args=[str(ROOT / "tests" / "mcp" / "servers" / "demo.py"), "stdio"])
    editor = Editor()

    async def go():
        async with ama_acp(editor, home, "--model", model,
                           "--config", "verify=grep -q def calc.py") as (conn, _):
            session = (await conn.new_session(cwd=str(repo), mcp_servers=[server])).session_id
            return (await conn.prompt(session_id=session, prompt=[text_block("echo")])).stop_reason
    assert run(go()) == "end_turn"
    call = editor.of("tool_call")[0]
    assert (call.title, call.kind) == ("mcp__demo__echo", "other")
    done = editor.finished(call.tool_call_id)
    assert done.status == "completed" and done.content[0].content.text == "hi hi"
    check = editor.of("tool_call")[-1]      # the --verify command, once the model was done
    assert (check.title, check.kind) == ("verify: grep -q def calc.py", "execute")
    assert editor.finished(check.tool_call_id).status == "completed"


def test_bad_requests_get_json_rpc_errors_and_the_agent_stays_up(tmp_path, home):
    repo = calc_repo(tmp_path / "repo")
    model = write_script(tmp_path, ({"text": "fine"},))
    editor = Editor()

    async def go():
        async with ama_acp(editor, home, "--model", model) as (conn, proc):
            errors = []
            for request in (
                    lambda: conn.new_session(cwd="relative/path", mcp_servers=[]),
                    lambda: conn.new_session(cwd=str(tmp_path / "missing"), mcp_servers=[]),
                    lambda: conn.prompt(session_id="nope", prompt=[text_block("hi")]),
                    lambda: conn.ext_method("ama/unknown", {})):
                with pytest.raises(RequestError) as e:
                    await request()
                errors.append(e.value)
            proc.stdin.write(b"this is not JSON\n{\"jsonrpc\": \"2.0\", \"id\": []}\n")
            await proc.stdin.drain()
            session = (await conn.new_session(cwd=str(repo), mcp_servers=[])).session_id
            for request in (
                    lambda: conn.set_session_mode(session_id=session, mode_id="yolo"),
                    lambda: conn.prompt(session_id=session,
                                        prompt=[image_block("AAAA", "image/png")]),
                    lambda: conn.set_config_option(config_id="model", session_id=session,
                                                   value="nosuchprovider:x"),
                    lambda: conn._conn.send_request("session/prompt", {"sessionId": session})):
                with pytest.raises(RequestError) as e:
                    await request()
                errors.append(e.value)
            fine = await conn.prompt(session_id=session, prompt=[
                text_block("compare"), resource_link_block("calc.py", (repo / "calc.py").as_uri()),
                text_block("with"), resource_block(embedded_text_resource(
                    (repo / "draft.py").as_uri(), "def add(a, b):\n    return b + a\n"))])
            return errors, fine.stop_reason, proc.returncode, session
    errors, stop, returncode, session = run(go())

    assert [e.code for e in errors] == [-32602, -32602, -32602, -32601,
                                        -32602, -32602, -32602, -32602]
    assert "absolute" in errors[0].data["message"]
    assert "no such directory" in errors[1].data["message"]
    assert "no session 'nope'" in errors[2].data["message"]
    assert "yolo" in errors[4].data["message"]
    assert "image" in errors[5].data["message"]
    assert "nosuchprovider" in errors[6].data["message"]
    assert (stop, returncode) == ("end_turn", None)
    # the editor's context: mentions as @path where they stood, embedded text attached
    log = (home / "ama" / "sessions" / f"{session}.jsonl").read_text().splitlines()
    message = [json.loads(line)["text"] for line in log if '"user_message"' in line][0]
    assert message.startswith("compare @calc.py with @draft.py\n")
    assert '<file path="draft.py">\ndef add(a, b):\n    return b + a\n' in message


def test_without_the_acp_package_ama_acp_says_how_to_install_it(tmp_path):
    code = ("import sys; import agent.cli.main as m; "
            "assert not [k for k in sys.modules if k.split('.')[0] == 'acp' "
            "or k.startswith('agent.acp')]; "
            "sys.modules['acp'] = None; m.main(['acp'])")
    env = isolated_env(tmp_path, {"PYTHONPATH": str(ROOT)})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert "pip install 'agent-client-protocol" in out.stderr
