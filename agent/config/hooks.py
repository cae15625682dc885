"""The hooks a session runs, from the merged config's `[[hooks.EVENT]]` tables.

The loader has checked each table's fields (agent/config/schema.py HOOK_FIELDS); this
turns them into `HookSpec`s, in order (the user's hooks first, then a trusted
repository's), and refuses a command that would run a file of the repository by a
relative path: hooks run in the scratch copy the model writes, so `.ama/hooks/check.sh`
there could be the model's version. `"$AMA_PROJECT_DIR"/.ama/hooks/check.sh` is the
repository's own, the one trust covers.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from agent.config.load import Config
from agent.core.errors import BadInput
from agent.core.hooks import EVENTS, HookSpec
from agent.core.shellsplit import split_compound

# Programs that run the file named by their first argument.
_INTERPRETERS = {"bash", "sh", "zsh", "dash", "python", "python3", "node", "ruby", "perl",
                 "deno", "bun", "source", "."}


def hook_specs(cfg: Config, root: Path) -> tuple[HookSpec, ...]:
    """Every configured hook, in order. BadInput names the one that cannot run."""
    specs = []
    for event in EVENTS:
        name = f"hooks.{event}"
        for i, table in enumerate(cfg.get(name) or (), 1):
            where = f"{name}[{i}] ({cfg.source(name)})"
            try:
                spec = HookSpec(event, table["command"], table["matcher"],
                                float(table["timeout"]), table["on_failure"])
            except ValueError as e:
                raise BadInput(f"{where}: {e}") from None
            script = repo_file_run_relatively(spec.command, root)
            if script is not None:
                raise BadInput(f"{where}: `{spec.command}` runs {script} by a relative path, "
                               f"which hooks resolve in the scratch copy the model can change; "
                               f"write \"$AMA_PROJECT_DIR\"/{script} to run your repository's own")
            specs.append(spec)
    return tuple(specs)


def repo_file_run_relatively(command: str, root: Path) -> str | None:
    """The file of `root` that `command` runs by a relative path (as the program, or as
    an interpreter's script), or None."""
    for part in split_compound(command):
        try:
            words = shlex.split(part)
        except ValueError:   # unbalanced quotes: bash will say so when it runs
            continue
        while words and "=" in words[0] and not words[0].startswith("="):
            words.pop(0)     # VAR=value prefixes
        if not words:
            continue
        ran = [words[0]]
        if words[0].rsplit("/", 1)[-1] in _INTERPRETERS:
            ran += [w for w in words[1:] if not w.startswith("-")][:1]
        for word in ran:
            if word.startswith(("/", "$", "~")) or not word:
                continue
            try:
                if (Path(root) / word).is_file():
                    return os.path.normpath(word)
            except (OSError, ValueError):
                continue
    return None
