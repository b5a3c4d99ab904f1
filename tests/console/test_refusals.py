"""What a refused console form says: the field as its page labels it and what is wrong, in the office's language,
never pydantic's own names (`answers.note.constrained-str`, `expires_days`, `[key]`)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from api.console.actions import answers
from api.console.i18n import translator
from api.console.refusals import field_error
from crm.client_requests.public import ClientRequestCreate
from crm.task_forms import TaskCreate
from processes.instance import CompleteBody

EXPIRY = {"expires_days": "Expires after"}, {"expires_days": "a whole number of days from 1 to 3650"}


def _refusal(model: type[BaseModel], fields: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(fields)
    return refused.value


@pytest.mark.parametrize(("model", "fields", "labels", "said"), [
    (CompleteBody, {"answers": answers("note: " + "x" * 3000, str)}, ({}, {}), "Answer 'note': at most 2000 characters"),
    (CompleteBody, {"answers": answers("a" * 300 + ": 1", str)}, ({}, {}), "Answer names: at most 63 characters"),
    (CompleteBody, {"answers": {f"n{i}": i for i in range(101)}}, ({}, {}), "Answers: at most 100"),
    (ClientRequestCreate, {"template": "t", "expires_days": "abc"}, EXPIRY,
     "Expires after: a whole number of days from 1 to 3650"),
    (ClientRequestCreate, {"template": "t", "expires_days": 0}, EXPIRY,
     "Expires after: a whole number of days from 1 to 3650"),
    (ClientRequestCreate, {"template": "T T"}, ({"template": "Request template"}, {}),
     "Request template: not written as expected"),
    (TaskCreate, {"record_id": 1, "title": "t", "due_at": "0001-01-01T00:00:00Z"}, ({"due_at": "Due"}, {}),
     "Due: expected a date and time between the years 1000 and 9998 (in UTC)"),  # not "Value error, expected..."
])
def test_a_refusal_names_the_field_as_the_form_labels_it(model: type[BaseModel], fields: dict[str, object],
                                                         labels: tuple[dict[str, str], dict[str, str]],
                                                         said: str) -> None:
    """Each refusal reads `Label: what is wrong`, with no type tag and no API field name"""
    assert field_error(_refusal(model, fields), str, *labels) == said


def test_a_refusal_in_italian() -> None:
    """With LOCALE=it the message is Italian, label and all; a long name written back is cut short"""
    _ = translator("it")
    name = "nota" * 12
    said = field_error(_refusal(CompleteBody, {"answers": {name: "x" * 2001}}), _)
    assert said == f"Risposta '{name[:40]}…': al massimo 2000 caratteri", said
    expiry = _refusal(ClientRequestCreate, {"template": "t", "expires_days": "abc"})
    assert field_error(expiry, _, {"expires_days": _("Expires after")},
                       {"expires_days": _("a whole number of days from 1 to 3650")}) == \
        "Scade dopo: un numero intero di giorni da 1 a 3650"


def test_a_due_time_is_the_offices_unless_it_names_its_own_offset() -> None:
    """The form's datetime-local is the office's time; one sent with an offset was taken as the office's time too
    (10:00+05:00 kept as 10:00 UTC)"""
    from datetime import UTC, datetime

    from api.console.task_pages import due_time
    from settings import Settings

    rome = Settings(timezone="Europe/Rome")
    assert due_time("2027-01-01T10:00", rome) == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    assert due_time("2027-01-01T10:00:00+05:00", rome) == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
