"""Which repositories the user trusts, bound to the content of the files that can steer us.

A repo's own files can ask for things: `.ama/config.toml` (a model or base URL, hooks,
verify commands), AGENTS.md / CLAUDE.md (instructions to run commands), `.mcp.json`
(servers to start). Until the user trusts the repo those are ignored — the project
config is not read, memory files are shown to the model as untrusted notes — and trust
is recorded with the SHA-256 of each such file: a new or changed file asks again. A
hook's command is in `.ama/config.toml`; a script it runs from the repository
(`"$AMA_PROJECT_DIR"/scripts/check.sh`) is covered too, wherever it lives.

The store is `AMA_HOME/trust.json`, the user's own (a repo cannot write it):

    {"repos": {"/abs/root": {"files": {"AGENTS.md": "<sha256>", ...}, "granted": 1700000000.0,
                              "allow": ["shell(npm test*)"]}}}

`allow` holds rules saved by "always allow" in the REPL for that repo.

API: `check_trust(root, cwd)` -> TrustCheck; `grant_trust`, `revoke_trust`;
`ask_trust(root, cwd, ask)` for the REPL (calls `ask(check)` only when needed);
`always_allow` (with `saved_rules` / `save_rule`) for "always allow".
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agent.config.home import ama_home, unwritable

MEMORY_NAMES = ("AGENTS.md", "CLAUDE.md")   # instruction files (agent/session/memory.py)
# Folders of commands, skills and agent definitions (agent/extensions/places.py), most
# specific first; trust covers them all (and `.ama/` whole).
EXTENSION_DIRS = {"commands": (".ama/commands", ".claude/commands"),
                  "skills": (".agents/skills", ".claude/skills"),
                  "agents": (".ama/agents", ".claude/agents")}

STORE = "trust.json"
_SKIP_DIRS = {"cache", "sessions", "tmp"}       # under .ama/: data we write, not instructions
_MAX_FILES = 200
# A repository file a hook command names: "$AMA_PROJECT_DIR"/x, ${CLAUDE_PROJECT_DIR}/x, …
_HOOK_FILE = re.compile(r"""\$\{?(?:AMA|CLAUDE)_PROJECT_DIR\}?"?/([^\s"';&|<>()]+)""")


@dataclass(frozen=True)
class TrustCheck:
    """The trust state of one repo as seen from `cwd`.

    files:   trust-relevant files present now, relative path -> sha256.
    changed: those not covered by the recorded trust (new, or different content).
    trusted: nothing to review (no such files, or all recorded as trusted).
    before:  the repo was trusted once (so `changed` is what changed since).
    """
    root: Path
    files: dict[str, str]
    changed: tuple[str, ...]
    before: bool

    @property
    def trusted(self) -> bool:
        return not self.changed

    def describe(self) -> str:
        """One paragraph for a trust prompt."""
        what = ", ".join(self.changed)
        if self.before:
            return (f"{self.root}: these files changed since you trusted this repository: {what}. "
                    f"Trust the new versions?")
        return (f"{self.root} has files that can steer ama ({what}): project config, "
                f"instructions, hooks or servers. They are ignored until you trust this "
                f"repository. Trust it?")


def project_root(cwd: Path) -> Path:
    """The repository root of `cwd` (its git top level), else `cwd` itself."""
    from tools.workspace.git import repo_top
    cwd = Path(cwd).resolve()
    return Path(repo_top(cwd) or cwd).resolve()


def trust_files(root: Path, cwd: Path | None = None) -> dict[str, str]:
    """Relative path -> sha256 of every file that trust covers, from `root` down to `cwd`."""
    root = Path(root).resolve()
    cwd = Path(cwd or root).resolve()
    found: list[Path] = []
    others = sorted({d for dirs in EXTENSION_DIRS.values() for d in dirs
                     if not d.startswith(".ama/")})
    for top in (root / ".ama", *(root / d for d in others)):
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            found += [Path(dirpath) / f for f in sorted(filenames)]
            if len(found) > _MAX_FILES:
                break
    chain = [cwd, *cwd.parents]
    dirs = reversed(chain[: chain.index(root) + 1]) if root in chain else [root]
    for d in dirs:
        found += [d / n for n in MEMORY_NAMES if (d / n).is_file()]
    if (root / ".mcp.json").is_file():
        found.append(root / ".mcp.json")
    found += [f for f in _hook_files(root) if f not in found]
    out = {}
    for f in found[:_MAX_FILES]:
        try:
            out[f.relative_to(root).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
        except OSError:  # unreadable: it cannot be trusted, and cannot be read either
            continue
    return out


def _hook_files(root: Path) -> list[Path]:
    """Files of `root` that the hooks in its `.ama/config.toml` run by
    $AMA_PROJECT_DIR / $CLAUDE_PROJECT_DIR (a config that does not parse names none:
    loading it fails anyway)."""
    import tomllib
    try:
        data = tomllib.loads((root / ".ama" / "config.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    hooks = data.get("hooks")
    tables = [t for v in (hooks.values() if isinstance(hooks, dict) else ())
              if isinstance(v, list) for t in v if isinstance(t, dict)]
    out = []
    for command in (t["command"] for t in tables if isinstance(t.get("command"), str)):
        for rel in _HOOK_FILE.findall(command):
            path = (root / rel).resolve()
            if root in path.parents and path.is_file() and path not in out:
                out.append(path)
    return out


def check_trust(root: Path, cwd: Path | None = None) -> TrustCheck:
    root = Path(root).resolve()
    entry = _load().get(str(root))
    files = trust_files(root, cwd)
    recorded = (entry or {}).get("files", {})
    changed = tuple(p for p, h in files.items() if recorded.get(p) != h)
    return TrustCheck(root, files, changed, before=entry is not None and "granted" in entry)


def grant_trust(root: Path, cwd: Path | None = None) -> TrustCheck:
    """Trust the repo's files as they are now (adding to what was trusted before)."""
    root = Path(root).resolve()
    files = trust_files(root, cwd)
    store = _load()
    entry = store.setdefault(str(root), {})
    entry["files"] = {**entry.get("files", {}), **files}
    entry["granted"] = time.time()
    _save(store)
    return check_trust(root, cwd)


def revoke_trust(root: Path) -> None:
    store = _load()
    entry = store.get(str(Path(root).resolve()))
    if entry is not None:
        entry.pop("files", None)
        entry.pop("granted", None)
        _save(store)


def ask_trust(root: Path, cwd: Path | None, ask: Callable[[TrustCheck], bool]) -> bool:
    """For the REPL: True when the repo is trusted, asking `ask(check)` (the UI's yes/no
    prompt, shown `check.describe()`) only when there is something new to trust."""
    check = check_trust(root, cwd)
    if check.trusted:
        return True
    if ask(check):
        grant_trust(root, cwd)
        return True
    return False


# ---- rules saved by "always allow" --------------------------------------------------

def saved_rules(root: Path) -> list[str]:
    """Allow rules the user saved for this repo (their own decision: no trust needed)."""
    return list(_load().get(str(Path(root).resolve()), {}).get("allow", []))


def save_rule(root: Path, rule: str) -> None:
    from agent.core.permissions import Rule
    Rule.parse(rule)  # refuse to store what could not be read back
    store = _load()
    entry = store.setdefault(str(Path(root).resolve()), {})
    if rule not in entry.setdefault("allow", []):
        entry["allow"].append(rule)
        _save(store)


def always_allow(permissions, root: Path, tool: str, args) -> list[str]:
    """The REPL's "always allow" answer: generalise the call into rules, grant them in
    this session (`permissions.granted`) and save them for the repo. Returns the rules."""
    from agent.core.permissions import Rule, generalise
    rules = generalise(tool, args)
    for rule in rules:
        permissions.granted.append(Rule.parse(rule))
        save_rule(root, rule)
    return rules


# ---- the store ---------------------------------------------------------------------

def _load() -> dict:
    path = ama_home() / STORE
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("repos", {})
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError):
        # A damaged store trusts nothing; it is rewritten on the next grant.
        return {}


def _save(repos: dict) -> None:
    from tools.workspace.atomic_files import FileWrite, write_atomically
    path = ama_home() / STORE
    data = json.dumps({"repos": repos}, indent=1, sort_keys=True).encode("utf-8")
    try:   # atomic: a crash leaves the old store or the new, never half
        write_atomically(path.parent, [FileWrite(path.name, data)])
    except OSError as e:
        raise unwritable(path, e) from None
