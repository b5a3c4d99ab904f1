"""Making a record and changing one in the console (an office had to use the API for both): through the API's own
functions, a refused form kept as typed, a free field the form cannot write left as it is."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from api.console.actions import FormInvalid
from api.console.i18n import translator
from api.console.record_values import baseline, changed_fields, free_fields, written
from api.console.refusals import field_error
from api.console.web import value_in
from crm.models import RecordCreate
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_the_fields_lines_change_only_what_was_changed() -> None:
    current = {"cap": "00184", "vani": 3, "note": "12", "impianto": {"kw": 4.5}, "firmato": True, "via": "Roma\n3"}
    shown, kept = written(current, str)
    assert shown == "cap: 00184\nfirmato: yes\nnote: 12\nvani: 3" and kept == ["impianto", "via"]
    assert changed_fields(shown, current, str) == {}  # saved as shown: nothing changes (a text 12 stays text)
    assert changed_fields("cap: 00185\nvani: 4\nnuovo: 7", current, str) == {
        "cap": "00185", "vani": 4, "nuovo": 7, "note": None, "firmato": None}  # taken out: removed
    assert free_fields("cap: 00184\nprezzo: 9800.5", str) == {"cap": "00184", "prezzo": 9800.5}


def test_a_yes_or_no_field_is_written_and_read_in_the_offices_words() -> None:
    """The record's page says sì for a yes/no field: the edit form writes it so, and a typed sì (or Si, or si) is
    yes, as true is; it was written `true`, and a typed `sì` was kept as a text"""
    italian = translator("it")
    current = {"firmato": True, "pagato": False}
    shown, _ = written(current, italian)
    assert shown == "firmato: sì\npagato: no"
    assert changed_fields(shown, current, italian) == {}
    assert changed_fields("firmato: no\npagato: Si", current, italian) == {"firmato": False, "pagato": True}
    assert free_fields("garage: sì\nbox: NO\ncantina: true\nnote: sì, due", italian) == {
        "garage": True, "box": False, "cantina": True, "note": "sì, due"}


def test_a_field_a_line_would_not_read_back_is_left_as_it_is() -> None:
    """A name with a colon or a line break, a value with any line break (CR, U+2028...): not on the form, and a save
    as drawn keeps them (`a: b: c` was saved as the field `a`); a number beyond what Babel writes, as Python does"""
    italian = translator("it")
    current = {"a: b": "c", "k:": "v", "x": "a\u2028b", "y": "a\rb", "n\nm": 1, "d": 1e25, "ok": 2.5}
    shown, kept = written(current, italian, "it")
    assert shown == "d: 1e+25\nok: 2,5" and kept == ["a: b", "k:", "n\nm", "x", "y"]
    assert changed_fields(shown, current, italian, "it") == {}
    assert value_in(italian, "it", 1e25) == "1e+25"  # the record's page (it answered 500)


def test_a_wrong_phone_is_said_in_the_offices_language() -> None:
    with pytest.raises(ValidationError) as refused:
        RecordCreate.model_validate({"kind": "contact", "title": "Rossi", "phone": "chiamami"})
    assert field_error(refused.value, translator("it"), {"phone": "Telefono"}) == (
        "Telefono: un numero di telefono: cifre, con spazi e + ( ) - . / se servono, come +39 06 1234 5678 (un interno "
        "dopo int: +39 06 1234 5678 int 12)")


def test_a_hidden_baseline_nested_thousands_deep_is_the_record_as_it_is() -> None:
    class Drawn:
        type, title, email, phone, channel, owner_id, fields = "", "T", None, None, "", None, {"a": 1}
    assert baseline('{"fields": ' * 5000 + "1" + "}" * 5000, Drawn())["fields"] == {"a": 1}


def test_every_badly_written_line_is_said_at_once() -> None:
    with pytest.raises(FormInvalid) as refused:
        free_fields("cap: 00184\nnota senza due punti\ncap: 00185\n: vuoto", translator("it"), "it")
    assert refused.value.message == ("riga 2: scrivi ogni campo come nome: valore; riga 3: il campo 'cap' è scritto "
                                     "due volte; riga 4: scrivi ogni campo come nome: valore"), refused.value.message


def test_a_number_is_written_and_read_as_the_office_writes_it() -> None:
    """In Italian the record's page says 2,5: the edit form writes it so, and reads 2,5 and 1.250,5 back as numbers
    (they were kept as texts, beside the same number written 2.5); 1.000 is a thousand, 2.5 still two and a half,
    and a code with a leading zero stays text"""
    italian = translator("it")
    current = {"dec": 2.5, "prezzo": 1250.5, "vani": 3}
    shown, _ = written(current, italian, "it")
    assert shown == "dec: 2,5\nprezzo: 1.250,5\nvani: 3"
    assert changed_fields(shown, current, italian, "it") == {}
    assert free_fields("a: 2,5\nb: 1.250,5\nc: 1.000\nd: 2.5\ne: 00184\nf: -0,75\ng: 1,2,3", italian, "it") == {
        "a": 2.5, "b": 1250.5, "c": 1000, "d": 2.5, "e": "00184", "f": -0.75, "g": "1,2,3"}
    assert free_fields("a: 2,5\nc: 1.000", str, "en") == {"a": "2,5", "c": 1.0}
    assert free_fields("a: 0.500\nb: 0,5", italian, "it") == {"a": 0.5, "b": 0.5}  # 0.500 is no thousands


async def test_a_record_made_and_changed_in_the_console(stack: Stack, sessions: Any) -> None:
    staff = await staff_user(sessions)
    admin = stack.as_("admin")
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get("/console/records/new")
        assert page.status_code == 200
        token = csrf_token(page)
        form = {"csrf_token": token, "kind": "job", "title": f"Impianto {tag}", "email": "not an address",
                "phone": "333 1234567", "channel": "telefono", "owner_id": str(staff.user.id),
                "fields": "cap: 00184\npotenza_kw: 4.5"}
        refused = await browser.post("/console/records", data=form)
        assert refused.status_code == 422 and "Email:" in html.unescape(refused.text)
        assert 'value="not an address"' in refused.text and "cap: 00184\npotenza_kw: 4.5</textarea>" in refused.text
        assert (await stack.http.get("/records", headers=admin, params={"q": tag})).json() == []
        form["idempotency_key"] = f"k{tag}"
        made = await browser.post("/console/records", data={**form, "email": f"c{tag}@example.org"})
        assert made.status_code == 303, made.text
        again = await browser.post("/console/records", data={**form, "email": f"c{tag}@example.org"})  # sent twice
        assert again.status_code == 303 and again.headers["location"] == f"/console/records?q=Impianto%20{tag}"
        assert len((await stack.http.get("/records", headers=admin, params={"q": tag})).json()) == 1
        record_id = int(made.headers["location"].split("/console/records/")[1].split("?")[0])
        record = (await stack.http.get(f"/records/{record_id}", headers=admin)).json()
        assert (record["kind"], record["title"], record["owner_id"], record["fields"]) == (
            "job", f"Impianto {tag}", staff.user.id, {"cap": "00184", "potenza_kw": 4.5})
        await stack.http.patch(f"/records/{record_id}", headers=admin, json={"fields": {"tetto": {"falde": 2}}})

        shown = await browser.get(f"/console/records/{record_id}?done=created")
        assert "The record was created." in shown.text and "tetto" in shown.text
        edited = await browser.post(f"/console/records/{record_id}/edit", data={
            "csrf_token": token, "title": f"Impianto {tag} (tetto sud)", "email": f"c{tag}@example.org",
            "phone": "", "channel": "telefono", "owner_id": str(staff.user.id), "fields": "cap: 00184\nkwp: 6"})
        assert edited.status_code == 303, edited.text
        record = (await stack.http.get(f"/records/{record_id}", headers=admin)).json()
        assert record["title"] == f"Impianto {tag} (tetto sud)" and record["phone"] is None
        assert record["fields"] == {"cap": "00184", "kwp": 6, "tetto": {"falde": 2}}  # the object left as it was
        history = (await stack.http.get(f"/records/{record_id}/history", headers=admin)).json()
        edit = [h for h in history if h["kind"] == "values_written"][-1]  # who changed what, from what to what
        assert edit["text"] == (f"Changed: title 'Impianto {tag}' → 'Impianto {tag} (tetto sud)'; phone '333 1234567' "
                                "→ —; field 'kwp' — → 6; field 'potenza_kw' 4.5 → —")
        assert staff.user.handle in edit["actor"]
        # the contact's page lists its records
        contact = (await stack.http.post("/records", headers=admin, json={
            "kind": "contact", "title": f"Rossi {tag}"})).json()
        await stack.http.patch(f"/records/{record_id}", headers=admin, json={"contact_id": contact["id"]})
        shown = await browser.get(f"/console/records/{contact['id']}")
        assert f'<a href="/console/records/{record_id}">Impianto {tag} (tetto sud)</a>' in shown.text
        record = (await stack.http.get(f"/records/{record_id}", headers=admin)).json()
        bad = await browser.post(f"/console/records/{record_id}/edit", data={
            "csrf_token": token, "title": "", "fields": "cap 00184"})
        assert bad.status_code == 422 and "line 1: write each field as name: value" in html.unescape(bad.text)
        assert (await stack.http.get(f"/records/{record_id}", headers=admin)).json() == record


def _drawn_form(page: str) -> dict[str, str]:
    """The edit form's values as the browser would send them back untouched."""
    form = page[page.index('action="/console/records/'):]
    form = form[:form.index("</form>")]
    values = {name: html.unescape(value) for name, value in re.findall(r'<input[^>]* name="(\w+)"[^>]* value="([^"]*)"',
                                                                      form)}
    owner = re.search(r'<select id="record-owner" name="owner_id">.*?<option value="(\d*)" selected', form, re.S)
    values["owner_id"] = owner.group(1) if owner else ""
    fields = re.search(r'<textarea id="record-fields"[^>]*>(.*?)</textarea>', form, re.S)
    values["fields"] = html.unescape(fields.group(1)) if fields else ""
    return values


async def test_a_form_saved_as_it_was_drawn_keeps_what_others_changed_meanwhile(stack: Stack, sessions: Any) -> None:
    """The edit form is drawn; the record is changed over the API; the form is saved with one line of its own
    changed: that change is made, and what the API changed is kept (the form saved as it was drawn had undone it)"""
    staff = await staff_user(sessions)
    admin = stack.as_("admin")
    made = (await stack.http.post("/records", headers=admin, json={
        "kind": "job", "title": "Impianto", "phone": "333 1234567", "owner_id": staff.user.id,
        "fields": {"a": 1, "b": 2, "flag": True}})).json()
    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        drawn = _drawn_form((await browser.get(f"/console/records/{made['id']}")).text)
        assert drawn["title"] == "Impianto" and json.loads(drawn["shown"])["fields"] == {"a": 1, "b": 2, "flag": True}
        await stack.http.patch(f"/records/{made['id']}", headers=admin, json={
            "title": "Impianto (nuovo)", "phone": None, "fields": {"a": 10, "b": None, "c": 3, "flag": False}})
        saved = await browser.post(f"/console/records/{made['id']}/edit", data={
            **drawn, "fields": drawn["fields"] + "\nkwp: 6"})
        assert saved.status_code == 303, saved.text
    record = (await stack.http.get(f"/records/{made['id']}", headers=admin)).json()
    assert (record["title"], record["phone"]) == ("Impianto (nuovo)", None)
    assert record["fields"] == {"a": 10, "c": 3, "flag": False, "kwp": 6}
