"""amanuensis: the planner loop, model providers, sessions, config and CLI."""
