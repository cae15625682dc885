"""Project memory: AGENTS.md files from the repo root down to the working directory.

CLAUDE.md is the fallback in a directory that has no AGENTS.md. Nearest comes last,
so the most specific instructions are read last. Until the repository is trusted they
reach the model only as untrusted notes (`memory_for`). `init_instruction` asks the
model to write a first AGENTS.md (`ama init`, `/init`).
"""
from __future__ import annotations

from pathlib import Path

from agent.config.trust import MEMORY_NAMES as NAMES

MAX_CHARS = 20_000
INIT_TARGET = "AGENTS.md"
MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg", "requirements.txt", "package.json",
             "Cargo.toml", "go.mod", "pom.xml", "build.gradle", "Gemfile", "Makefile",
             "CMakeLists.txt", "tox.ini", "noxfile.py", "justfile", ".pre-commit-config.yaml",
             ".github/workflows", ".gitlab-ci.yml", "Dockerfile")


def find_memory(root: Path, cwd: Path) -> list[dict[str, str]]:
    """[{path, text}] from `root` down to `cwd` (both inclusive), root first."""
    root, cwd = root.resolve(), cwd.resolve()
    chain = [cwd, *cwd.parents]
    dirs = list(reversed(chain[: chain.index(root) + 1])) if root in chain else [root]
    found = []
    for d in dirs:
        for name in NAMES:
            f = d / name
            if f.is_file():
                text = f.read_text(encoding="utf-8", errors="replace")[:MAX_CHARS]
                found.append({"path": f.relative_to(root).as_posix(), "text": text.strip()})
                break
    return found


def memory_for(user_root: Path, cwd: Path, trusted: bool) -> list[dict[str, str]]:
    """AGENTS.md / CLAUDE.md for the system prompt. Until the repo is trusted they are
    wrapped as untrusted notes: the model may read what they say about the project but
    is told not to run the commands they ask for (prompts/untrusted_memory.md)."""
    items = find_memory(user_root, cwd)
    if trusted:
        return items
    from prompts import render
    return [{"path": f"{i['path']} (untrusted)",
             "text": render("untrusted_memory.md", text=i["text"]).strip()} for i in items]


def init_instruction(root: Path) -> str:
    """The instruction that asks the model to write AGENTS.md for the repo at `root`."""
    from prompts import render
    root = Path(root)
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir()
                     if p.name not in (".git", ".ama") and not p.name.startswith(".ama-"))
    existing = root / INIT_TARGET
    return render("init_agents.md", entries=entries[:60],
                  manifests=[m for m in MANIFESTS if (root / m).exists()],
                  existing=existing.read_text(encoding="utf-8", errors="replace")[:20_000]
                  if existing.is_file() else "")
