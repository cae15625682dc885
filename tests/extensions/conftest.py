"""Fixtures: an isolated home (user config dir, ~/.claude) and a repo (tests/config)."""
from tests.config.conftest import ama, home, repo, script, user_config  # noqa: F401
