"""Texts as an office types them: a record search (`q`) in any case and with or without accents in any alphabet, `%`
or `_` as themselves, on SQLite as on PostgreSQL (SQLite's LIKE folds ASCII only, both took `%` and `_` as wildcards,
and neither found "Bàrberi" from `barberi`); a title, a status or a task's title of spaces only refused, and spaces
around taken off."""

from __future__ import annotations

import uuid

from tests.bad_input.conftest import Api


async def test_a_search_folds_every_letter_and_takes_wildcards_as_text(api: Api) -> None:
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    titles = [f"Via Università 5 {tag}", f"Łódź {tag}", f"Sconto 100% {tag}", f"Sconto 1000 {tag}",
              f"file_nome {tag}", f"filexnome {tag}", f"Ufficio di İstanbul {tag}"]
    for title in titles:
        made = await api.http.post("/records", headers=admin, json={"kind": "contact", "title": title})
        assert made.status_code == 201, made.text

    async def found(q: str) -> list[str]:
        response = await api.http.get("/records", headers=admin, params={"q": q, "limit": 500})
        assert response.status_code == 200, response.text
        return sorted(r["title"] for r in response.json() if r["title"].endswith(tag))

    assert await found("UNIVERSITÀ") == [f"Via Università 5 {tag}"]
    assert await found("università") == [f"Via Università 5 {tag}"]
    assert await found(f"ŁÓDŹ {tag}") == [f"Łódź {tag}"]
    assert await found(f"100% {tag}") == [f"Sconto 100% {tag}"]
    assert await found(f"file_nome {tag}") == [f"file_nome {tag}"]
    assert await found("%") == [f"Sconto 100% {tag}"]
    assert await found("_") == [f"file_nome {tag}"]
    # Python folds İ to i and a combining dot; PostgreSQL, and an office, to i
    assert await found(f"istanbul {tag}") == await found(f"İSTANBUL {tag}") == [f"Ufficio di İstanbul {tag}"]


async def test_a_search_finds_a_text_with_or_without_its_accents(api: Api) -> None:
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    titles = [f"Famiglia Bàrberi {tag}", f"Perche\u0301 no {tag}", f"Łódź Straße {tag}", f"Sconto c/o {tag}"]
    for title in titles:
        made = await api.http.post("/records", headers=admin, json={"kind": "contact", "title": title})
        assert made.status_code == 201, made.text

    async def found(q: str, path: str = "/records") -> list[str]:
        response = await api.http.get(path, headers=admin, params={"q": q, "limit": 500})
        assert response.status_code == 200, response.text
        return sorted(r["title"] for r in response.json() if r["title"].endswith(tag))

    barberi = [f"Famiglia Bàrberi {tag}"]
    assert await found(f"barberi {tag}") == await found(f"BARBERI {tag}") == await found(f"Bàrberi {tag}") == barberi
    assert await found(f"barbe\u0300ri {tag}") == barberi  # the accent typed as a combining character
    # a title saved with its accent decomposed (pasted from a Mac) is found by the composed one, and without it
    assert await found(f"perché no {tag}") == await found(f"PERCHE NO {tag}") == [f"Perche\u0301 no {tag}"]
    assert await found(f"lodz strasse {tag}") == [f"Łódź Straße {tag}"]
    # a text whose folding makes a `/` (℅ is c/o) is still the text, not an escape
    assert await found(f"\u2105 {tag}") == await found(f"c/o {tag}") == [f"Sconto c/o {tag}"]
    assert await found(f"barbera {tag}") == []


async def test_a_title_or_status_of_spaces_only_is_refused_and_spaces_around_are_taken_off(api: Api) -> None:
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    for body, path in (({"kind": "contact", "title": "   "}, "body.title"),
                       ({"kind": "lead", "title": f"Lead {tag}", "status": ""}, "body.status"),
                       ({"kind": "lead", "title": f"Lead {tag}", "status": "  "}, "body.status")):
        refused = await api.http.post("/records", headers=admin, json=body)
        assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == path, refused.text
        assert refused.json()["errors"][0]["message"] == "expected some text, not only spaces"
    made = await api.http.post("/records", headers=admin, json={"kind": "lead", "title": f"  Lead {tag} ",
                                                                 "status": " In corso  "})
    assert made.status_code == 201 and (made.json()["title"], made.json()["status"]) == (f"Lead {tag}", "In corso")
    patched = await api.http.patch(f"/records/{made.json()['id']}", headers=admin, json={"title": " "})
    assert patched.status_code == 422 and patched.json()["errors"][0]["path"] == "body.title"
    task = await api.http.post("/tasks", headers=admin, json={"record_id": made.json()["id"], "title": "   "})
    assert task.status_code == 422 and task.json()["errors"][0]["path"] == "body.title", task.text


async def test_a_free_fields_name_typed_with_a_combining_accent_is_the_same_field(api: Api) -> None:
    staff = api.as_("staff")
    made = await api.http.post("/records", headers=staff, json={
        "kind": "lead", "title": "Accents", "fields": {"citta\u0300": "Roma"}})
    assert made.status_code == 201 and made.json()["fields"] == {"città": "Roma"}, made.text
    record = f"/records/{made.json()['id']}"
    changed = await api.http.patch(record, headers=staff, json={"fields": {"citta\u0300": "Milano"}})
    assert changed.json()["fields"] == {"città": "Milano"}, changed.text
    removed = await api.http.patch(record, headers=staff, json={"fields": {"citta\u0300": None}})
    assert removed.json()["fields"] == {}, removed.text
