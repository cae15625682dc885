"""An MCP server built with the SDK's low-level Server that lists its tools three a page,
so a client must follow `nextCursor`.  python paged.py  (stdio)"""
from __future__ import annotations

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

PAGE = 3
TOOLS = [types.Tool(name=f"t{i}", description=f"tool {i}",
                    input_schema={"type": "object", "properties": {"x": {"type": "integer"}},
                                  "required": ["x"]}) for i in range(8)]


async def list_tools(ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    start = int(params.cursor) if params and params.cursor else 0
    end = start + PAGE
    return types.ListToolsResult(tools=TOOLS[start:end],
                                 next_cursor=str(end) if end < len(TOOLS) else None)


async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    x = (params.arguments or {}).get("x")
    return types.CallToolResult(content=[types.TextContent(type="text", text=f"{params.name}({x})")])


server = Server("paged", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
