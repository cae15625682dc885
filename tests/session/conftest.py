from tests.config.conftest import ama, home, repo, script, user_config  # noqa: F401  (shared fixtures)
