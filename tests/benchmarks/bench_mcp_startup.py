"""Session start-up with MCP servers, beside the same start without any.

    python tests/benchmarks/bench_mcp_startup.py [--runs 5] [--delay 1.0]

Times `open_session` + `session.close()` (the `script:` model, `--sandbox local`, a
small git repo) with no MCP servers; with one stdio server that sleeps DELAY seconds
before it serves (tests/mcp/servers/demo.py, built with the SDK's MCPServer); with
three such servers; and with three that do not sleep. Servers start concurrently,
while the workspace and sandbox are set up, so three servers that each wait DELAY
should add about DELAY, not 3 × DELAY (issue 15). The verdict compares three sleeping
servers with three that do not: that difference is the waiting alone, apart from each
server's own start-up (a Python process importing the SDK), which on a machine with
few cores cannot all overlap. Medians of RUNS, the cases interleaved; each case runs
once first, unmeasured (the first session with servers imports the SDK).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "mcp" / "servers" / "demo.py"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--delay", type=float, default=1.0, help="seconds each server sleeps "
                    "before serving")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["AMA_HOME"] = str(tmp / "home")   # before ama looks for its state folder
    sys.path.insert(0, str(ROOT))
    from agent.session import SessionOptions, open_session
    from tools.mcp.spec import ServerSpec

    repo = tmp / "repo"
    shutil.copytree(ROOT / "examples" / "calc", repo)
    for cmd in (["init", "-q"], ["add", "-A"],
                ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True)
    script = tmp / "s.jsonl"
    script.write_text('{"text": "done"}\n')

    def servers(n: int, delay: float) -> tuple[ServerSpec, ...]:
        return tuple(ServerSpec(f"slow{i}", command=sys.executable,
                                args=(str(DEMO), "stdio", "--delay", str(delay)),
                                startup_timeout=30 + 3 * delay, trusted=True)
                     for i in range(n))

    def start_and_close(n: int, delay: float) -> float:
        options = SessionOptions(model=f"script:{script}", cwd=repo, sandbox="local",
                                 mcp_servers=servers(n, delay))
        started = time.perf_counter()
        session = open_session(options)
        statuses = [s["status"] for s in session.mcp_servers]
        session.close()
        elapsed = time.perf_counter() - started
        if statuses != ["connected"] * n:
            raise SystemExit(f"{n} servers: statuses {statuses}, not all connected")
        return elapsed

    d = args.delay
    cases = {"none": ("no MCP servers", 0, 0.0), "one": (f"1 server, {d:g} s to start", 1, d),
             "three": (f"3 servers, {d:g} s each to start", 3, d),
             "three_now": ("3 servers, no wait", 3, 0.0)}
    for _, n, delay in cases.values():
        start_and_close(n, delay)               # warm: imports, page cache, bytecode
    samples: dict[str, list[float]] = {key: [] for key in cases}
    for _ in range(args.runs):                  # interleaved, so drift hits every case alike
        for key, (_, n, delay) in cases.items():
            samples[key].append(start_and_close(n, delay))
    median = {key: statistics.median(s) for key, s in samples.items()}

    print(f"session start (open_session + close; script:, --sandbox local), median of "
          f"{args.runs}, {os.cpu_count()} CPUs")
    print(f"{'case':34} {'median s':>9} {'vs none s':>10}")
    for key, (name, _, _) in cases.items():
        growth = f"{median[key] - median['none']:+10.3f}" if key != "none" else f"{'—':>10}"
        print(f"{name:34} {median[key]:9.3f} {growth}")
    three = median["three"] - median["none"]
    waiting = median["three"] - median["three_now"]   # the sleeps alone
    concurrent = waiting < 1.5 * d
    print(f"3 servers that each wait {d:g} s add {three:+.2f} s; their waiting alone (beside 3 "
          f"that do not wait) adds {waiting:+.2f} s: one after another it would be "
          f"{3 * d:+.1f} s")
    if concurrent:
        print(f"verdict: concurrent: the three {d:g} s waits cost {waiting:.2f} s together, "
              f"about {d:g} s, not {3 * d:g} s")
    else:
        print(f"verdict: NOT concurrent: the three {d:g} s waits cost {waiting:.2f} s "
              f"together (concurrent: about {d:g} s)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
