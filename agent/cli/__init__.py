"""The `ama` command line (typer only): flags become options here and nothing else
happens here; the work is done by the session API and the front ends."""
