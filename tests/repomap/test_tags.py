"""Tags per language, from real tree-sitter grammars on the fixture files."""
from __future__ import annotations

from pathlib import Path

import pytest

from tools.repomap.languages import EXTENSIONS, QUERIES, language_for, load
from tools.repomap.tags import extract, lines_of, pack

FIXTURES = Path(__file__).parent / "fixtures"

# fixture -> (definitions (name, line, kind) that must be found,
#             references (name, line) that must be found,
#             names that must NOT be definitions)
EXPECTED = {
    "sample.py": (
        [("ORIGIN", 3, "constant"), ("Circle", 6, "class"), ("__init__", 9, "method"),
         ("area", 13, "method"), ("compute_area", 17, "function"), ("make", 21, "function")],
        [("Shape", 1), ("Shape", 6), ("Color", 1), ("compute_area", 14), ("Radius", 17),
         ("Circle", 22), ("scale", 22), ("property", 12)],
        ["radius", "Paint"],
    ),
    "sample.js": (
        [("ORIGIN", 3, "constant"), ("Circle", 5, "class"), ("area", 11, "method"),
         ("computeArea", 16, "function"), ("makeCircle", 20, "function"),
         ("describe", 22, "function")],
        [("Shape", 1), ("Shape", 5), ("computeArea", 12), ("Circle", 20), ("makeCircle", 23)],
        ["radius", "r"],
    ),
    "sample.ts": (
        [("Measurable", 3, "interface"), ("area", 4, "method"), ("Radius", 7, "type"),
         ("Unit", 9, "enum"), ("Circle", 14, "class"), ("area", 19, "method"),
         ("computeArea", 24, "function"), ("makeCircle", 28, "function")],
        [("Shape", 14), ("Measurable", 14), ("Radius", 24), ("computeArea", 20), ("Circle", 28)],
        ["r"],
    ),
    "sample.tsx": (
        [("Props", 3, "interface"), ("CircleView", 7, "function"), ("formatArea", 12, "function")],
        [("Circle", 8), ("Props", 7), ("formatArea", 9)],
        ["c"],
    ),
    "sample.go": (
        [("Pi2", 5, "constant"), ("DefaultRadius", 7, "variable"), ("Shape", 9, "type"),
         ("Area", 10, "method"), ("Circle", 13, "type"), ("Area", 17, "method"),
         ("computeArea", 21, "function"), ("NewCircle", 25, "function"),
         ("Total", 29, "function")],
        [("computeArea", 18), ("Circle", 26), ("Shape", 29), ("Area", 32)],
        ["t", "s"],
    ),
    "sample.rs": (
        [("PI2", 3, "constant"), ("Shape", 5, "interface"), ("Circle", 9, "class"),
         ("Unit", 13, "class"), ("Circle", 18, "impl"), ("area", 19, "method"),
         ("compute_area", 24, "function"), ("make_circle", 28, "function"),
         ("square", 34, "macro"), ("util", 40, "module"), ("helper", 41, "function")],
        [("compute_area", 20), ("Circle", 28), ("Circle", 29), ("Shape", 18), ("Unit", 41)],
        ["c", "r"],
    ),
    "Sample.java": (
        [("Circle", 5, "class"), ("Circle", 8, "method"), ("area", 13, "method"),
         ("computeArea", 17, "method"), ("total", 21, "method"),
         ("Measurable", 27, "interface"), ("area", 28, "method"), ("Unit", 31, "enum")],
        [("Shape", 5), ("Measurable", 5), ("computeArea", 14), ("Circle", 22), ("area", 23)],
        ["radius", "probe"],
    ),
    "sample.c": (
        [("PI2", 4, "macro"), ("SQUARE", 5, "macro"), ("circle", 7, "class"),
         ("circle_t", 11, "type"), ("unit", 13, "type"), ("UNIT_CM", 13, "constant"),
         ("compute_area", 15, "function"), ("circle_area", 19, "function"),
         ("circle_new", 23, "function"), ("main", 25, "function")],
        [("compute_area", 20), ("SQUARE", 16), ("circle_new", 26), ("circle_area", 27),
         ("circle_t", 19)],
        ["radius", "c"],
    ),
    "sample.cpp": (
        [("shapes", 4, "module"), ("Shape", 6, "class"), ("area", 8, "method"),
         ("Circle", 12, "class"), ("area", 15, "method"), ("scale", 16, "method"),
         ("scale", 22, "method"), ("computeArea", 26, "function"), ("ShapeList", 30, "type"),
         ("total", 32, "function")],
        [("Shape", 12), ("computeArea", 15), ("ShapeList", 32), ("area", 34)],
        ["radius_", "t"],
    ),
    "sample.rb": (
        [("Shapes", 3, "module"), ("ORIGIN", 4, "constant"), ("Circle", 6, "class"),
         ("initialize", 9, "method"), ("area", 13, "method"), ("unit", 17, "method"),
         ("compute_area", 23, "method")],
        [("Shape", 6), ("compute_area", 14), ("Circle", 18), ("Comparable", 7)],
        ["radius", "r"],
    ),
}


def test_every_required_language_has_a_fixture_and_a_query():
    langs = {language_for(name) for name in EXPECTED}
    assert {"python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp",
            "ruby"} <= langs
    assert set(QUERIES) <= set(EXTENSIONS.values())
    for lang in QUERIES:
        load(lang)  # the query compiles against the real grammar


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_tags_per_language(fixture):
    source = (FIXTURES / fixture).read_bytes()
    tags = extract(source, language_for(fixture))
    defs = tags[0]
    want_defs, want_refs, not_defs = EXPECTED[fixture]
    got_defs = {(d[0], d[1], d[2]) for d in defs}
    for want in want_defs:
        assert want in got_defs, f"{fixture}: missing definition {want}; got {sorted(got_defs)}"
    for name, line in want_refs:
        assert line in lines_of(tags, name), f"{fixture}: missing reference {name}@{line}"
    names = {d[0] for d in defs}
    for name in not_defs:
        assert name not in names, f"{fixture}: {name} is not a definition"


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_def_text_is_its_source_line_and_sorted(fixture):
    lines = (FIXTURES / fixture).read_text().splitlines()
    defs = extract((FIXTURES / fixture).read_bytes(), language_for(fixture))[0]
    assert [d[1] for d in defs] == sorted(d[1] for d in defs)
    for name, line, _kind, text, parent in defs:
        assert text == lines[line - 1].rstrip()
        assert name in text
        assert parent < len(defs)


def test_methods_link_to_their_class():
    defs = extract((FIXTURES / "sample.py").read_bytes(), "python")[0]
    by_name = {d[0]: d for d in defs}
    parent = defs[by_name["area"][4]]
    assert parent[0] == "Circle" and parent[2] == "class"
    assert by_name["compute_area"][4] == -1


def test_a_definition_is_not_also_a_use_of_itself():
    # `(type_identifier) @name.reference.type` matches the name in `class Circle`
    tags = extract((FIXTURES / "sample.ts").read_bytes(), "typescript")
    assert 14 not in lines_of(tags, "Circle")  # the class line itself
    assert lines_of(tags, "Circle") == (28,)
    assert tags[1]["Circle"] == 1


def test_binary_and_broken_sources():
    assert extract(b"\x00\x01\x02 def f(): pass", "python") == ((), {}, b"")
    defs = extract(b"def ok():\n    pass\n\ndef broken(:\n", "python")[0]
    assert "ok" in {d[0] for d in defs}  # tree-sitter recovers around the error
    defs = extract("def naïve_ünïcode():\n    pass\n".encode(), "python")[0]
    assert defs[0][0] == "naïve_ünïcode"


def test_packed_lines_round_trip():
    tags = pack((), {"b": [9, 3, 3], "a": [7], "c": [], "d": [1, 2, 300000]})
    assert tags[1] == {"a": 1, "b": 2, "d": 3}
    assert lines_of(tags, "a") == (7,)
    assert lines_of(tags, "b") == (3, 9)
    assert lines_of(tags, "d") == (1, 2, 300000)
    assert lines_of(tags, "c") == () and lines_of(tags, "zz") == ()
