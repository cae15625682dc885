"""The `shell` tool: one command through the session's sandbox."""
from __future__ import annotations

from pydantic import BaseModel, Field

from tools.base import COMMAND_TIMEOUT, BaseTool, ToolContext, ToolResult


class ShellParams(BaseModel):
    command: str = Field(description="A bash command line. It runs in the workspace; cd and "
                                     "export carry over to the next call where the sandbox keeps a shell.")
    timeout: float = Field(COMMAND_TIMEOUT, description="Seconds before the command's process group is killed.")


class ShellTool(BaseTool):
    name = "shell"
    description = ("Run a bash command in the sandbox, in the workspace (no network unless the "
                   "user allowed it). Returns the combined output (long output keeps head and "
                   "tail) and the exit code. Use it to run tests, builds and scripts.")
    params = ShellParams
    mutating = True  # a command can change anything in the workspace

    def run(self, args: ShellParams, ctx: ToolContext) -> ToolResult:
        timeout = max(1.0, min(float(args.timeout), ctx.shell_timeout_max))
        res = ctx.sandbox.exec(args.command, timeout=timeout, cancel=ctx.cancel)
        status = "timed out" if res.timed_out else f"exit code {res.exit_code}"
        output = res.output if res.output.strip() else "(no output)"
        return ToolResult(output=f"{output.rstrip()}\n[{status}]",
                          summary=f"{status} in {res.duration:.1f}s",
                          data={"exit_code": res.exit_code, "timed_out": res.timed_out,
                                "duration": res.duration, "command": args.command})
