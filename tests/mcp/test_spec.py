"""Naming, filtering, the mutating rule, the params model and result rendering: no server."""
from __future__ import annotations

import base64
import re
import subprocess
import sys

import mcp.types as types
import pytest
from pydantic import ValidationError

from tools.base import tool_spec
from tools.mcp.spec import ServerSpec, tool_name
from tools.mcp.tool import McpTool, params_model, render_result


def remote(name="t", read_only=None, schema=None):
    annotations = None if read_only is None else types.ToolAnnotations(read_only_hint=read_only)
    return types.Tool(name=name, description="d", annotations=annotations,
                      input_schema=schema or {"type": "object"})


def test_tool_names_are_sanitised():
    assert tool_name("github", "create_issue") == "mcp__github__create_issue"
    assert tool_name("my server", "a.b/c") == "mcp__my_server__a_b_c"
    assert tool_name("db-1", "query-2") == "mcp__db-1__query-2"


def test_long_names_are_cut_to_64_with_a_hash():
    long_a, long_b = "x" * 80 + "a", "x" * 80 + "b"
    a, b = tool_name("srv", long_a), tool_name("srv", long_b)
    assert len(a) == len(b) == 64 and a != b
    assert re.fullmatch(r"mcp__srv__x+_[0-9a-f]{8}", a)
    assert tool_name("srv", long_a) == a                       # stable
    assert tool_name("s", "y" * 56) == "mcp__s__" + "y" * 56  # 64: kept whole
    assert tool_name("s", "y" * 57)[:55] == "mcp__s__" + "y" * 47 and len(tool_name("s", "y" * 57)) == 64


def test_enabled_and_disabled_tools():
    spec = ServerSpec("s", command="x", enabled_tools=("a", "b"), disabled_tools=("b",))
    assert [t for t in "abc" if spec.offers(t)] == ["a"]
    assert ServerSpec("s").offers("anything")


@pytest.mark.parametrize("trusted, read_only, mutating", [
    (True, True, False), (True, False, True), (True, None, True),
    (False, True, True), (False, None, True)])
def test_mutating_unless_trusted_and_read_only(trusted, read_only, mutating):
    tool = McpTool("mcp__s__t", ServerSpec("s", trusted=trusted), remote(read_only=read_only), None)
    assert tool.is_mutating(tool.params.model_validate({})) is mutating


def test_the_server_schema_reaches_the_model_and_arguments_pass_through():
    schema = {"type": "object", "properties": {"model_config": {"type": "string"},
                                               "n": {"type": "integer"}},
              "required": ["model_config"], "additionalProperties": False}
    tool = McpTool("mcp__s__t", ServerSpec("s"), remote(schema=schema), None)
    assert tool_spec(tool).parameters == schema
    args = tool.params.model_validate({"model_config": "v", "n": 3, "extra": [1]})
    assert args.arguments() == {"model_config": "v", "n": 3, "extra": [1]}
    with pytest.raises(ValidationError):
        tool.params.model_validate({"n": 3})                  # a required property missing
    assert params_model("x", {}).model_json_schema() == {}


def test_every_kind_of_content_renders_as_text():
    png = base64.b64encode(b"\0" * 10).decode()
    result = types.CallToolResult(content=[
        types.TextContent(type="text", text="hello"),
        types.ImageContent(type="image", data=png, mime_type="image/png"),
        types.AudioContent(type="audio", data=png, mime_type="audio/wav"),
        types.ResourceLink(type="resource_link", name="r", uri="file:///r", description="about r"),
        types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
            uri="file:///t", text="inner")),
        types.EmbeddedResource(type="resource", resource=types.BlobResourceContents(
            uri="file:///b", mime_type="application/zip", blob=png))],
        structured_content={"k": [1, 2]})
    assert render_result(result).split("\n") == [
        "hello", "[image: image/png, 10 bytes]", "[audio: audio/wav, 10 bytes]",
        "[resource link: r <file:///r>: about r]", "[resource <file:///t>]", "inner",
        "[resource <file:///b>: application/zip, 10 bytes]", "{", '  "k": [', "    1,", "    2",
        "  ]", "}"]


def test_structured_content_already_in_the_text_is_not_repeated():
    same = types.CallToolResult(content=[types.TextContent(type="text", text='{"a": 1}')],
                                structured_content={"a": 1})
    wrapped = types.CallToolResult(content=[types.TextContent(type="text", text="7")],
                                   structured_content={"result": 7})
    assert render_result(same) == '{"a": 1}' and render_result(wrapped) == "7"


def test_the_sdk_is_not_imported_until_a_server_starts():
    code = ("import sys, tools.mcp.hub, tools.mcp.spec, tools.mcp.tool, tools.registry; "
            "print(any(m == 'mcp' or m.startswith('mcp.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
