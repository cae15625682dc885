#!/usr/bin/env bash
# The offline demo: copy the sample repo (a calculator whose `add` subtracts) into a
# temp dir, make it a git repo, and let a scripted session fix it. Nothing reaches a
# model provider: the `script:` model replays examples/fix-calc.jsonl.
#   bash examples/demo.sh            # the default sandbox (docker, else bwrap)
#   bash examples/demo.sh --sandbox local
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(mktemp -d)/calc"
cp -r "$here/calc" "$repo"
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.name=demo -c user.email=demo@localhost commit -qm "calculator with a bug"
echo "sample repo: $repo" >&2
ama -p "the tests fail; fix the bug" --model "script:$here/fix-calc.jsonl" --cwd "$repo" \
    --apply tree "$@"
echo "--- git diff in $repo after --apply tree:" >&2
git -C "$repo" --no-pager diff
