"""The `task` tool: the model hands a side task to a subagent, a child `Agent` (made with
`Agent.spawn`) on the same workspace and sandbox with a fresh conversation, and gets its
final answer as the call's result.

    explore            built in, read-only: read_file, grep, list_files, repo_map, find_symbol
    .ama/agents/X.md   agent definitions (agent/extensions/agents.py)

Every call a child makes passes the parent's hooks and permission rules (the loop's one
enforcement point); its turns, cost and time come out of what is left of the parent's
limits, and its usage, turns and denials are added to the parent's (`Agent.absorb`);
every event it emits carries the task call's id (`parent_call_id`, agent/core/subagent.py).
A child has no `task` tool unless `subagents.max_depth` allows one and its definition
names it. Read-only task calls of one turn run side by side (`concurrent`).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from pydantic import BaseModel, Field

from agent.core.errors import BadInput
from agent.core.subagent import AgentTool, nested
from agent.core.types import Model, ToolCall
from agent.extensions.agents import BUILTIN, AgentDefinition
from tools.base import Tool, ToolError, ToolResult

if TYPE_CHECKING:
    from agent.core.loop import Agent
    from agent.session.options import SessionOptions

READ_ONLY_TOOLS = ("read_file", "grep", "list_files", "repo_map", "find_symbol")
# Providers whose model is resolved afresh for every task call: a script is a recording,
# so each call replays it from its first turn, and children side by side never share one.
FRESH_EACH_CALL = ("script",)


@dataclass(frozen=True)
class Subagent:
    """An agent the `task` tool can start. tools: the session's own instances (and a
    deeper `task` tool where the depth allows). model: PROVIDER:MODEL, None for the
    calling agent's. prompt: its whole system prompt."""
    name: str
    description: str
    tools: tuple[Tool, ...]
    model: str | None
    prompt: str

    @property
    def read_only(self) -> bool:
        """Every tool it has is one that never changes anything (when in doubt: not)."""
        return all(getattr(t, "mutating", True) is False for t in self.tools)


class TaskParams(BaseModel):
    description: str = Field(description="The side task in 3-5 words, shown to the user.")
    prompt: str = Field(description="The whole task for the subagent, which sees nothing of "
                                    "this conversation: what to find or do, and what to "
                                    "answer with.")
    agent: str | None = Field(None, description=f"The agent to run it (one of those listed); "
                                                f"omit it for {BUILTIN}, the read-only one.")


class TaskTool(AgentTool):
    name = "task"
    params = TaskParams
    concurrent = True

    def __init__(self, agents: Mapping[str, Subagent], models: "SubagentModels",
                 lock: threading.RLock):
        from prompts import render
        self.agents = dict(agents)
        self.models = models
        self._lock = lock   # one a session: children side by side hand events to one sink
        self.description = render("task_tool.md", builtin=BUILTIN, agents=[
            a for a in self.agents.values() if a.name != BUILTIN]).strip()

    def is_mutating(self, args: TaskParams) -> bool:
        agent = self.agents.get(args.agent or BUILTIN)
        return agent is not None and not agent.read_only

    def run_for(self, parent: "Agent", call: ToolCall, args: TaskParams) -> ToolResult:
        agent = self.agents.get(args.agent or BUILTIN)
        if agent is None:
            raise ToolError(f"unknown agent {args.agent!r}; the agents are: "
                            f"{', '.join(self.agents)}")
        child = parent.spawn(model=self.models.get(agent.model, parent), tools=list(agent.tools),
                             system_prompt=agent.prompt, emit=nested(parent.emit, call.id, self._lock))
        try:
            outcome = child.run(args.prompt)
        finally:
            parent.absorb(child)
        if outcome.is_error:
            said = next((m.content for m in reversed(child.messages)
                         if m.role == "assistant" and m.content.strip()), "")
            raise ToolError(f"the subagent ({agent.name}) stopped before it finished: "
                            f"{outcome.result}" + (f"\nWhat it had said last:\n{said}" if said else ""))
        turns = f"{outcome.num_turns} turn{'s' if outcome.num_turns != 1 else ''}"
        return ToolResult(output=outcome.result.strip() or "(the subagent gave no answer)",
                          summary=f"{agent.name}: done in {turns}",
                          data={"agent": agent.name, "turns": outcome.num_turns,
                                "usage": child.usage.to_dict()})


class SubagentModels:
    """The models subagents run on, by spec. None is the calling agent's own model (the
    same instance: one client, one local engine); another spec is resolved once for the
    session, except a `script:` one (FRESH_EACH_CALL)."""

    def __init__(self, options: "SessionOptions"):
        self._options = options
        self._resolved: dict[str, Model] = {}
        self._lock = threading.Lock()

    def get(self, spec: str | None, parent: "Agent") -> Model:
        """The model for `spec`; a ToolError when it cannot be built (a missing API key)."""
        from agent.models.registry import resolve_model, split_spec
        if spec is None:
            return parent.model
        fresh = split_spec(spec)[0] in FRESH_EACH_CALL
        with self._lock:
            if spec in self._resolved and not fresh:
                return self._resolved[spec]
            try:
                model = resolve_model(spec, self._model_options(spec))
            except BadInput as e:
                raise ToolError(f"the subagent's model {spec} cannot be used: {e.message}") from None
            if not fresh:
                self._resolved[spec] = model
            return model

    def _model_options(self, spec: str) -> dict[str, Any]:
        from agent.config.load import model_options
        o = self._options
        extra = model_options(o.config, spec) if o.config is not None else {}
        attempt = {"attempt": o.model_options["attempt"]} if "attempt" in o.model_options else {}
        return {"cwd": str(o.cwd), **extra, **attempt}


def task_tool(options: "SessionOptions", tools: list[Tool], sandbox) -> tuple[TaskTool | None, list[str]]:
    """The session's `task` tool over its `tools` (None when `subagents.max_depth` is 0),
    and a warning for each agent definition that cannot be used (it names a tool the
    session does not have, or a model that is not PROVIDER:MODEL). BadInput for a bad
    `subagents.model`."""
    from agent.models.registry import split_spec
    from prompts import render
    if options.subagent_max_depth < 1:
        return None, []
    if options.subagent_model:
        try:
            split_spec(options.subagent_model)
        except BadInput as e:
            raise BadInput(f"subagents.model: {e.message}") from None
    by_name = {t.name: t for t in tools}
    definitions, warnings = usable(options.agents, by_name)
    frame = dict(workdir=sandbox.workdir, sandbox=sandbox.kind, network=options.network,
                 date=time.strftime("%Y-%m-%d"))
    builtin = Subagent(BUILTIN, "read-only", tuple(by_name[n] for n in READ_ONLY_TOOLS
                                                   if n in by_name),
                       options.subagent_model, render("subagent.md", instructions="", **frame))
    models, lock = SubagentModels(options), threading.RLock()

    def level(depth: int) -> TaskTool:
        """The task tool of the agents at `depth` (0: the session's own agent)."""
        deeper = level(depth + 1) if depth + 1 < options.subagent_max_depth else None
        agents = {BUILTIN: builtin}
        for d in definitions:
            names = d.tools if d.tools is not None else tuple(by_name)
            chosen = [by_name[n] for n in names if n != "task"]
            if "task" in names and deeper is not None:
                chosen.append(deeper)
            agents[d.name] = Subagent(d.name, d.description, tuple(chosen), d.model,
                                      render("subagent.md", instructions=d.prompt, **frame))
        return TaskTool(agents, models, lock)

    return level(0), warnings


def usable(definitions: tuple[AgentDefinition, ...], tools: Mapping[str, Tool]
           ) -> tuple[list[AgentDefinition], list[str]]:
    """The definitions whose tools the session has and whose model is PROVIDER:MODEL, and
    a warning naming the file of each other one."""
    from agent.models.registry import split_spec
    ok, warnings = [], []
    for d in definitions:
        unknown = [t for t in d.tools or () if t not in tools and t != "task"]
        if unknown:
            warnings.append(f"{d.path}: agent {d.name} not used: no tool "
                            f"{', '.join(unknown)} here (the tools: {', '.join(tools)})")
            continue
        try:
            if d.model is not None:
                split_spec(d.model)
        except BadInput as e:
            warnings.append(f"{d.path}: agent {d.name} not used: {e.message}")
            continue
        ok.append(d)
    return ok, warnings
