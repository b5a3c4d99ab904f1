"""A phone number as people write one: `+39 06 1234 5678`, `(06) 1234-5678`, `333 123 4567 int 12` are kept as
written; a phone of spaces is no phone; words or too few digits are refused with the field's path, over the API (a
record, a user), in a CSV import's row, and on the console's record form in the office's language."""

from __future__ import annotations

import uuid

import phonenumbers
import pytest

from processes.sent_values import dialable
from tests.bad_input.conftest import Api
from tests.imports.test_csv_import import _csv, _import

WRITTEN = ["+39 06 1234 5678", "(06) 1234-5678", "333 123 4567 int 12", "0039/06/12345678", "+1 (555) 010-0199 x123",
           "+39 (0)6 1234 5678", "+48 12 345 67 89", "333 1234567 interno 4", "+39 333\u202f1234567", "06 - 1234567"]
WRONG = ["chiamami", "12", "+39 333 abc 4567", "333-123-4567; 333-765-4321", "tel: 333 1234567", "((((123))))",
         "----------------123-----------", "+ 39 333 1234567", "333 1234567 / 333 7654321", "333--1234567"]


@pytest.mark.parametrize(("written", "read"), [("333 1234567 interno 4", "+393331234567"),
                                              ("+39 333\u202f1234567 int. 5", "+393331234567"),
                                              ("333\u2009123\u20094567", "+393331234567")])
def test_a_phone_kept_as_written_is_read_when_a_message_is_sent(written: str, read: str) -> None:
    """What the phone library could not read (`interno` taken as letters on a keypad, a thin space) is read"""
    number = phonenumbers.parse(dialable(written), "IT")
    assert phonenumbers.is_valid_number(number)
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == read


@pytest.mark.parametrize("phone", WRITTEN)
async def test_a_phone_as_people_write_it_is_kept(api: Api, phone: str) -> None:
    made = await api.http.post("/records", headers=api.as_("staff"), json={
        "kind": "contact", "title": f"Rossi {uuid.uuid4().hex[:6]}", "phone": f" {phone} "})
    assert made.status_code == 201, made.text
    assert made.json()["phone"] == phone


async def test_a_wrong_phone_is_refused_with_its_path_and_changes_nothing(api: Api) -> None:
    staff, admin = api.as_("staff"), api.as_("admin")
    made = await api.http.post("/records", headers=staff, json={"kind": "contact", "title": "Bianchi",
                                                                "phone": "333 1234567"})
    record = made.json()
    for wrong in WRONG:
        refused = await api.http.post("/records", headers=staff, json={"kind": "contact", "title": "x", "phone": wrong})
        assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "body.phone", refused.text
        assert "expected a phone number" in refused.text
        patched = await api.http.patch(f"/records/{record['id']}", headers=staff, json={"phone": wrong})
        assert patched.status_code == 422, patched.text
    user = await api.http.post("/users", headers=admin, json={
        "handle": f"u{uuid.uuid4().hex[:8]}", "name": "Tecnico", "email": "t@example.org", "phone": "chiamami"})
    assert user.status_code == 422 and user.json()["errors"][0]["path"] == "body.phone", user.text
    assert (await api.http.get(f"/records/{record['id']}", headers=staff)).json()["phone"] == "333 1234567"
    spaces = await api.http.patch(f"/records/{record['id']}", headers=staff, json={"phone": "   "})
    assert spaces.status_code == 200 and spaces.json()["phone"] is None  # no phone, not a phone no one can see


async def test_an_import_row_with_a_wrong_phone_comes_back_with_its_reason(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    body = _csv([["title", "phone"], [f"Giusto {tag}", "+39 055 123 456"], [f"Sbagliato {tag}", "chiamami"]], ";")
    job = await _import(api, "contacts", body.encode())
    assert job["status"] == "refused", job
    assert job["errors"] == ["row 3, column phone: expected a phone number: digits, with spaces and + ( ) - . / if "
                             "you like, such as +39 06 1234 5678 (an extension after ext or int: +39 06 1234 5678 "
                             "int 12)"]
