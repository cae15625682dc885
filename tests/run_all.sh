#!/usr/bin/env bash
# Set up everything the tests need, then run them all. `.ci/run` calls this.
#   bash tests/run_all.sh            # everything (installs packages, starts dockerd, builds the image)
#   bash tests/run_all.sh -k loop    # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== python packages" >&2
# torch first and pinned: 2.13.0 is a CPU wheel available offline here; an unpinned
# torch would pull a multi-GB CUDA build.
python3 -m pip install -q --disable-pip-version-check "torch==2.13.0"
python3 -m pip install -q --disable-pip-version-check -e ".[local,dev]"
# Test-only, so not in pyproject: the Claude Agent SDK, whose message parser reads ama's
# `--output-format stream-json` in tests/headless/test_claude_stream.py (~360 MB: it
# bundles Claude Code's CLI, which no test runs).
python3 -m pip install -q --disable-pip-version-check "claude-agent-sdk==0.2.184"

echo "== tools the tests drive: git, tmux" >&2
if ! command -v tmux >/dev/null || ! command -v git >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux git >/dev/null
fi

echo "== sandbox: docker engine, bubblewrap, image" >&2
bash .ci/setup_sandbox.sh

echo "== tests" >&2
set +e
python3 -m pytest -q -p no:cacheprovider "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$code"
