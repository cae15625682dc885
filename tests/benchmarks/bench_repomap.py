"""Benchmark: our repo map against aider's RepoMap on a large real repository.

Run explicitly (pytest does not collect it):

    python tests/benchmarks/bench_repomap.py [--workdir /tmp/ama-bench]
        [--sdist Django-5.2.tar.gz | --tree DIR] [--aider-python /tmp/aider-venv/bin/python]
        [--budget 1024] [--repeat 3] [--no-aider]

What it does, in one run:
  1. Gets Django 5.2's sdist from PyPI (`pip download --no-deps --no-binary :all:`)
     unless given one, and copies its Python files (2,818) into two identical trees,
     one for each map, mtimes preserved, each a git work tree with everything staged
     (as the agent's workspace is). Both maps get the same list of files.
  2. Ours, each step in a fresh process: cold (empty cache), warm (disk cache, run
     --repeat times), and one-file update (a function appended to
     django/db/models/query.py): in the same process after a warm map, as a session
     does (--repeat edits, each followed by a map), and in a new process (disk cache).
  3. aider's RepoMap (aider-chat in its own venv; installed there if missing), same
     files, same budget, same chars/4 token estimate, each step in a fresh process:
     cold (no .aider.tags.cache), warm (its disk cache, a new instance; twice), update
     (the same edit, then a refresh in the same instance). aider runs with every
     socket connection to a non-loopback address refused and counted (and proxies
     pointed at a closed loopback port), so it cannot reach the network; the count
     is reported.
  Times are of the map call itself (imports excluded; ours also as the whole process),
  wall clock and CPU (worker processes included), best of the repeats. The machine's
  load average is printed: on a shared machine wall times move with it, CPU times
  much less. Prints a table with the ratios and writes everything as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EDIT_FILE = "django/db/models/query.py"
EDIT = "\n\ndef bench_added_function(queryset):\n    return QuerySet(queryset.model)\n"

# Runs inside aider's venv. Prints one JSON line.
AIDER_RUNNER = r'''
import json, os, socket, sys, time

attempts = []
_connect = socket.socket.connect
def guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family == getattr(socket, "AF_UNIX", None) or host in ("127.0.0.1", "::1", "localhost"):
        return _connect(self, address)
    attempts.append(str(host))
    raise OSError("network disabled by the benchmark")
socket.socket.connect = guarded_connect
_gai = socket.getaddrinfo
def guarded_getaddrinfo(host, *a, **k):
    if host not in (None, "127.0.0.1", "::1", "localhost"):
        attempts.append(str(host))
        raise socket.gaierror("network disabled by the benchmark")
    return _gai(host, *a, **k)
socket.getaddrinfo = guarded_getaddrinfo

mode, root, budget, edit_file, edit = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
from aider.repomap import RepoMap

class Model:  # the same estimate as ours: characters / 4
    def token_count(self, text):
        return len(text) / 4

class IO:
    def read_text(self, fname, silent=False):
        try:
            with open(fname, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeError):
            return None
    def tool_output(self, *a, **k): pass
    def tool_warning(self, *a, **k): pass
    def tool_error(self, *a, **k): pass

with open(sys.argv[6]) as f:  # the same list our map reads (git ls-files)
    files = [os.path.join(root, line.rstrip("\n")) for line in f if line.strip()]

def make():
    return RepoMap(map_tokens=budget, root=root, main_model=Model(), io=IO(),
                   refresh="always")

import resource
def timed():
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    t, c = time.perf_counter(), time.process_time()
    text = rm.get_repo_map([], files)
    kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (kids2.ru_utime + kids2.ru_stime) - (kids.ru_utime + kids.ru_stime)
    return text, time.perf_counter() - t, time.process_time() - c + child

rm = make()
text, seconds, cpu = timed()
if mode == "update":
    with open(os.path.join(root, edit_file), "a") as f:
        f.write(edit)
    text, seconds, cpu = timed()
print(json.dumps({"seconds": seconds, "cpu": cpu, "chars": len(text or ""),
                  "files": len(files), "net_attempts": attempts}))
'''

# Runs in this interpreter, a fresh process per step. Prints one JSON line.
# update: a warm map, then ROUNDS edits of the same file, each followed by a map.
OURS_RUNNER = r'''
import json, resource, sys, time
t_process = time.perf_counter()
sys.path.insert(0, sys.argv[6])
from pathlib import Path
mode, root, cache, budget, edit_file, _, edit, rounds = sys.argv[1:9]
root, cache, budget = Path(root), Path(cache), int(budget)
from tools.repomap.mapper import RepoMapper

def timed(call):
    t, c = time.perf_counter(), time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = call()
    kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (kids2.ru_utime + kids2.ru_stime) - (kids.ru_utime + kids.ru_stime)
    return out, time.perf_counter() - t, time.process_time() - c + child_cpu

mapper = RepoMapper(root, cache_dir=cache)
m, seconds, cpu = timed(lambda: mapper.map(max_tokens=budget))
res = {"seconds": seconds, "cpu": cpu, "chars": len(m.text), "tokens": m.tokens,
       "files": m.stats.files, "parsed": m.stats.parsed, "workers": m.stats.workers}
if mode == "update":
    res["rounds"] = []
    for k in range(int(rounds)):
        with open(root / edit_file, "a") as f:
            f.write(edit.replace("bench_added_function", f"bench_added_function_{k}"))
        m, seconds, cpu = timed(lambda: mapper.map(max_tokens=budget))
        res["rounds"].append({"seconds": seconds, "cpu": cpu, "parsed": m.stats.parsed})
res["process_seconds"] = time.perf_counter() - t_process
print(json.dumps(res))
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ama-bench")
    ap.add_argument("--sdist", type=Path, help="a Django sdist .tar.gz (default: download)")
    ap.add_argument("--tree", type=Path,
                    help="an extracted Django 5.2 source tree (instead of the sdist)")
    ap.add_argument("--aider-python", type=Path, default=Path("/tmp/aider-venv/bin/python"))
    ap.add_argument("--no-aider", action="store_true")
    ap.add_argument("--budget", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each warm/update step")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    source = args.tree or django_tree(work, args.sdist)
    ours_tree, aider_tree = work / "ours" / "tree", work / "aider" / "tree"
    for dst in (ours_tree, aider_tree):
        copy_python_files(source, dst)
        files = git_index(dst)
        (dst.parent / "files.txt").write_text("".join(f + "\n" for f in files))
    n_files = len(files)
    print(f"tree: {source} -> {n_files} Python files (a git work tree, all staged), "
          f"{args.budget}-token map", flush=True)

    results: dict = {"files": n_files, "budget": args.budget, "ours": {}, "aider": {},
                     "loadavg_start": os.getloadavg(), "cpus": os.cpu_count()}
    cache = work / "ours" / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    ours = results["ours"]
    ours["cold"] = run_ours("cold", ours_tree, cache, args.budget)
    ours["warm"] = [run_ours("warm", ours_tree, cache, args.budget) for _ in range(args.repeat)]
    ours["update_in_session"] = run_ours("update", ours_tree, cache, args.budget,
                                         rounds=args.repeat)
    restore(source, ours_tree)
    ours["update_new_process"] = []
    for _ in range(args.repeat):
        run_ours("warm", ours_tree, cache, args.budget)  # in step with the restored file
        append(ours_tree / EDIT_FILE)
        ours["update_new_process"].append(run_ours("warm", ours_tree, cache, args.budget))
        restore(source, ours_tree)
    assert all(r["parsed"] == 0 and r["files"] == n_files for r in ours["warm"])
    assert all(r["parsed"] == 1 for r in ours["update_in_session"]["rounds"])
    assert all(r["parsed"] == 1 for r in ours["update_new_process"])

    if args.no_aider:
        results["aider"] = {"error": "not run (--no-aider)"}
    else:
        results["aider"] = run_aider_all(args, aider_tree, source)

    results["loadavg_end"] = os.getloadavg()
    report(results)
    out = work / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {out}")
    return 0


def django_tree(work: Path, sdist: Path | None) -> Path:
    tree = work / "Django-5.2"
    if tree.is_dir():
        return tree
    if sdist is None:
        dl = work / "dl"
        dl.mkdir(exist_ok=True)
        found = sorted(dl.glob("[Dd]jango-5.2.tar.gz"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--no-binary", ":all:", "django==5.2", "-d", str(dl)], check=True)
            found = sorted(dl.glob("[Dd]jango-5.2.tar.gz"))
        sdist = found[0]
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    return tree


def copy_python_files(src: Path, dst: Path) -> None:
    """A tree of only the .py files of `src`, mtimes kept, nothing else."""
    if dst.exists():
        shutil.rmtree(dst)
    for p in src.rglob("*.py"):
        rel = p.relative_to(src)
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dst / rel)


def git_index(tree: Path) -> list[str]:
    """Make `tree` a git work tree with every file staged (as the agent's workspace
    is), and return the Python files git lists. Hardened: no hooks, no fsmonitor."""
    git = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"]
    subprocess.run(git + ["init", "-q"], cwd=tree, check=True)
    subprocess.run(git + ["add", "-A"], cwd=tree, check=True)
    out = subprocess.run(git + ["ls-files", "-z", "--", "*.py"], cwd=tree, check=True,
                         capture_output=True, text=True).stdout
    return sorted(f for f in out.split("\0") if f)


def append(path: Path) -> None:
    with open(path, "a") as f:
        f.write(EDIT)


def restore(source: Path, tree: Path) -> None:
    shutil.copy2(source / EDIT_FILE, tree / EDIT_FILE)


def run_ours(mode: str, tree: Path, cache: Path, budget: int, rounds: int = 0) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", OURS_RUNNER, mode, str(tree), str(cache),
                           str(budget), EDIT_FILE, str(REPO_ROOT), EDIT, str(rounds)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"our map failed ({mode}):\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_with_interpreter"] = time.perf_counter() - t
    print(f"  ours  {mode:7s} {res['seconds']:7.3f} s  cpu {res['cpu']:6.3f} s  "
          f"(parsed {res['parsed']}, workers {res['workers']}, {res['tokens']} tokens)",
          flush=True)
    for r in res.get("rounds", ()):
        print(f"  ours  edit    {r['seconds']:7.3f} s  cpu {r['cpu']:6.3f} s  "
              f"(parsed {r['parsed']})", flush=True)
    return res


def run_aider_all(args, tree: Path, source: Path) -> dict:
    python = args.aider_python
    if not python.exists():
        venv = python.parent.parent
        print(f"aider venv missing; trying: python -m venv {venv} && pip install aider-chat")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "aider-chat"],
                           check=True)
        except (subprocess.CalledProcessError, OSError) as exc:
            return {"error": f"aider-chat could not be installed here: {exc}"}
    version = subprocess.run([str(python), "-c", "import aider; print(aider.__version__)"],
                             capture_output=True, text=True)
    if version.returncode != 0:
        return {"error": "aider could not be imported: " + version.stderr.strip()[-500:]}
    out: dict = {"version": version.stdout.strip()}
    shutil.rmtree(tree / ".aider.tags.cache.v4", ignore_errors=True)
    shutil.rmtree(tree / ".aider.tags.cache.v3", ignore_errors=True)
    for mode in ("cold", "warm", "warm2", "update"):
        res = run_aider(python, mode.rstrip("2"), tree, args.budget)
        if "error" in res:
            out[mode] = res
            print(f"  aider {mode:7s} FAILED: {res['error'][-300:]}", flush=True)
            continue
        out[mode] = res
        print(f"  aider {mode:7s} {res['seconds']:7.3f} s  cpu {res['cpu']:6.3f} s  "
              f"({res['chars']} chars, "
              f"blocked network attempts: {len(res['net_attempts'])})", flush=True)
    restore(source, tree)
    return out


def run_aider(python: Path, mode: str, tree: Path, budget: int) -> dict:
    # Proxies pointed at a closed loopback port as a second fence around the network.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               NO_PROXY="", AIDER_ANALYTICS="false", HF_HUB_OFFLINE="1")
    proc = subprocess.run([str(python), "-c", AIDER_RUNNER, mode, str(tree), str(budget),
                           EDIT_FILE, EDIT, str(tree.parent / "files.txt")],
                          capture_output=True, text=True, env=env, cwd=tree)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(r: dict) -> None:
    ours, aider = r["ours"], r["aider"]

    def a(*modes: str, key: str = "seconds") -> float | None:
        got = [aider[m][key] for m in modes
               if isinstance(aider.get(m), dict) and key in aider[m]]
        return min(got) if got else None

    def best(runs: list[dict], key: str = "seconds") -> float:
        return min(x[key] for x in runs)

    edits = ours["update_in_session"]["rounds"]
    rows = [
        ("cold (empty cache)", ours["cold"]["seconds"], ours["cold"]["cpu"],
         a("cold"), a("cold", key="cpu"), "aider/ours >= 3"),
        ("warm (new process, disk cache)", best(ours["warm"]), best(ours["warm"], "cpu"),
         a("warm", "warm2"), a("warm", "warm2", key="cpu"), "< 0.5 s"),
        ("  warm, whole process incl. interpreter", best(ours["warm"], "wall_with_interpreter"),
         None, None, None, ""),
        ("one-file update (same process)", best(edits), best(edits, "cpu"),
         a("update"), a("update", key="cpu"), "< 0.2 s"),
        ("one-file update (new process)", best(ours["update_new_process"]),
         best(ours["update_new_process"], "cpu"), None, None, ""),
    ]
    print(f"\n{r['files']} Python files, {r['budget']}-token map; aider "
          f"{aider.get('version', '-')}; {r['cpus']} CPUs, load average "
          f"{r['loadavg_start'][0]:.1f} at start, {r['loadavg_end'][0]:.1f} at end")
    print(f"(ours: best of {len(ours['warm'])} runs for warm and update; "
          f"cpu includes worker processes)")

    def f(v: float | None, w: int = 8) -> str:
        return f"{v:{w - 1}.3f}s" if v is not None else f"{'-':>{w}s}"

    def x(num: float | None, den: float | None) -> str:
        return f"{num / den:7.1f}x" if num and den else f"{'-':>8s}"

    print(f"{'':40s} {'ours':>8s} {'aider':>8s} {'ratio':>8s} {'ours cpu':>9s} "
          f"{'aider cpu':>9s} {'ratio':>8s}  target")
    for name, o, ocpu, ad, adcpu, target in rows:
        print(f"{name:40s} {f(o)} {f(ad)} {x(ad, o)} {f(ocpu, 9)} {f(adcpu, 9)} "
              f"{x(adcpu, ocpu)}  {target}")
    if "error" in aider:
        print(f"aider: {aider['error']}")
    attempts = sorted({h for m in ("cold", "warm", "warm2", "update")
                       for h in (aider.get(m) or {}).get("net_attempts", [])})
    if attempts:
        print(f"aider tried to reach (blocked): {', '.join(attempts)}")
    elif "error" not in aider:
        print("aider made no network connection attempts (any would have been refused)")


if __name__ == "__main__":
    raise SystemExit(main())
