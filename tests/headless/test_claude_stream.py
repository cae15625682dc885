"""`--output-format stream-json` is Claude Code's stream: every line goes through the
message parser of `claude-agent-sdk` (a test dependency, installed by tests/run_all.sh)
and becomes the right message with the right fields. `--input-format stream-json` runs
the user messages on stdin as turns of one session."""
from __future__ import annotations

import json

import jsonschema
import pytest

from agent.core import events as ev
from agent.schemas import load_schema
from .conftest import DONE, FIX

sdk = pytest.importorskip("claude_agent_sdk")
from claude_agent_sdk._internal.message_parser import parse_message  # noqa: E402

SCHEMA = jsonschema.Draft202012Validator(load_schema("stream-json"))
THINK_AND_FIX = {"thinking": "add subtracts; make it add.", "text": "Fixing calc.py.",
                 "tool_calls": [FIX["tool_calls"][0],
                                {"name": "read_file", "arguments": {"path": "missing.txt"}}]}


def messages(stdout: str) -> list:
    """Every stdout line, valid against the shipped schema and parsed by the SDK; none
    may be dropped (None) or refused."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in SCHEMA.iter_errors(line)]
        assert not problems, (line, problems)
    parsed = [parse_message(line) for line in lines]
    assert None not in parsed, stdout
    return parsed


def of(parsed: list, kind: type) -> list:
    return [m for m in parsed if type(m) is kind]


def system(parsed: list, subtype: str) -> list:
    return [m for m in parsed if isinstance(m, sdk.SystemMessage) and m.subtype == subtype]


@pytest.fixture
def headless(ama, repo, script):
    return lambda turns, *args, **kw: ama("-p", *args, "--model", script(*turns), "--cwd",
                                          str(repo), "--sandbox", "local",
                                          "--output-format", "stream-json", **kw)


def test_a_run_with_thinking_tool_calls_and_verification_is_claude_messages(headless, repo):
    r = headless([THINK_AND_FIX, DONE], "fix add", "--verify", "grep -q 'a + b' calc.py")
    assert r.code == 0, r.stderr
    parsed = messages(r.stdout)
    init, result = parsed[0], parsed[-1]
    assert isinstance(init, sdk.SystemMessage) and init.subtype == "init"
    assert init.data["session_id"] == result.session_id
    assert init.data["cwd"] == str(repo.resolve()) and init.data["model"].startswith("script:")
    assert {"edit_file", "read_file", "shell"} <= set(init.data["tools"])
    assert init.data["mcp_servers"] == [] and init.data["permissionMode"] == "default"

    first, second = of(parsed, sdk.AssistantMessage)
    assert [type(b) for b in first.content] == [sdk.ThinkingBlock, sdk.TextBlock,
                                                sdk.ToolUseBlock, sdk.ToolUseBlock]
    assert first.content[0].thinking == "add subtracts; make it add."
    assert first.content[1].text == "Fixing calc.py."
    edit, read = first.content[2:]
    assert (edit.name, edit.input) == ("edit_file", FIX["tool_calls"][0]["arguments"])
    assert (first.stop_reason, first.parent_tool_use_id) == ("tool_use", None)
    assert first.session_id == result.session_id and first.model == init.data["model"]
    assert first.usage["output_tokens"] >= 1 and "cache_read_input_tokens" in first.usage
    assert [b.text for b in second.content] == ["Fixed add."] and second.stop_reason == "end_turn"

    answers = {b.tool_use_id: b for m in of(parsed, sdk.UserMessage) for b in m.content
               if isinstance(b, sdk.ToolResultBlock)}
    assert set(answers) == {edit.id, read.id}
    assert answers[edit.id].is_error is False and "Edited calc.py" in answers[edit.id].content
    assert answers[read.id].is_error is True and "missing.txt" in answers[read.id].content

    [verification] = system(parsed, "ama_verification")
    assert verification.data["passed"] is True and verification.data["exit_code"] == 0
    assert system(parsed, "ama_checkpoint")[0].data["call_id"] == edit.id
    [change_set] = system(parsed, "ama_change_set")
    assert [f["path"] for f in change_set.data["files"]] == ["calc.py"]

    assert isinstance(result, sdk.ResultMessage)
    assert (result.subtype, result.is_error, result.num_turns) == ("success", False, 2)
    assert result.result == "Fixed add." and result.total_cost_usd == 0
    assert result.usage["input_tokens"] > 0 and result.stop_reason == "end_turn"
    assert [type(m) for m in parsed].count(sdk.ResultMessage) == 1
    # ama's own result fields ride along
    raw = json.loads(r.stdout.splitlines()[-1])
    assert raw["verification"]["passed"] and raw["changes"]["files"][0]["path"] == "calc.py"


@pytest.mark.parametrize("turns, args, code, subtype", [
    ([FIX, DONE], ["--max-turns", "1"], 3, "error_max_turns"),
    ([FIX, DONE, DONE], ["--verify", "false", "--max-verify", "2"], 5,
     "error_verification_failed"),
])
def test_a_failed_run_is_an_error_result_never_success(headless, turns, args, code, subtype):
    r = headless(turns, "fix add", *args)
    assert r.code == code, r.stderr
    parsed = messages(r.stdout)
    result = parsed[-1]
    assert isinstance(result, sdk.ResultMessage)
    assert (result.subtype, result.is_error) == (subtype, True)
    assert result.errors == [result.result] and result.result
    [error] = system(parsed, "ama_error")
    assert error.data["error_subtype"] == subtype and error.data["message"] == result.result
    if subtype == "error_verification_failed":
        assert [v.data["passed"] for v in system(parsed, "ama_verification")] == [False, False]
        # the verifier's failure went back to the model as a user message
        assert any(isinstance(b, sdk.TextBlock) and "false" in b.text
                   for m in of(parsed, sdk.UserMessage) for b in m.content)


def test_a_run_that_cannot_start_still_begins_with_init(ama, repo, tmp_path):
    r = ama("-p", "x", "--model", f"script:{tmp_path / 'nope.jsonl'}", "--cwd", str(repo),
            "--sandbox", "local", "--output-format", "stream-json")
    assert r.code == 2
    parsed = messages(r.stdout)
    assert parsed[0].subtype == "init" and parsed[0].data["tools"] == []
    assert (parsed[-1].subtype, parsed[-1].is_error) == ("error_bad_input", True)
    assert "nope.jsonl not found" in parsed[-1].result


def test_hooks_are_claude_hook_responses(ama, ama_home, repo, script):
    config = ama_home.parent / "hooks.toml"
    config.write_text('[[hooks.PostToolUse]]\ncommand = "true"\n')
    r = ama("-p", "fix add", "--model", script(FIX, DONE), "--cwd", str(repo), "--sandbox",
            "local", "--config", str(config), "--output-format", "stream-json")
    assert r.code == 0, r.stderr
    [hook] = [m for m in messages(r.stdout) if isinstance(m, sdk.HookEventMessage)]
    assert (hook.subtype, hook.hook_event_name) == ("hook_response", "PostToolUse")
    assert hook.data["outcome"] == "ok" and hook.data["exit_code"] == 0


def test_a_subagents_messages_carry_the_parent_tool_use_id(tmp_path):
    """Events with `parent_call_id` (a subagent's) become messages whose
    `parent_tool_use_id` is that call; the parent's own have none."""
    import io

    from agent.headless.claude_stream import ClaudeStream
    from agent.session.options import SessionOptions
    from agent.session.result import RunResult
    out = io.StringIO()
    stream = ClaudeStream(out, "s1", SessionOptions(model="script:x", cwd=tmp_path))
    call = {"id": "call_task", "name": "task", "arguments": {"prompt": "look"}}
    sub = "call_task"
    for event in (ev.TurnStarted(1), ev.AssistantMessage({"content": "", "tool_calls": [call]}),
                  ev.TurnEnded(1, "tool_use"), ev.TurnStarted(1, parent_call_id=sub),
                  ev.AssistantMessage({"content": "inner", "tool_calls": [
                      {"id": "c2", "name": "read_file", "arguments": {"path": "a"}}]},
                      parent_call_id=sub),
                  ev.TurnEnded(1, "tool_use", parent_call_id=sub),
                  ev.ToolFinished("c2", "read_file", "a's text", False, parent_call_id=sub),
                  ev.ToolFinished("call_task", "task", "found it", False)):
        stream(event)
    stream.result(RunResult("success", "ok", "s1", "script:x", num_turns=1).to_dict())
    parsed = messages(out.getvalue())
    assistants, users = of(parsed, sdk.AssistantMessage), of(parsed, sdk.UserMessage)
    assert [a.parent_tool_use_id for a in assistants] == [None, "call_task"]
    assert [a.content[0].__class__ for a in assistants] == [sdk.ToolUseBlock, sdk.TextBlock]
    assert [(u.parent_tool_use_id, u.content[0].tool_use_id) for u in users] == [
        ("call_task", "c2"), (None, "call_task")]
    assert parsed[0].subtype == "init" and parsed[-1].session_id == "s1"


# ---- --input-format stream-json ----------------------------------------------------------

def user_line(content) -> str:
    return json.dumps({"type": "user", "message": {"role": "user", "content": content},
                       "parent_tool_use_id": None, "session_id": "default"}) + "\n"


@pytest.fixture
def turns(ama, repo, script):
    return lambda model_turns, stdin, *args: ama(
        "-p", "--input-format", "stream-json", "--output-format", "stream-json",
        "--model", script(*model_turns), "--cwd", str(repo), "--sandbox", "local", *args,
        stdin=stdin)


def test_two_user_lines_are_two_turns_of_one_session(turns, ama_home, monkeypatch):
    r = turns([{"text": "first answer"}, {"text": "second answer"}],
              user_line("hello") + user_line([{"type": "text", "text": "and again"}]))
    assert r.code == 0, r.stderr
    parsed = messages(r.stdout)
    results = of(parsed, sdk.ResultMessage)
    assert [x.result for x in results] == ["first answer", "second answer"]
    assert [x.subtype for x in results] == ["success", "success"]
    assert len({m.session_id for m in results}) == 1
    assert [m.subtype for m in parsed if isinstance(m, sdk.SystemMessage)].count("init") == 2
    # one conversation: the second turn followed the first
    from agent.session.store import load_messages
    monkeypatch.setenv("AMA_HOME", str(ama_home))
    said = [(m.role, m.content) for m in load_messages(results[0].session_id)]
    assert [s for s in said if s[0] == "assistant"] == [("assistant", "first answer"),
                                                        ("assistant", "second answer")]
    users = [c for role, c in said if role == "user"]
    assert users == ["hello", "and again"]


def test_a_bad_line_gets_its_own_error_result_and_the_exit_code_is_the_last_lines(turns):
    control = json.dumps({"type": "control_request", "request_id": "r1",
                          "request": {"subtype": "initialize"}}) + "\n"
    r = turns([{"text": "one"}], user_line("hi") + control + "not json\n")
    assert r.code == 2, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    [response] = [x for x in lines if x["type"] == "control_response"]
    assert response["response"]["subtype"] == "error" and response["response"]["request_id"] == "r1"
    results = [parse_message(x) for x in lines if x["type"] == "result"]
    assert [x.subtype for x in results] == ["success", "error_bad_input"]
    assert "stdin line 3: not valid JSON" in results[1].result and "stdin line 3" in r.stderr


def test_the_session_change_set_is_applied_once_stdin_ends(turns, repo):
    r = turns([FIX, DONE, {"text": "nothing more"}], user_line("fix add") + user_line("thanks"),
              "--apply", "tree")
    assert r.code == 0, r.stderr
    parsed = messages(r.stdout)
    assert [x.result for x in of(parsed, sdk.ResultMessage)] == ["Fixed add.", "nothing more"]
    [applied] = system(parsed, "ama_applied")
    assert applied.data["applied"] == {"mode": "tree", "paths": ["calc.py"]}
    assert parsed[-1] is applied
    assert (repo / "calc.py").read_text().endswith("a + b\n")


@pytest.mark.parametrize("args, stdin, message", [
    (["fix it"], "", "give no TASK and no --task-file"),
    (["--output-format", "text"], user_line("x"), "add --output-format stream-json"),
    (["--input-format", "yaml"], "", "--input-format 'yaml': choose one of text, stream-json"),
    ([], "", "stdin ended before any user message"),
])
def test_bad_input_format_use_exits_2(ama, repo, script, args, stdin, message):
    r = ama("-p", "--input-format", "stream-json", "--output-format", "stream-json",
            "--model", script(DONE), "--cwd", str(repo), "--sandbox", "local", *args,
            stdin=stdin)
    assert r.code == 2 and message in r.stderr, (r.code, r.stderr)


def test_attempts_with_stream_json_is_refused(ama, repo, script):
    r = ama("-p", "x", "--model", script(DONE), "--cwd", str(repo), "--attempts", "2",
            "--output-format", "stream-json")
    assert r.code == 2 and "use --output-format json or ama-events" in r.stderr


def test_ama_schema_stream_json_prints_the_shipped_schema(ama):
    r = ama("schema", "stream-json")
    assert r.code == 0 and json.loads(r.stdout) == load_schema("stream-json")
    jsonschema.Draft202012Validator.check_schema(json.loads(r.stdout))


def test_the_cli_help_names_the_formats(ama):
    out = ama("--help").stdout
    assert "stream-json (Claude Code's messages" in out and "ama-events" in out
    assert "--input-format" in out


def test_thinking_streamed_by_a_chat_completions_server_is_a_thinking_block(ama, repo):
    """Providers that stream reasoning without keeping it in the message (DeepSeek, vLLM
    over Chat Completions) still get their thinking block."""
    from tests.models.wire_servers import Reply, ScriptedServer, openai_turn
    turn = openai_turn(reasoning=["Two ", "plus two."], text=["Four."])
    with ScriptedServer([Reply(frames=turn)]) as server:
        r = ama("-p", "2+2?", "--model", f"openai-compat:thinker@{server.url}/v1", "--cwd",
                str(repo), "--sandbox", "local", "--output-format", "stream-json")
    assert r.code == 0, r.stderr
    [reply] = of(messages(r.stdout), sdk.AssistantMessage)
    assert [type(b) for b in reply.content] == [sdk.ThinkingBlock, sdk.TextBlock]
    assert (reply.content[0].thinking, reply.content[1].text) == ("Two plus two.", "Four.")
    assert reply.usage["input_tokens"] == 10 and reply.usage["output_tokens"] == 5
