"""An MCP server built with the SDK's low-level Server that lists its tools three a page,
so a client must follow `nextCursor`.

    python paged.py              tools only: no resources, no prompts (their capabilities
                                 are not declared)
    python paged.py --features   also seven resources and five prompts, three a page (and
                                 no resource templates: resources/templates/list is unknown)
"""
from __future__ import annotations

import sys

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

PAGE = 3
TOOLS = [types.Tool(name=f"t{i}", description=f"tool {i}",
                    input_schema={"type": "object", "properties": {"x": {"type": "integer"}},
                                  "required": ["x"]}) for i in range(8)]
RESOURCES = [types.Resource(uri=f"paged://r{i}", name=f"r{i}") for i in range(7)]
PROMPTS = [types.Prompt(name=f"p{i}", arguments=[types.PromptArgument(name="x", required=True)])
           for i in range(5)]


def page(items: list, params: types.PaginatedRequestParams | None) -> tuple[list, str | None]:
    start = int(params.cursor) if params and params.cursor else 0
    end = start + PAGE
    return items[start:end], str(end) if end < len(items) else None


async def list_tools(ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    tools, cursor = page(TOOLS, params)
    return types.ListToolsResult(tools=tools, next_cursor=cursor)


async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    x = (params.arguments or {}).get("x")
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"{params.name}({x})")])


async def list_resources(ctx, params) -> types.ListResourcesResult:
    resources, cursor = page(RESOURCES, params)
    return types.ListResourcesResult(resources=resources, next_cursor=cursor)


async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
    return types.ReadResourceResult(contents=[types.TextResourceContents(
        uri=params.uri, mime_type="text/plain", text=f"contents of {params.uri}")])


async def list_prompts(ctx, params) -> types.ListPromptsResult:
    prompts, cursor = page(PROMPTS, params)
    return types.ListPromptsResult(prompts=prompts, next_cursor=cursor)


async def get_prompt(ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    x = (params.arguments or {}).get("x")
    return types.GetPromptResult(messages=[types.PromptMessage(
        role="user", content=types.TextContent(type="text", text=f"{params.name} with {x}"))])


features = dict(on_list_resources=list_resources, on_read_resource=read_resource,
                on_list_prompts=list_prompts, on_get_prompt=get_prompt)
server = Server("paged", on_list_tools=list_tools, on_call_tool=call_tool,
                **(features if "--features" in sys.argv else {}))


async def main() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
