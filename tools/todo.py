"""The `todo_write` tool: the model's plan, shown to the user as a checklist."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.base import BaseTool, ToolContext, ToolResult

_MARK = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}


class TodoItem(BaseModel):
    content: str = Field(description="What to do, one short imperative line.")
    status: Literal["pending", "in_progress", "completed"] = "pending"


class TodoParams(BaseModel):
    items: list[TodoItem] = Field(description="The whole plan; replaces the previous one.")


class TodoTool(BaseTool):
    name = "todo_write"
    description = ("Write the plan for this task as a list of items with a status "
                   "(pending, in_progress, completed). Send the whole list each time; "
                   "keep exactly one item in_progress while working.")
    params = TodoParams
    mutating = False

    def run(self, args: TodoParams, ctx: ToolContext) -> ToolResult:
        lines = [f"{_MARK[i.status]} {i.content}" for i in args.items]
        done = sum(i.status == "completed" for i in args.items)
        return ToolResult(output="Plan updated:\n" + "\n".join(lines),
                          summary=f"plan: {done}/{len(args.items)} done",
                          data={"todos": [i.model_dump() for i in args.items]})
