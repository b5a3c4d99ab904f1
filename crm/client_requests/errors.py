"""Errors a caller of client requests can cause: the class name is the problem's `type`."""

from __future__ import annotations

from processes.errors import Conflict, NotFound, StagecoachError


class RequestTemplateNotFound(NotFound):
    pass


class ClientRequestNotFound(NotFound):
    pass


class ClientRequestClosed(Conflict):
    """The request was submitted, cancelled or has expired: it takes no more changes of that kind."""


class RecipientMissing(StagecoachError):
    """A request to email whose record has no address (and no contact with one), and none was given."""

    status = 422
