"""Tool results' images on each provider's wire, through the real SDKs and scripted
servers: in the tool_result (Anthropic), in a user message after the tool messages
(OpenAI Chat Completions), as the text's note only (text-only models, openai-compat)."""
from __future__ import annotations

import base64
import json
import threading

import pytest

from agent.core.loop import Agent
from agent.core.permissions import Permissions
from agent.core.types import ImageData, Message, ModelSettings, ToolCall
from agent.models.images import MAX_IMAGES
from agent.models.registry import resolve_model
from tests.mcp.conftest import stdio_spec
from tests.models.helpers import FAST, collect
from tests.models.wire_servers import Reply, anthropic_turn, openai_turn
from tools.base import ToolContext
from tools.mcp.hub import McpHub

SETTINGS = ModelSettings(max_tokens=500)


def png(fill: int) -> ImageData:
    return ImageData("image/png", base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes([fill]) * 8).decode())


SHOT = png(1)
SVG = ImageData("image/svg+xml", base64.b64encode(b"<svg/>").decode())   # no API takes it
NOTE = "a screenshot\n[image: image/png, 16 bytes]\n[image: image/svg+xml, 6 bytes]"


def history(*images_per_result: tuple[ImageData, ...]) -> list[Message]:
    """A conversation whose assistant turns each made one call, answered with `images`."""
    msgs = [Message("system", "sys"), Message("user", "look")]
    for n, images in enumerate(images_per_result, 1):
        msgs += [Message("assistant", "", tool_calls=(ToolCall(f"c{n}", "shoot", {}),)),
                 Message("tool", NOTE, tool_call_id=f"c{n}", name="shoot", images=images)]
    return msgs


def anthropic(server):
    return resolve_model("anthropic:claude-haiku-4-5", {**FAST, "base_url": server.url})


def openai(server, name="gpt-5", **options):
    return resolve_model(f"openai:{name}", {**FAST, "base_url": server.url + "/v1", **options})


def sent(model, server, messages):
    collect(model.stream(messages, [], SETTINGS))
    return server.requests[-1].json["messages"]


def test_anthropic_tool_result_carries_its_images_after_the_text(serve):
    server = serve([Reply(frames=anthropic_turn(text=["ok"]))])
    wire = sent(anthropic(server), server, history((SHOT, SVG)))
    assert wire[-1] == {"role": "user", "content": [{
        "type": "tool_result", "tool_use_id": "c1", "cache_control": {"type": "ephemeral"},
        "content": [{"type": "text", "text": NOTE},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": SHOT.data}}]}]}


def test_anthropic_tool_result_without_images_stays_a_string(serve):
    server = serve([Reply(frames=anthropic_turn(text=["ok"]))])
    wire = sent(anthropic(server), server, history((SVG,)))
    assert wire[-1]["content"][0]["content"] == NOTE


def test_openai_images_follow_the_tool_messages_in_a_user_message(serve):
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    msgs = [Message("user", "look"),
            Message("assistant", "", tool_calls=(ToolCall("c1", "shoot", {}), ToolCall("c2", "read", {}))),
            Message("tool", NOTE, tool_call_id="c1", name="shoot", images=(SHOT, SVG)),
            Message("tool", "text", tool_call_id="c2", name="read"),
            Message("user", "and now?")]
    wire = sent(openai(server), server, msgs)
    assert wire[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": NOTE},
        {"role": "tool", "tool_call_id": "c2", "content": "text"},
        {"role": "user", "content": [
            {"type": "text", "text": "The images shoot returned (call c1), in the order of its notes:"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{SHOT.data}"}}]},
        {"role": "user", "content": "and now?"}]


@pytest.mark.parametrize("name, options", [("gpt-3.5-turbo", {}), ("o3-mini", {}), ("gpt-4", {}),
                                           ("ft:gpt-3.5-turbo:acme::x1", {}),
                                           ("gpt-5", {"images": False})])
def test_text_only_openai_models_get_the_text_alone(serve, name, options):
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    wire = sent(openai(server, name, **options), server, history((SHOT,)))
    assert wire[-1] == {"role": "tool", "tool_call_id": "c1", "content": NOTE}


def test_an_option_says_a_model_takes_images(serve):
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    wire = sent(openai(server, "o3-mini", images=True), server, history((SHOT,)))
    assert wire[-1]["content"][1] == {"type": "image_url",
                                      "image_url": {"url": f"data:image/png;base64,{SHOT.data}"}}


def test_chat_completions_servers_get_the_note_only(serve):
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    model = resolve_model(f"openai-compat:qwen3@{server.url}/v1", dict(FAST))
    wire = sent(model, server, history((SHOT,)))
    assert wire[-1] == {"role": "tool", "tool_call_id": "c1", "content": NOTE}
    assert "image_url" not in json.dumps(server.requests[-1].json)


def test_the_images_config_key_reaches_an_openai_compat_model(serve, tmp_path, monkeypatch):
    """`images = true` in the user config: a vision model behind openai-compat gets the images too."""
    from agent.config.load import load_config, model_options

    for var, folder in (("AMA_HOME", "ama"), ("XDG_CONFIG_HOME", "xdg"), ("HOME", "")):
        monkeypatch.setenv(var, str(tmp_path / folder))
    monkeypatch.delenv("AMA_IMAGES", raising=False)
    (tmp_path / "xdg" / "amanuensis").mkdir(parents=True)
    (tmp_path / "xdg" / "amanuensis" / "config.toml").write_text("images = true\n")
    spec = "openai-compat:qwen3-vl@{}/v1"
    server = serve([Reply(frames=openai_turn(text=["ok"]))])
    options = {**model_options(load_config(None, trusted=False), spec), **FAST}
    wire = sent(resolve_model(spec.format(server.url), options), server, history((SHOT,)))
    assert wire[-1]["content"][1] == {"type": "image_url",
                                      "image_url": {"url": f"data:image/png;base64,{SHOT.data}"}}


def test_a_request_carries_the_newest_images_only(serve):
    server = serve([Reply(frames=anthropic_turn(text=["ok"]))])
    eight = tuple(png(i) for i in range(8))
    assert MAX_IMAGES == 20   # so: the newest 8 + 8, then 4 of the older 8, and none before
    wire = sent(anthropic(server), server, history((SHOT,), eight, eight, eight))
    results = [b for m in wire for b in m["content"] if b["type"] == "tool_result"]
    images = [[c["source"]["data"] for c in r["content"][1:]] if isinstance(r["content"], list)
              else [] for r in results]
    assert images == [[], [i.data for i in eight[:4]], [i.data for i in eight], [i.data for i in eight]]
    assert [r["content"][0]["text"] if isinstance(r["content"], list) else r["content"]
            for r in results] == [NOTE] * 4


def test_a_tool_message_round_trips_through_its_dict_with_its_images():
    m = Message("tool", NOTE, tool_call_id="c1", name="shoot", images=(SHOT, SVG))
    assert Message.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert "images" not in Message("tool", "x", tool_call_id="c1", name="shoot").to_dict()


def test_an_mcp_image_reaches_the_model_through_the_loop(serve, tmp_path):
    server = serve([Reply(frames=anthropic_turn(tool_calls=[("toolu_1", "mcp__demo__multi", ["{}"])])),
                    Reply(frames=anthropic_turn(text=["I see a PNG."]))])
    hub = McpHub.start([stdio_spec("demo", "demo.py", "stdio", tool_timeout=10.0, trusted=True)])
    try:
        agent = Agent(model=anthropic(server), tools=list(hub.tools), emit=lambda e: None,
                      ctx=ToolContext(root=tmp_path, sandbox=None, cancel=threading.Event()),
                      system_prompt="test", permissions=Permissions.from_lists(allow=["mcp__demo__multi"]))
        out = agent.run("look")
    finally:
        hub.close()
    assert out.subtype == "success" and out.result == "I see a PNG."
    [result] = server.requests[1].json["messages"][-1]["content"]
    demo_png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 92).decode()
    assert result["tool_use_id"] == "toolu_1"
    assert "[image: image/png, 100 bytes]" in result["content"][0]["text"]
    assert result["content"][1:] == [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": demo_png}}]
