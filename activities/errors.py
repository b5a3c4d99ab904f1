"""How activities report failures: user-caused ones are final, the rest are retried."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from processes.errors import StagecoachError


def final(exc: StagecoachError) -> ApplicationError:
    """A failure retrying cannot fix (bad template text, missing address): an incident at once."""
    return ApplicationError(exc.message, type=exc.type, non_retryable=True)


def final_message(error_type: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=True)
