"""Errors users can cause, each with a stable type and, where it has one, a path.

The class name is the error's type everywhere: the `ApplicationError.type` a
workflow raises, the `type` of the API's problem+json body, the CLI's message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Self


@dataclass(frozen=True)
class ErrorDetail:
    """One thing wrong at one place: `phases[2].actions[0].send_email.to`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class StagecoachError(Exception):
    """Base of the errors a caller can cause. `status` is the HTTP status it maps to. `wording`: the message's English
    text with `{name}` where each of its values goes, and the values, for a reader in another language (the
    console); None when the message is a fixed text, or was not written that way."""

    status: int = 400

    def __init__(self, message: str, *, details: Iterable[ErrorDetail] = (),
                 wording: tuple[str, dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.wording = wording

    @classmethod
    def worded(cls, text: str, **values: object) -> Self:
        """The error whose message is `text` with its values filled in, keeping both (`wording`)."""
        kept = {name: str(value) for name, value in values.items()}
        return cls(text.format(**kept), wording=(text, kept))

    @property
    def type(self) -> str:
        return type(self).__name__


class TemplateInvalid(StagecoachError):
    """A process template does not validate; `details` holds every error with its path."""

    status = 422

    def __init__(self, details: Iterable[ErrorDetail]) -> None:
        details = list(details)
        first = str(details[0]) if details else "invalid template"
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        super().__init__(first + more, details=details)


class PipelineInvalid(TemplateInvalid):
    """A pipeline does not validate; `details` holds every error with its path."""


class RenderError(StagecoachError):
    """A user-authored template failed to render (missing value, bound exceeded)."""

    status = 422


class RenderInterrupted(StagecoachError):
    """A render or check did not finish for a reason other than the text (its process died, all were busy):
    worth trying again."""

    status = 503


class NotFound(StagecoachError):
    status = 404


class TemplateNotFound(NotFound):
    pass


class RecordNotFound(NotFound):
    pass


class PipelineNotFound(NotFound):
    pass


class RecordTypeNotFound(NotFound):
    pass


class UserNotFound(NotFound):
    pass


class ProcessNotFound(NotFound):
    pass


class TaskNotFound(NotFound):
    pass


class PhaseNotFound(NotFound):
    pass


class Conflict(StagecoachError):
    status = 409


class ProcessFinished(Conflict):
    """The process has ended; it takes no more staff actions."""


class InvalidPhaseState(Conflict):
    """The phase is not in a state that allows the request (already done, not manual...)."""


class NoIncident(Conflict):
    """An incident action was sent to a process that has no open incident."""


class RecordKindMismatch(Conflict):
    """The template runs on another kind of record."""


class AlreadyExists(Conflict):
    pass


class MoveRefused(Conflict):
    """A record cannot move there: its type's sequence does not allow it (or it is not where the mover thought)."""


class MovedMeanwhile(MoveRefused):
    """Another move of the record won the race; this one changed nothing (worth trying again)."""


class LastAdminKey(Conflict):
    """Revoking this key would leave no admin key, and nobody could create keys again."""


class IdempotencyKeyReused(StagecoachError):
    """An `Idempotency-Key` sent with another request than the one it was first sent with."""

    status = 422


class ServiceUnavailable(StagecoachError):
    """Temporal or the database cannot be reached; nothing was done."""

    status = 503


class Forbidden(StagecoachError):
    status = 403


class NotRecordOwner(Forbidden):
    """Who sees a record, and who owns a restricted one, is changed by its owner or an admin only."""


class CaseNotFound(NotFound):
    pass


class TagNotFound(NotFound):
    pass


class CaseStateConflict(Conflict):
    """The case is already in the state asked for (closing a closed case)."""


class RunningProcesses(Conflict):
    """Closing a case that has running processes, without saying what to do with them."""


class ConfirmationRequired(StagecoachError):
    """A deletion sent without its explicit confirmation."""

    status = 422


class AnswersInvalid(StagecoachError):
    """Answers a process cannot keep as they were sent (an update from the Temporal UI or CLI; the API refuses them
    with its 422 first)."""

    status = 422


class TaskInvalid(StagecoachError):
    """A task made by hand that cannot be: an unknown category, a reminder without a due time."""

    status = 422


class ImportInvalid(StagecoachError):
    """A CSV to import that cannot be read, or a mapping of its columns that does not fit."""

    status = 422


class ImportNotFound(NotFound):
    pass


class ReferenceNotFound(StagecoachError):
    """A body field names a user, record or contact there is not (or the caller may not see): 422 naming the field.
    The request's own URL exists, which a 404 would deny."""

    status = 422


class OwnerMissing(StagecoachError):
    """A process started with no one to own it: no owner given, a key tied to no user, and a record without owner."""

    status = 422


class ContactInvalid(StagecoachError):
    """A record's `contact_id` that cannot be its contact: itself, a record that is not a contact, or one whose own
    contacts lead back to it."""

    status = 422


class NotAContact(StagecoachError):
    """A participant of a case must be a contact record (a person or a company)."""

    status = 422


class DocumentNotFound(NotFound):
    pass


class DocumentUnsupported(StagecoachError):
    """A file whose content is none of the kinds kept, or empty."""

    status = 415


class DocumentMismatch(StagecoachError):
    """A file whose content is not what its name or its declared type says."""

    status = 422


class DocumentConflict(Conflict):
    """Two versions of a document uploaded at once: one is kept, the other is to be sent again."""


class DocumentFileMissing(StagecoachError):
    """A document version whose stored file is not in the storage any more (removed outside Stagecoach)."""

    status = 410


class DocumentInvalid(StagecoachError):
    """An upload that is not a multipart form with one file in `file`."""

    status = 422


class RequestIdReused(StagecoachError):
    """A start's request_id came back with another template or record: it names one start only."""

    status = 422


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A suffix naming the nearest valid names, or nothing."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"


@dataclass
class ErrorCollector:
    """Collects errors with their paths while walking a template."""

    errors: list[ErrorDetail] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(ErrorDetail(path, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise TemplateInvalid(self.errors)


# Every error type a workflow may raise as ApplicationError.type, for the API to map.
ERROR_TYPES: dict[str, type[StagecoachError]] = {
    cls.__name__: cls
    for cls in (
        TemplateInvalid,
        RenderError,
        TemplateNotFound,
        PipelineNotFound,
        MoveRefused,
        MovedMeanwhile,
        RecordNotFound,
        UserNotFound,
        ProcessNotFound,
        TaskNotFound,
        PhaseNotFound,
        ProcessFinished,
        InvalidPhaseState,
        NoIncident,
        RecordKindMismatch,
        AlreadyExists,
        ServiceUnavailable,
    )
}
