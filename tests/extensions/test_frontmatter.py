"""Front matter as Claude Code's command, skill and agent files write it."""
import pytest

from agent.extensions.frontmatter import FrontMatterError, list_field, split


def test_yaml_front_matter_and_body():
    fields, body = split("---\nname: pdf\ndescription: \"Read PDFs: text, forms\"\nmetadata:\n"
                         "  version: 2\n---\nUse pdftotext.\n")
    assert fields == {"name": "pdf", "description": "Read PDFs: text, forms",
                      "metadata": {"version": 2}}
    assert body == "Use pdftotext.\n"


def test_lines_yaml_refuses_are_read_as_written():
    # `argument-hint: [a] [b]` is not YAML; Claude Code's own examples write it.
    fields, body = split("---\nargument-hint: [pr-number] [priority]\n"
                         "allowed-tools: Bash(git add:*), Bash(git status:*)\n---\nBody")
    assert fields["argument-hint"] == "[pr-number] [priority]" and body == "Body"
    assert list_field(fields, "allowed-tools") == ("Bash(git add:*)", "Bash(git status:*)")


def test_values_yaml_would_retype_stay_text():
    fields, _ = split("---\nargument-hint: [issue]\nmodel: 42\n---\n")
    assert fields == {"argument-hint": "[issue]", "model": "42"}


def test_no_front_matter_and_a_list_field_from_yaml():
    assert split("just a body\n---\n") == ({}, "just a body\n---\n")
    fields, _ = split("---\ntools: [read_file, grep]\n---\n")
    assert list_field(fields, "tools") == ("read_file", "grep")


def test_front_matter_that_is_not_a_mapping_is_an_error():
    with pytest.raises(FrontMatterError, match="not a list of `key: value` lines"):
        split("---\n- a\n- b\n---\nbody")
