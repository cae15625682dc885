"""A hook command for the tests: `python scripted_hook.py RECORD BEHAVIOUR`.

It appends what it read on stdin (plus its cwd and environment) to RECORD, one JSON
object a line, then acts out BEHAVIOUR the way a user's hook script would.
"""
import json
import os
import sys
import time

record, behaviour = sys.argv[1], sys.argv[2]
data = json.load(sys.stdin)
with open(record, "a", encoding="utf-8") as fh:
    fh.write(json.dumps({"input": data, "cwd": os.getcwd(), "env": dict(os.environ),
                         "behaviour": behaviour}) + "\n")
tool_input = data.get("tool_input") or {}
command = str(tool_input.get("command", ""))


def answer(obj):
    print(json.dumps(obj))
    sys.exit(0)


def decide(decision, reason, **extra):
    answer({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": decision,
                                   "permissionDecisionReason": reason, **extra}})


if behaviour == "block-rm" and data.get("tool_name") == "shell" and command.startswith("rm"):
    print("rm is not allowed in this repository; move files to trash/ instead", file=sys.stderr)
    sys.exit(2)
elif behaviour == "rewrite":
    answer({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                                   "updatedInput": {**tool_input,
                                                    "command": command.replace("one", "two")}}})
elif behaviour == "rewrite-invalid":
    answer({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                                   "updatedInput": {"command": 5}}})
elif behaviour == "crash":
    print("Traceback: KeyError 'oops'", file=sys.stderr)
    sys.exit(1)
elif behaviour == "hang":
    time.sleep(30)
elif behaviour == "stop-once" and not data["stop_hook_active"]:
    answer({"decision": "block", "reason": "the tests were not run; run them first"})
elif behaviour == "stop-always":
    answer({"decision": "block", "reason": "never done"})
elif behaviour in ("deny", "allow", "ask"):
    decide(behaviour, f"the hook says {behaviour}")
elif behaviour == "context":
    answer({"hookSpecificOutput": {"hookEventName": data["hook_event_name"],
                                   "additionalContext": "the build is red on main"}})
elif behaviour == "plain-context":
    print("deploys are frozen today")
elif behaviour == "block-prompt":
    print("prompts that mention secrets are refused", file=sys.stderr)
    sys.exit(2)
elif behaviour == "post-feedback":
    print("lint: line 1 is too long", file=sys.stderr)
    sys.exit(2)
elif behaviour == "bad-json":
    print("{not json")
