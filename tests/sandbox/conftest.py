from tests.sandbox.sandbox_fixtures import any_sandbox, isolated, opener, workspace  # noqa: F401
