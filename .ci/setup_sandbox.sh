#!/usr/bin/env bash
# Make this machine ready for the sandbox tests; safe to run again (each step checks
# first). Installs docker.io, bubblewrap and debootstrap from Debian if missing,
# starts dockerd if no engine answers and waits for it, and builds the
# `amanuensis-sandbox` image if it is missing (offline: debootstrap + docker import,
# from the Debian mirror in this machine's apt sources).
# Run from the repository root, as root. Prints the time each step took.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[setup_sandbox] %s\n' "$*" >&2; }
t0=$SECONDS

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  step "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  step "starting dockerd"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    step "dockerd did not come up; its log:"
    tail -n 30 /tmp/dockerd.log >&2
    exit 1
  fi
fi
step "docker engine answers ($((SECONDS - t0))s)"

t1=$SECONDS
python -m tools.sandbox build
step "image ready ($((SECONDS - t1))s)"
python -m tools.sandbox doctor >&2 || true
