"""`ama batch` end to end, as a subprocess, on repositories the tests make: one task
fixed and verified, one that never passes, one whose script is broken, one whose repo
is missing — then a second run, and --redo-existing."""
from __future__ import annotations

import pytest

from tests.batch.conftest import (DONE, FIX, NO_FIX, TEST_FILE, World, make_world, read_json,
                                  read_lines, swe_task)

LOOK = {"text": "looking", "tool_calls": [{"name": "list_files", "arguments": {}}]}
IDS = ("acme__calc-1", "acme__calc-2", "acme__calc-3", "acme__gone-1")
TEST_CMD = "python3 {tests}"


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    world = make_world(tmp_path_factory.mktemp("batch"))
    world.script("acme__calc-1", LOOK, FIX, DONE)
    world.script("acme__calc-2", NO_FIX, NO_FIX, NO_FIX)
    (world.scripts / "acme__calc-3.jsonl").write_text('{"text": "broken\n')
    world.script("acme__gone-1", DONE)
    tasks = world.tasks([
        swe_task("acme__calc-1", world),
        # the ama form, on the bare copy laid out owner/name.git, with its own verify
        {"id": "acme__calc-2", "repo": "widgets/calc", "base_commit": world.base,
         "task": "make add() add", "verify": "python3 -c 'import calc; assert calc.add(2, 3) == 5'"},
        swe_task("acme__calc-3", world),
        swe_task("acme__gone-1", world, repo="acme/gone"),
    ])
    out = world.root / "out"
    run = world.batch(tasks, out, "--sandbox", "local", "--trusted-tasks", "--test-cmd", TEST_CMD,
                      "--max-verify", "2", "--rollouts", str(world.root / "rollouts.jsonl"))
    return world, tasks, out, run


def results(out) -> dict:
    return {tid: read_json(out / "tasks" / tid / "result.json") for tid in IDS}


def test_each_task_ends_with_its_exit_status_and_result(first):
    world, _, out, run = first
    assert run.code == 0, run.stderr
    r = results(out)
    assert {tid: (r[tid]["subtype"], r[tid]["exit_code"]) for tid in IDS} == {
        "acme__calc-1": ("success", 0), "acme__calc-2": ("error_verification_failed", 5),
        "acme__calc-3": ("error_bad_input", 2), "acme__gone-1": ("error_bad_input", 2)}
    fixed = r["acme__calc-1"]
    assert fixed["resolved"] is True and fixed["reward"] == 1.0 and fixed["chosen"] == 0
    assert fixed["verification"]["command"] == "python3 test_add.py"
    # the test came with the task's test_patch: in the tree the model started from, so
    # not in the change set; the patch holds the fix alone
    assert "test_add.py" not in fixed["model_patch"]
    assert "-    return a - b\n+    return a + b" in fixed["model_patch"]
    assert [f["path"] for f in fixed["changes"]["files"]] == ["calc.py"]
    never = r["acme__calc-2"]
    assert never["resolved"] is False and never["reward"] == 0.0
    assert never["verification"]["attempts"] == 2 and never["model_patch"] == ""
    assert "acme__calc-3.jsonl:1" in r["acme__calc-3"]["result"]
    gone = r["acme__gone-1"]["result"]
    assert "acme/gone" in gone and "acme+gone" in gone and "--repos" in gone
    # the model saw the checkout at base_commit (no NEWS: that came later), with the
    # test_patch applied
    listing = next(e for e in read_lines(out / "tasks" / "acme__calc-1" / "events.jsonl")
                   if e["type"] == "tool_result" and e["name"] == "list_files")
    assert "calc.py" in listing["output"] and "test_add.py" in listing["output"]
    assert "NEWS" not in listing["output"]
    # nothing is left behind: checkouts and scratch workspaces are gone
    assert not any((world.home / "ama" / "batch").iterdir())
    assert not any((world.home / "ama" / "workspaces").iterdir())


def test_each_task_has_its_full_event_log(first):
    _, _, out, _ = first
    events = read_lines(out / "tasks" / "acme__calc-1" / "events.jsonl")
    types = [e["type"] for e in events]
    for t in ("session_started", "user_message", "tool_call", "tool_result", "verification",
              "change_set"):
        assert t in types, t
    assert types[-1] == "result" and events[-1]["subtype"] == "success"
    never = [e["type"] for e in read_lines(out / "tasks" / "acme__calc-2" / "events.jsonl")]
    assert never.count("verification") == 2
    broken = read_lines(out / "tasks" / "acme__calc-3" / "events.jsonl")
    assert [e["type"] for e in broken] == ["error", "result"]


def test_preds_json_loads_with_the_swebench_loader(first):
    utils = pytest.importorskip("swebench.harness.utils")
    world, _, out, _ = first
    preds = utils.get_predictions_from_file(str(out / "preds.json"), "unused", "test")
    by_id = {p["instance_id"]: p for p in preds}
    assert set(by_id) == set(IDS)
    for tid, pred in by_id.items():
        assert set(pred) == {"instance_id", "model_name_or_path", "model_patch"}
        assert pred["model_name_or_path"] == f"script:{world.scripts}/{{instance_id}}.jsonl"
        assert pred["model_patch"] == read_json(out / "tasks" / tid / "result.json")["model_patch"]
    assert by_id["acme__calc-1"]["model_patch"].startswith("diff --git a/calc.py")


def test_the_summary_counts_what_the_results_say(first):
    _, _, out, run = first
    s = read_json(out / "summary.json")
    assert (s["tasks"], s["done"], s["resolved"], s["interrupted"]) == (4, 4, 1, False)
    assert s["by_exit_code"] == {"0": 1, "2": 2, "5": 1}
    assert s["by_subtype"] == {"success": 1, "error_verification_failed": 1, "error_bad_input": 2}
    assert s["pass_rate"] == 0.25 and s["mean_reward"] == 0.5
    assert [row["instance_id"] for row in s["rows"]] == list(IDS)
    assert s["input_tokens"] == sum(r["usage"]["input_tokens"] for r in results(out).values()) > 0
    # the table on stderr
    assert "4/4 tasks done · resolved 1 (25%)" in run.stderr
    assert "acme__calc-2" in run.stderr and "error_verification_failed" in run.stderr


def test_rollouts_load_with_datasets_and_render_with_a_chat_template(first, tmp_path):
    datasets = pytest.importorskip("datasets")
    transformers = pytest.importorskip("transformers")
    from tests.local_model.lm_testing import DEEPSEEK_TEMPLATE, make_tokenizer
    world, _, out, _ = first
    ds = datasets.load_dataset("json", data_files=str(world.root / "rollouts.jsonl"),
                               split="train", cache_dir=str(tmp_path / "hf"))
    # one record per attempt that ran; the two that never started have none
    assert sorted(ds["instance_id"]) == ["acme__calc-1", "acme__calc-2"]
    rewards = dict(zip(ds["instance_id"], ds["reward"]))
    verified = dict(zip(ds["instance_id"], ds["verified"]))
    r = results(out)
    assert rewards == {tid: r[tid]["reward"] for tid in rewards} == {"acme__calc-1": 1.0,
                                                                      "acme__calc-2": 0.0}
    assert verified == {"acme__calc-1": True, "acme__calc-2": False}
    fixed = ds[ds["instance_id"].index("acme__calc-1")]
    assert fixed["reward_source"] == "fail_to_pass" and fixed["tests_passed"] == fixed["tests_total"] == 1
    roles = [m["role"] for m in fixed["messages"]]
    assert roles[:3] == ["system", "user", "assistant"] and "tool" in roles
    calls = [c for m in fixed["messages"] if m.get("tool_calls") for c in m["tool_calls"]]
    assert [c["function"]["name"] for c in calls] == ["list_files", "edit_file"]
    call = calls[1]
    assert call["type"] == "function" and call["id"]
    assert [m["tool_call_id"] for m in fixed["messages"] if m["role"] == "tool"] == [c["id"] for c in calls]
    assert '"new_string": "a + b"' in call["function"]["arguments"]
    names = {t["function"]["name"] for t in fixed["tools"]}
    assert {"read_file", "edit_file", "shell"} <= names
    tokenizer = transformers.AutoTokenizer.from_pretrained(make_tokenizer(tmp_path / "tok",
                                                                         DEEPSEEK_TEMPLATE))
    for row in ds:
        # datasets gives every message every key (absent ones as None): drop those
        messages = [{k: v for k, v in m.items() if v is not None} for m in row["messages"]]
        text = tokenizer.apply_chat_template(messages, tools=row["tools"], tokenize=False)
        assert messages[-1]["content"] in text and '"name": "edit_file"' in text
    fixed_text = tokenizer.apply_chat_template(
        [{k: v for k, v in m.items() if v is not None} for m in fixed["messages"]],
        tools=fixed["tools"], tokenize=False)
    assert "<｜tool▁calls▁begin｜>edit_file" in fixed_text


def test_a_second_run_skips_everything_and_redo_existing_redoes_it(first):
    world, tasks, out, _ = first
    before = {tid: r["session_id"] for tid, r in results(out).items()}
    rollouts = (world.root / "rollouts.jsonl").read_text()
    again = world.batch(tasks, out, "--sandbox", "local", "--trusted-tasks", "--test-cmd",
                        TEST_CMD, "--rollouts", str(world.root / "rollouts.jsonl"))
    assert again.code == 0, again.stderr
    assert "4 of 4 tasks already done" in again.stderr and "start " not in again.stderr
    assert {tid: r["session_id"] for tid, r in results(out).items()} == before
    assert (world.root / "rollouts.jsonl").read_text() == rollouts
    redo = world.batch(tasks, out, "--sandbox", "local", "--trusted-tasks", "--test-cmd",
                       TEST_CMD, "--max-verify", "2", "--redo-existing", "--filter", "calc-[12]",
                       "--rollouts", str(world.root / "rollouts.jsonl"))
    assert redo.code == 0, redo.stderr
    now = results(out)
    assert now["acme__calc-1"]["session_id"] != before["acme__calc-1"]
    assert now["acme__calc-2"]["session_id"] != before["acme__calc-2"]
    assert now["acme__calc-3"]["session_id"] == before["acme__calc-3"]   # not selected
    assert (now["acme__calc-1"]["subtype"], now["acme__calc-2"]["exit_code"]) == ("success", 5)
    lines = read_lines(world.root / "rollouts.jsonl")
    assert sorted(x["instance_id"] for x in lines) == ["acme__calc-1", "acme__calc-2"]
    assert {x["session_id"] for x in lines} == {now["acme__calc-1"]["session_id"],
                                                now["acme__calc-2"]["session_id"]}
    assert set(read_json(out / "preds.json")) == set(IDS)


def test_an_untrusted_task_runs_wrapped_in_bwrap(world: World):
    """Task texts are untrusted by default: wrapped, no --sandbox local; bwrap isolates."""
    world.script("acme__calc-9", FIX, DONE)
    tasks = world.tasks([swe_task("acme__calc-9", world)])
    refused = world.batch(tasks, world.root / "o1", "--sandbox", "local")
    assert refused.code == 2 and "--trusted-tasks" in refused.stderr
    run = world.batch(tasks, world.root / "o2", "--sandbox", "bwrap", "--test-cmd", TEST_CMD)
    assert run.code == 0, run.stderr
    result = read_json(world.root / "o2" / "tasks" / "acme__calc-9" / "result.json")
    assert (result["subtype"], result["resolved"]) == ("success", True), result["result"]
    events = read_lines(world.root / "o2" / "tasks" / "acme__calc-9" / "events.jsonl")
    started = next(e for e in events if e["type"] == "session_started")
    message = next(e for e in events if e["type"] == "user_message")["text"]
    assert started["sandbox"] == "bwrap"
    assert "<untrusted-task>\nadd() subtracts instead of adding; fix it\n</untrusted-task>" in message
    assert TEST_FILE.splitlines()[0] not in result["model_patch"]
