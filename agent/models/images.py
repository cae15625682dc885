"""Tool results' images on the wire: the formats model APIs take, and which of a
conversation's images one request carries.

A tool message's `images` (an MCP tool's image content, see tools/mcp/tool.py) go to the
providers that take images: `anthropic:` inside the tool_result, `openai:` in a user
message after the tool messages (Chat Completions tool messages hold text only). The
others (`openai-compat:`, `local:`, `script:`) send the text alone, whose notes say
where each image was.

The conversation is sent again with every request, so its images are chosen newest
first: at most MAX_IMAGES and MAX_TOTAL_BASE64 characters of base64 in all (Anthropic
takes up to 100 images and 32 MB a request, and smaller images past 20); older ones go
as their note only. Only WIRE_TYPES are sent: what both APIs accept.
"""
from __future__ import annotations

from agent.core.types import ImageData, Message

WIRE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_IMAGES = 20
MAX_TOTAL_BASE64 = 20 * 1024 * 1024


def images_to_send(messages: list[Message]) -> dict[int, tuple[ImageData, ...]]:
    """Index of a tool message in `messages` -> the images this request carries for it
    (messages absent carry none)."""
    chosen: dict[int, tuple[ImageData, ...]] = {}
    count = total = 0
    spent = False
    for index in range(len(messages) - 1, -1, -1):
        m = messages[index]
        if m.role != "tool" or not m.images:
            continue
        kept: list[ImageData] = []
        for image in m.images:
            if image.mime_type not in WIRE_TYPES:
                continue
            if count == MAX_IMAGES or total + len(image.data) > MAX_TOTAL_BASE64:
                spent = True   # nothing older goes either
                break
            kept.append(image)
            count, total = count + 1, total + len(image.data)
        if kept:
            chosen[index] = tuple(kept)
        if spent:
            break
    return chosen


def data_url(image: ImageData) -> str:
    return f"data:{image.mime_type};base64,{image.data}"
