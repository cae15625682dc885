"""The SDKs (~4 s for anthropic, ~1.5 s for openai) load only when their provider is chosen."""
from __future__ import annotations

import subprocess
import sys


def test_cli_and_shared_provider_modules_do_not_import_the_sdks():
    code = ("import sys, agent.cli.main, agent.models.registry, agent.models.pricing, agent.models.retry, "
            "agent.models.http_errors, agent.models.text_tool_calls, agent.models.chat_completions, "
            "agent.models.tool_args; "
            "print(sorted(m for m in ('anthropic', 'openai', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
