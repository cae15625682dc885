"""Every config key: its type, default, what it does, and whether it can point somewhere.

Keys are dotted paths into the TOML (`permissions.allow` is `[permissions] allow = [...]`);
a `*` segment stands for any name (`providers.*.base_url`). The same table drives
validation, `ama config show` and the `AMA_*` environment names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from agent.core.hooks import EVENTS as HOOK_EVENTS, ON_FAILURE
from tools.sandbox.select import KINDS as SANDBOX_KINDS

DEFAULT_MODEL = "anthropic:claude-sonnet-4-6"


@dataclass(frozen=True)
class Key:
    """One config key.

    name:    dotted path; `*` matches one name segment.
    kind:    "str" | "int" | "float" | "bool" | "budget" (tokens, 1024 or more, or "adaptive")
             | "list" (of strings) | "map" (a table of
             strings: an environment, HTTP headers) | "table" (free-form) | "tables" (a
             list of tables, `[[hooks.PreToolUse]]`, each holding `fields`).
    default: the value when no layer sets it (None: unset).
    help:    one line for `ama config show --keys`.
    choices: allowed values of a "str" key (a trailing ":" allows a prefix, "branch:").
    env:     whether `AMA_<NAME>` sets it (lists from the environment are comma-separated).
    check:   the range of a number, a name in RANGES ("" for any). Numbers are always
             finite, and ints fit in 64 bits.
    fields:  for "tables": the keys each table takes; one whose default is None is required.
    """
    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    env: bool = True
    check: str = ""
    fields: tuple["Key", ...] = ()


# The ranges a number may be held to: name -> (test, what the error says it must be).
# SessionOptions and RunRequest hold their fields to the same ones.
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "count": (lambda v: v >= 1, "at least 1"),
    "positive": (lambda v: v > 0, "greater than 0"),        # NaN is neither: refused
    "non-negative": (lambda v: v >= 0, "0 or more"),
    "fraction": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
}

# The fields of one `[[hooks.EVENT]]` table.
HOOK_FIELDS = (
    Key("matcher", "str", "", "a regex (or glob) over tool names; \"\" or \"*\": every tool"),
    Key("command", "str", None, "the command, run with bash on the host"),
    Key("timeout", "float", 60.0, "seconds before the hook is killed", check="positive"),
    Key("on_failure", "str", "warn", "a crash, timeout or bad output: warn | block",
        choices=ON_FAILURE),
)

KEYS: tuple[Key, ...] = (
    # --- the run
    Key("model", "str", DEFAULT_MODEL, "PROVIDER:MODEL, e.g. openai:gpt-5.2, script:FILE.jsonl"),
    Key("max_turns", "int", 50, "stop after this many model turns (exit 3)", check="count"),
    Key("max_cost", "float", None, "stop once the session has cost this many USD (exit 3)",
        check="positive"),
    Key("max_time", "float", None, "stop after this many seconds (exit 3)", check="positive"),
    Key("apply", "str", "patch", "headless: patch | tree | commit | branch:NAME",
        choices=("patch", "tree", "commit", "branch:")),
    Key("verify", "str", None, "a command that must pass in the sandbox for the run to be done"),
    Key("max_verify", "int", 3, "how many times `verify` may run", check="count"),
    # --- model requests (unset: the provider's own default, in brackets)
    Key("max_retries", "int", None, "retries of a failed model request: 429, 5xx, timeouts, "
        "cut streams (4)", check="non-negative"),
    Key("retry_base_delay", "float", None, "seconds before the first retry; doubles each "
        "time (1)", check="non-negative"),
    Key("retry_max_delay", "float", None, "the longest wait between two retries, in seconds (30)",
        check="non-negative"),
    Key("timeout", "float", None, "seconds a model request may go without an answer before it "
        "is retried (600)", check="positive"),
    Key("thinking_budget", "budget", None, "Anthropic extended thinking: the tokens a turn may "
        "think (1024 or more), or \"adaptive\" (unset: no thinking)"),
    Key("reasoning_effort", "str", None, "OpenAI reasoning models and compatible servers: "
        "minimal | low | medium | high (unset: the model's default)"),
    Key("images", "bool", None, "send tool results' images to the model (unset: by provider "
        "and model; openai-compat and local: no)"),
    # --- sandbox
    Key("sandbox", "str", None, "docker | bwrap | local (default: docker, else bwrap)",
        choices=SANDBOX_KINDS),
    Key("sandbox_image", "str", None, "the Docker image of the sandbox"),
    Key("network", "bool", False, "give the sandbox network access"),
    # --- permissions (lists add up across layers)
    Key("permission_mode", "str", "default", "default | plan (read-only) | bypass",
        choices=("default", "plan", "bypass")),
    Key("permissions.allow", "list", [], "rules TOOL or TOOL(PATTERN) that run without asking"),
    Key("permissions.ask", "list", [], "rules that always ask (a denial in headless mode)"),
    Key("permissions.deny", "list", [], "rules that never run; checked first"),
    # --- context
    Key("context_window", "int", None, "override the model's context window, in tokens",
        check="count"),
    Key("compaction.threshold", "float", 0.8,
        "compact the conversation when it fills this fraction of the context window",
        check="fraction"),
    Key("compaction.keep_turns", "int", 2, "recent model turns kept verbatim when compacting",
        check="non-negative"),
    Key("repo_map.max_tokens", "int", 1024, "size of the first turn's repo map (0: none)",
        check="non-negative"),
    # --- providers and prices (never from an untrusted repo)
    Key("providers.*.base_url", "str", None, "API base URL of a provider (anthropic, openai, …)",
        env=False),
    Key("providers.*.api_key_env", "str", None, "the environment variable that holds its API key",
        env=False),
    Key("providers.*.extra_body", "table", None, "Chat Completions providers: fields added to every "
        "request body, e.g. chat_template_kwargs = { enable_thinking = false }", env=False),
    Key("prices.*.input", "float", None, "USD per million input tokens of a model", env=False,
        check="non-negative"),
    Key("prices.*.output", "float", None, "USD per million output tokens", env=False,
        check="non-negative"),
    Key("prices.*.cache_read", "float", None, "USD per million cached input tokens", env=False,
        check="non-negative"),
    Key("prices.*.cache_write", "float", None, "USD per million cache-write tokens", env=False,
        check="non-negative"),
    Key("prices.*.context_window", "int", None, "the model's context window", env=False,
        check="count"),
    # --- MCP servers (agent/config/mcp.py; never from an untrusted repo)
    Key("mcp_servers.*.command", "str", None, "stdio server: the program to start", env=False),
    Key("mcp_servers.*.args", "list", [], "stdio server: its arguments", env=False),
    Key("mcp_servers.*.env", "map", {}, "stdio server: environment variables it gets", env=False),
    Key("mcp_servers.*.cwd", "str", None, "stdio server: the folder it starts in", env=False),
    Key("mcp_servers.*.url", "str", None, "streamable HTTP server: its URL", env=False),
    Key("mcp_servers.*.headers", "map", {}, "HTTP server: headers sent with each request",
        env=False),
    Key("mcp_servers.*.bearer_token_env", "str", None, "HTTP server: the environment variable "
        "whose value is sent as `Authorization: Bearer`", env=False),
    Key("mcp_servers.*.startup_timeout", "float", 10.0, "seconds the server has to start",
        env=False, check="positive"),
    Key("mcp_servers.*.tool_timeout", "float", 60.0, "seconds one tool call may take",
        env=False, check="positive"),
    Key("mcp_servers.*.enabled", "bool", True, "false: defined but not started", env=False),
    Key("mcp_servers.*.required", "bool", False, "a run stops (exit 2) if it does not connect",
        env=False),
    Key("mcp_servers.*.enabled_tools", "list", None, "only these of its tools (default: all)",
        env=False),
    Key("mcp_servers.*.disabled_tools", "list", [], "its tools the model never sees", env=False),
    Key("mcp_servers.*.sandbox", "bool", False, "run this stdio server in the session's sandbox",
        env=False),
    # --- hooks: commands run on the host on agent events (agent/core/hooks.py)
    *(Key(f"hooks.{event}", "tables", [], f"commands run on {event} ([[hooks.{event}]])",
          env=False, fields=HOOK_FIELDS) for event in HOOK_EVENTS),
    Key("hooks.max_stop_returns", "int", 3, "how often Stop hooks may send the model back "
        "in one run", check="non-negative"),
    # --- subagents: the `task` tool (agent/session/subagent.py)
    Key("subagents.model", "str", None, "PROVIDER:MODEL of the built-in `explore` subagent "
        "(default: the session's model)"),
    Key("subagents.max_depth", "int", 1, "how deep subagents nest: 1, a subagent cannot start "
        "another; 0, no `task` tool", check="non-negative"),
)

# Provider options the config passes through to the model unchanged (retries: agent/models/retry.py;
# thinking: agent/models/anthropic.py; reasoning effort and images: agent/models/chat_completions.py).
REQUEST_KEYS = ("max_retries", "retry_base_delay", "retry_max_delay", "timeout", "thinking_budget",
                "reasoning_effort", "images")

# Lists that add up across layers instead of replacing each other: a project may add a
# deny rule to the user's, and a flag an allow rule to the config's.
# Hooks add up the same way: the user's run first, then the repository's.
ADDITIVE = ("permissions.allow", "permissions.ask", "permissions.deny",
            *(f"hooks.{event}" for event in HOOK_EVENTS))


def find_key(name: "str | tuple[str, ...]") -> Key | None:
    """The Key a concrete name belongs to: a dotted string, or the segments as a tuple
    (needed when a `*` segment holds a dot: `prices."gpt-4.1".input`)."""
    segs = tuple(name.split(".")) if isinstance(name, str) else tuple(name)
    for key in KEYS:
        ks = key.name.split(".")
        if "*" in ks and isinstance(name, str) and len(segs) > len(ks) == 3:
            # a dotted model name in the middle: prices.gpt-4.1.input
            segs_ = (segs[0], ".".join(segs[1:-1]), segs[-1])
        else:
            segs_ = segs
        if len(ks) == len(segs_) and all(k == "*" or k == s for k, s in zip(ks, segs_)):
            return key
    return None


def is_prefix(segs: tuple[str, ...]) -> bool:
    """Are `segs` a table on the way to some key (`providers`, `providers.openai`)?"""
    for key in KEYS:
        ks = key.name.split(".")
        if len(ks) > len(segs) and all(k == "*" or k == s for k, s in zip(ks, segs)):
            return True
    return False


def env_name(key: Key) -> str:
    return "AMA_" + key.name.upper().replace(".", "_")
