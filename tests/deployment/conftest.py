"""The deployment suite uses the end-to-end SMTP catcher."""

from tests.e2e.conftest import smtp  # noqa: F401  (fixture)
