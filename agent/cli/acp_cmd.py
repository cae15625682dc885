"""`ama acp`: serve the Agent Client Protocol on stdin/stdout for an editor. Light at
import; the server is agent/acp/server.py."""
from __future__ import annotations

from typing import List, Optional

import typer

from agent.cli.fail import fail
from agent.core.errors import BadInput

INSTALL = "pip install 'agent-client-protocol>=0.12,<0.13'"


def acp_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="PROVIDER:MODEL for every "
                                        "session (default: config). Env: AMA_MODEL."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="docker | bwrap | local (no "
                                          "isolation). Env: AMA_SANDBOX."),
    sandbox_image: Optional[str] = typer.Option(None, "--sandbox-image", help="Docker image for "
                                                "the sandbox."),
    network: Optional[bool] = typer.Option(None, "--network/--no-network", help="Allow network "
                                           "access inside the sandbox."),
    config: List[str] = typer.Option([], "--config", help="An extra config file (TOML), or "
                                     "KEY=VALUE; repeatable."),
    trust: bool = typer.Option(False, "--trust", help="Trust the repositories the editor opens "
                               "sessions in (their .ama/config.toml, AGENTS.md, hooks)."),
    mode: str = typer.Option("review", "--mode", help="The mode sessions start in: review "
                             "(changes offered file by file) | auto-accept | plan (read-only)."),
) -> None:
    from agent.session.options import Mode
    try:
        start = Mode(mode)
    except ValueError:
        fail(BadInput(f"--mode {mode!r}: choose one of {', '.join(m.value for m in Mode)}"))
    import importlib.util
    if importlib.util.find_spec("acp") is None:
        fail(BadInput(f"`ama acp` needs the Agent Client Protocol package, which is not "
                      f"installed: {INSTALL}"))
    from agent.acp.server import AcpSettings, serve
    raise typer.Exit(serve(AcpSettings(model=model, sandbox=sandbox, sandbox_image=sandbox_image,
                                       network=network, config=tuple(config), trust=trust,
                                       mode=start)))


ACP_HELP = ("Serve the Agent Client Protocol on stdin/stdout, so an editor (Zed, JetBrains, "
            "Neovim, VS Code extensions) can run ama as its agent. Each session the editor "
            "opens works on a private copy of its folder; a turn's changes are offered file by "
            "file for review in the editor.")
