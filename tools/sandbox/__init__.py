"""Sandboxes: where commands run. `open_sandbox(kind, workspace, ...)` in `select.py`."""
