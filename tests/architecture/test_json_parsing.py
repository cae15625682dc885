"""Every parse of untrusted JSON text in agent/ and tools/ goes through tools/json_safe.py.

The scan finds each way the standard library (or a third-party parser) reads JSON text —
`json.loads`, `json.load`, a `JSONDecoder`, `from json import loads`, pydantic's
`*_validate_json`, orjson/ujson/simplejson — and allows it only in the files below, each
reading text that ama itself wrote or ships. (local_model/ has a tool-call parser of its
own, bounded there.)
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("agent", "tools")

TRUSTED = {
    "tools/json_safe.py": "the bounded parser itself",
    "agent/session/log.py": "session logs: written by ama, one event a line",
    "agent/repl/review.py": "session logs (their first events): written by ama",
    "agent/config/trust.py": "the trust store in AMA_HOME: written by ama; a damaged one trusts nothing",
    "agent/schemas/__init__.py": "the result schema shipped in the package",
    "agent/models/pricing.py": "prices.json shipped in the package",
    "agent/models/presets.py": "presets.json shipped in the package",
    "tools/repomap/languages.py": "common_names.json shipped in the package",
}
_PARSERS = {"loads", "load", "JSONDecoder", "raw_decode"}
_OTHER_LIBS = {"orjson", "ujson", "simplejson", "rapidjson"}


def json_parses(tree: ast.AST) -> list[int]:
    """Lines where `tree` parses JSON text (or imports something that does)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "json" and node.attr in _PARSERS:
                lines.append(node.lineno)
        if isinstance(node, ast.Attribute) and node.attr.endswith("validate_json"):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module in {"json", "json.decoder"}:
            if any(a.name in _PARSERS | {"scanner"} for a in node.names):
                lines.append(node.lineno)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(n.split(".")[0] in _OTHER_LIBS for n in names):
                lines.append(node.lineno)
    return lines


def scan() -> dict[str, list[int]]:
    found = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = json_parses(ast.parse(path.read_text(encoding="utf-8"), rel))
            if lines:
                found[rel] = lines
    return found


def test_untrusted_json_is_parsed_only_by_json_safe():
    untrusted = {f: lines for f, lines in scan().items() if f not in TRUSTED}
    assert not untrusted, ("JSON parsed outside tools/json_safe.py (use json_safe.loads, or add "
                           f"the file to TRUSTED with its reason): {untrusted}")


def test_the_trusted_list_names_only_files_that_parse_json():
    found = scan()
    assert not [f for f in TRUSTED if f not in found], "stale entries in TRUSTED"


def test_the_scan_sees_every_form():
    code = ("import json\nfrom json import loads\nimport orjson\nx = json.loads(s)\n"
            "y = json.JSONDecoder().raw_decode(s)\nz = M.model_validate_json(s)\nw = json.dumps(x)\n")
    assert sorted(json_parses(ast.parse(code))) == [2, 3, 4, 5, 6]


def test_the_parsers_of_model_output_use_it():
    for rel in ("agent/models/tool_args.py", "agent/models/text_tool_calls.py", "agent/models/script.py"):
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                 and isinstance(n.value, ast.Name) and n.value.id == "json_safe" and n.attr == "loads"]
        assert calls, f"{rel} no longer parses with json_safe.loads"
