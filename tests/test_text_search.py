"""`crm.text_search.fold`, SQLite's side of a search: no case, no accent, as PostgreSQL's `lower(unaccent(...))`
writes the same letters (the search itself is tried over the API on both databases: tests/bad_input)."""

from __future__ import annotations

import pytest

from crm import text_search
from crm.text_search import fold


@pytest.mark.parametrize(("typed", "folded"), [
    ("Bàrberi", "barberi"), ("PERCHÉ", "perche"), ("Perche\u0301", "perche"), ("ŁÓDŹ", "lodz"), ("Straße", "strasse"),
    ("Øresund", "oresund"), ("Æsop", "aesop"), ("Œuvre", "oeuvre"), ("İstanbul", "istanbul"), ("ﬁle", "file"),
    ("Ｆｕｌｌ", "full"), ("Đorđe", "dorde"), ("Þór", "thor"), ("Zanetti 100%", "zanetti 100%"), ("東京", "東京"),
])
def test_a_text_is_folded_as_postgresqls_unaccent_writes_it(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_the_characters_worked_out_are_kept_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A search in every script there is does not grow the table without end"""
    monkeypatch.setattr(text_search, "_KEPT_CHARACTERS", len(text_search._UNACCENT) + 100)
    everything = "".join(chr(code) for code in range(0x100, 0x3000))
    assert fold(everything) == fold(everything)
    assert len(text_search._UNACCENT) <= text_search._KEPT_CHARACTERS
