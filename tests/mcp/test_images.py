"""A result's images: into ToolResult.images (mime and data as the server sent them),
within the limits, with the text's note of each still in place."""
from __future__ import annotations

import base64

import pytest

from tests.mcp.conftest import run, stdio_spec
from tools.base import ImageData
from tools.mcp.hub import McpHub
from tools.mcp.tool import MAX_IMAGES

PNG_100 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 92).decode()   # the demo's image


def png(n: int, fill: int) -> str:
    """What servers/images.py sends: the PNG signature, then n - 8 bytes of `fill`."""
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes([fill]) * (n - 8)).decode()


@pytest.fixture(scope="module")
def images():
    hub = McpHub.start([stdio_spec("img", "images.py", tool_timeout=10.0, trusted=True)])
    yield hub
    hub.close()


def test_an_image_result_carries_the_image_and_keeps_its_note(demo, ctx):
    result = run(demo, "mcp__demo__multi", ctx)
    assert result.images == (ImageData("image/png", PNG_100),)
    assert "[image: image/png, 100 bytes]" in result.output.split("\n")


def test_images_past_the_limit_stay_notes_that_say_so(images, ctx):
    result = run(images, "mcp__img__shots", ctx, count=MAX_IMAGES + 2)
    assert result.images == tuple(ImageData("image/png", png(64, i)) for i in range(MAX_IMAGES))
    lines = result.output.split("\n")
    assert lines[0] == f"{MAX_IMAGES + 2} shots"
    assert lines[1:MAX_IMAGES + 1] == ["[image: image/png, 64 bytes]"] * MAX_IMAGES
    assert lines[MAX_IMAGES + 1:] == [
        f"[image: image/png, 64 bytes; not sent to the model: at most {MAX_IMAGES} images "
        f"of a result are]"] * 2


def test_resource_images_go_too_and_what_cannot_be_sent_says_why(images, ctx):
    result = run(images, "mcp__img__odd", ctx)
    gif = base64.b64encode(b"GIF89a" + b"\1" * 20).decode()
    assert result.images == (ImageData("image/gif", gif),)
    assert result.output.split("\n") == [
        "[resource <file:///a.gif>: image/GIF, 26 bytes]",
        "[resource <file:///a.pdf>: application/pdf, 26 bytes]",
        "[image: image/png, 4194304 bytes; not sent to the model: too large (over 5 MB as base64)]",
        "[image: image/jpeg, 11 bytes; not sent to the model: its data is not base64]"]
