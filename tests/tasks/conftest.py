"""The tasks suite's HTTP tests run against the whole stack of the end-to-end tests."""

from tests.e2e.conftest import smtp, stack  # noqa: F401  (fixtures)
