"""A PreToolUse hook for the tests: `python barrier_hook.py DIR N`.

It checks in (a file in DIR named for the call) and waits until N calls have checked in:
it lets its call go on (exit 0) only when N tool calls are inside their hooks at the same
time, which calls run one after another never are. Alone after 15 s it blocks (exit 2).
"""
import json
import os
import sys
import time

folder, wanted = sys.argv[1], int(sys.argv[2])
data = json.load(sys.stdin)
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, f"{os.getpid()}"), "w") as fh:
    fh.write(data["tool_use_id"])
deadline = time.monotonic() + 15
while len(os.listdir(folder)) < wanted:
    if time.monotonic() > deadline:
        print(f"barrier: only {len(os.listdir(folder))} of {wanted} calls ran at once",
              file=sys.stderr)
        sys.exit(2)
    time.sleep(0.02)
