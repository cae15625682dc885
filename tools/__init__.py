"""What the model can call, the sandboxes they run in, and the workspace + review model.

`tools` never imports `agent`.
"""
