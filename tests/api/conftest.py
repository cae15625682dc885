from tests.config.conftest import home, repo, script  # noqa: F401  (shared fixtures)
