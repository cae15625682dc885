"""What Tab offers at the prompt: slash commands at the start of the line (MCP prompts
among them), `@server:URI` for the resources of a connected MCP server, `@path` for the
repo's files. Nothing here waits on a server: resources are what was fetched already."""
from __future__ import annotations

import re
from typing import Callable, Iterable

from prompt_toolkit.completion import Completer, Completion

from agent.repl.mentions import MentionCompleter, rank

_COMMAND = re.compile(r"/(\S*)")
_RESOURCE = re.compile(r"(?<![\w@])@([^\s@:]+):(\S*)$")
_MENTION = re.compile(r"(?<![\w@])@([^\s@:]*)$")


class ReplCompleter(Completer):
    """commands(): every slash command's name; servers(): the connected MCP servers;
    resources(server): the URIs (and URI templates) it lists, as far as fetched."""

    def __init__(self, files: MentionCompleter, commands: Callable[[], Iterable[str]],
                 servers: Callable[[], list[str]], resources: Callable[[str], list[str]],
                 limit: int = 50):
        self.files = files
        self.commands, self.servers, self.resources = commands, servers, resources
        self.limit = limit

    def refresh(self) -> None:
        """Read the repo's files again at the next `@` (once per prompt)."""
        self.files.refresh()

    def get_completions(self, document, complete_event):
        before = document.text_before_cursor
        if _COMMAND.fullmatch(before):
            for name in sorted(n for n in self.commands() if n.startswith(before[1:])):
                yield Completion("/" + name, start_position=-len(before))
            return
        m = _RESOURCE.search(before)
        if m and m.group(1) in self.servers():
            server, fragment = m.groups()
            for uri in rank(self.resources(server), fragment)[:self.limit]:
                yield Completion(f"@{server}:{uri}", start_position=-len(m.group(0)), display=uri)
            return
        m = _MENTION.search(before)
        if m:
            for server in self.servers():
                if server.startswith(m.group(1)):
                    yield Completion(f"@{server}:", start_position=-len(m.group(0)),
                                     display_meta="MCP server")
        yield from self.files.get_completions(document, complete_event)
