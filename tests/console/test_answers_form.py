"""The answers staff write on the console (`name: value` lines) as the process keeps them: numbers as numbers, so a
decision can compare them, and anything a number would change (a leading zero, a `+`, a comma) as typed."""

from __future__ import annotations

import pytest

from api.console.actions import FormInvalid, answers
from processes.rendering import evaluate_condition


def test_codes_with_leading_zeros_stay_as_typed_and_amounts_are_numbers() -> None:
    """A phone number, a CAP, a partita IVA or a code is kept as text; a count or an amount is a number"""
    given = answers("telefono: 0212345678\ncap: 00184\ncodice: 007\npartita_iva: 01234567890\n"
                    "cellulare: +393331234567\nimporto_it: 1.250,50\n"
                    "importo: 1250.50\nvani: 3\nzero: 0\nsconto: 0.15\nsaldo: -12\nfirmato: true", str)
    assert given == {"telefono": "0212345678", "cap": "00184", "codice": "007", "partita_iva": "01234567890",
                     "cellulare": "+393331234567", "importo_it": "1.250,50",
                     "importo": 1250.5, "vani": 3, "zero": 0, "sconto": 0.15, "saldo": -12, "firmato": True}
    # a decision comparing numbers still works, and one comparing a code compares the code as written
    assert evaluate_condition("answers.importo > 1000 and answers.vani >= 3", {"answers": given})
    assert evaluate_condition("answers.cap == '00184'", {"answers": given})


def test_an_answer_given_twice_is_refused_and_digits_are_0_to_9() -> None:
    """Two lines of one name would keep only the last, silently: refused, saying which; a number in other digits
    (full-width, Arabic-Indic) is text, as typed"""
    with pytest.raises(FormInvalid) as twice:
        answers("esito: ok\nimporto: 12\nesito: ko", str)
    assert twice.value.message == "line 3: 'esito' is answered twice"
    assert answers("vani: １２\npiano: ٣", str) == {"vani": "１２", "piano": "٣"}
