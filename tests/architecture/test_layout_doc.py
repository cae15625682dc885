"""The README's Layout section and `ama --help` describe the tree as it is."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Layout"):]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_every_folder_the_layout_names_exists_and_every_package_is_named():
    named: set[str] = set()
    parent = ""
    for line in layout_block().splitlines():
        m = re.match(r"^( *)([a-z_]+)/\s", line)
        if not m:
            continue
        if not m.group(1):
            parent = m.group(2)
            named.add(parent)
        else:
            named.add(f"{parent}/{m.group(2)}")
    assert {n for n in named if not (ROOT / n).is_dir()} == set()
    packages = {f"agent/{p.parent.name}" for p in (ROOT / "agent").glob("*/__init__.py")}
    assert packages - named == set()


def test_help_lists_every_subcommand():
    from agent.cli.main import SUBCOMMANDS, app
    out = subprocess.run([sys.executable, "-m", "agent", "--help"], capture_output=True,
                         text=True, timeout=60).stdout
    registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert registered == set(SUBCOMMANDS)
    for name, line in SUBCOMMANDS.items():
        assert re.search(rf"^\s+{name}\s+{re.escape(line)}$", out, re.M), name
