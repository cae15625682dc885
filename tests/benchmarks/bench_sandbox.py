"""Round trip of a trivial command (`true`) through each way of running it.

    python tests/benchmarks/bench_sandbox.py [--n 200] [--runs 15] [--json]

Measures, in one run, the median wall time of `exec("true")` through:
  * the session's docker container (persistent shell over the attached stream),
  * a fresh `docker run --rm` per command (same image, network none), and
    `docker exec` per command into a running container (for reference),
  * the bwrap backend (persistent shell) and a fresh bwrap per command,
  * the `local` backend (persistent shell) and a plain subprocess per command,
and prints the ratios the target is stated in: the sandboxed command within 2x of
the `local` backend, and at least 10x faster than `docker run` per command.
Not collected by pytest (run it explicitly).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.sandbox.image import DEFAULT_IMAGE  # noqa: E402


def median_ms(fn, n: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def interleaved_ms(fns: dict, n: int, warmup: int = 3) -> dict[str, float]:
    """Median ms of each function, timed in turns (a, b, c, a, b, c, ...) so that a
    change in the machine's load falls on all of them alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(warmup + n):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            if i >= warmup:
                times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def bench(n: int, runs: int, image: str) -> dict[str, float]:
    from tools.sandbox.bwrap import BwrapLimits, BwrapSandbox, bwrap_argv
    from tools.sandbox.docker import DockerSandbox
    from tools.sandbox.local import LocalSandbox
    from tools.sandbox.select import _docker_client

    ws = Path(tempfile.mkdtemp(prefix="ama-bench-"))
    client = _docker_client()
    opened = {"local backend (persistent shell)": LocalSandbox(ws)}
    try:
        opened["bwrap backend (persistent shell)"] = BwrapSandbox(ws)
    except Exception as e:  # noqa: BLE001 - report what is missing, measure the rest
        print(f"bwrap: not measured ({e})", file=sys.stderr)
    if client is not None:
        opened["docker session container"] = DockerSandbox(ws, image=image)
    else:
        print("docker: not measured (no engine answers)", file=sys.stderr)
    fns = {name: (lambda sb=sb: sb.exec("true", timeout=10)) for name, sb in opened.items()}
    fns["local subprocess per command"] = lambda: subprocess.run(["bash", "-c", "true"], cwd=ws)
    out = interleaved_ms(fns, n)

    if "bwrap backend (persistent shell)" in opened:
        argv = bwrap_argv(ws, network=False, readonly_mounts=(), env={"PATH": "/usr/bin:/bin"},
                          limits=BwrapLimits()) + ["bash", "-c", "true"]
        out["bwrap fresh per command"] = median_ms(lambda: subprocess.run(argv), max(n // 4, 10))
    if "docker session container" in opened:
        c = opened["docker session container"].container
        out["docker exec per command"] = median_ms(lambda: c.exec_run(["true"]),
                                                   max(n // 4, 10))
        out["docker run --rm per command"] = median_ms(
            lambda: client.containers.run(image, ["true"], remove=True, network_mode="none"),
            runs, warmup=1)
    for sb in opened.values():
        sb.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="commands per persistent backend")
    ap.add_argument("--runs", type=int, default=15, help="`docker run`s to time")
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = bench(args.n, args.runs, args.image)
    local = res["local backend (persistent shell)"]
    ratios = {}
    if "docker session container" in res:
        d = res["docker session container"]
        ratios["docker session / local backend"] = d / local
        ratios["docker session / local subprocess"] = d / res["local subprocess per command"]
        ratios["docker run / docker session"] = res["docker run --rm per command"] / d
        ratios["docker exec / docker session"] = res["docker exec per command"] / d
    if "bwrap backend (persistent shell)" in res:
        ratios["bwrap backend / local backend"] = res["bwrap backend (persistent shell)"] / local
    if args.json:
        print(json.dumps({"median_ms": res, "ratios": ratios}, indent=2))
        return 0
    print("median round trip of `true`")
    for k, v in res.items():
        print(f"  {k:<36} {v:9.2f} ms")
    print("ratios")
    for k, v in ratios.items():
        print(f"  {k:<36} {v:9.1f}x")
    if "docker session container" in res:
        ok = (ratios["docker session / local backend"] <= 2.0
              and ratios["docker run / docker session"] >= 10.0)
        print(f"target (within 2x of local, >=10x faster than docker run): "
              f"{'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
