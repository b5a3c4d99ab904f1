"""A record search (`q`) as an office types it: any case in any alphabet, and `%` or `_` as themselves, on SQLite
as on PostgreSQL (SQLite's LIKE folds ASCII only, and both took `%` and `_` as wildcards)."""

from __future__ import annotations

import uuid

from tests.bad_input.conftest import Api


async def test_a_search_folds_every_letter_and_takes_wildcards_as_text(api: Api) -> None:
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    titles = [f"Via Università 5 {tag}", f"Łódź {tag}", f"Sconto 100% {tag}", f"Sconto 1000 {tag}",
              f"file_nome {tag}", f"filexnome {tag}"]
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
