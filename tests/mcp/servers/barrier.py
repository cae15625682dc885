"""The demo server behind a barrier: it serves only once N servers have started.

    python barrier.py DIR N     touch DIR/<pid>, wait (up to 30 s) until DIR holds N
                                files, then become `demo.py stdio`

Started one after another, the first would wait for ever (its start times out); started
together, all come up. That tells concurrency without measuring time.
"""
import os
import sys
import time
from pathlib import Path

directory, count = Path(sys.argv[1]), int(sys.argv[2])
(directory / str(os.getpid())).touch()
deadline = time.monotonic() + 30
while len(list(directory.iterdir())) < count:
    if time.monotonic() > deadline:
        sys.exit("the others never started")
    time.sleep(0.02)
demo = Path(__file__).with_name("demo.py")
os.execv(sys.executable, [sys.executable, str(demo), "stdio"])
