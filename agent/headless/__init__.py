"""The `ama -p` contract: one run with no prompts, progress on stderr, the result object
on stdout and an exit code (`run`); best-of-N `--attempts`; `--untrusted` task text;
`ama init` (a headless run that writes AGENTS.md)."""
