"""MCP servers as ordinary tools: `spec` says what a server is, `hub` runs them.

Nothing here imports the `mcp` SDK at module level: it is imported only once a session
has servers to start (`McpHub.start`).
"""
