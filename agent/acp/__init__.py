"""`ama acp`: ama inside an editor, over the Agent Client Protocol (Zed, JetBrains,
Neovim and VS Code extensions), built on the session API like the REPL and `ama -p`.

Modules: `server` (the ACP Agent and `serve`, stdio), `session` (one ama session as the
editor sees it: turns, approvals, history), `updates` (events → session updates),
`review` (a turn's change set offered file by file, applied with the REPL's writer),
`requests` (prompt blocks and MCP servers as ama takes them), `channel` (the ordered
way from a turn's thread to the editor).

Needs the `agent-client-protocol` package (import name `acp`).
"""
