"""The interactive terminal REPL (`ama` with no -p): prompt, turns, review, commands."""
