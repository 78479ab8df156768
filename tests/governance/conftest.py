from tests.workflow import world  # noqa: F401 (a fixture for this folder)
