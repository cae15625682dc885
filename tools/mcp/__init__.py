"""STAND-IN (agent-side wiring branch): replaced by the real MCP client package at merge.
Drop this file, spec.py and hub.py in favour of the real ones."""
