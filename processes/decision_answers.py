"""The answers a phase's decision reads, and the values its conditions compare them with: what the console shows
beside the answers of a phase's completion, so that staff answer what the decision reads.

`decision: [{when: "answers.esito == 'accettato'", goto: won}, {when: "answers.esito in ['rifiutato', 'perso']",
goto: lost}]` reads `esito`, compared with `accettato`, `rifiutato` and `perso`. A condition that reads an answer
without a constant to compare it with (`answers.importo > soglia`) names the answer with no values. Pure: no I/O.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import NumberFormatError, parse_decimal
from jinja2 import TemplateSyntaxError, nodes

from processes.rendering import parse_text
from processes.template import Phase

Compared = str | int | float | bool


def _answer_name(node: nodes.Node) -> str | None:
    """`answers.NAME` or `answers['NAME']`: the name; anything else: None."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "answers":
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and node.node.name == "answers" \
            and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _constants(node: nodes.Node) -> list[Compared]:
    if isinstance(node, nodes.Const) and isinstance(node.value, Compared):
        return [node.value]
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [item.value for item in node.items if isinstance(item, nodes.Const) and isinstance(item.value, Compared)]
    return []


def answers_read(phase: Phase) -> dict[str, list[Compared]]:
    """Each answer the phase's decision reads, in the order the conditions name them, with the constants it is
    compared with (`==`, `!=`, `in`), each once."""
    read: dict[str, list[Compared]] = {}
    for branch in phase.decision or []:
        try:
            ast = parse_text("{{ " + branch.when + " }}")
        except TemplateSyntaxError:  # checked when the template was saved; nothing to show
            continue
        for compare in ast.find_all(nodes.Compare):
            sides = [compare.expr, *(operand.expr for operand in compare.ops)]
            equality = all(operand.op in ("eq", "ne", "in", "notin") for operand in compare.ops)
            for side in sides:
                if (name := _answer_name(side)) is not None:
                    values = read.setdefault(name, [])
                    for other in sides:  # compared by order (`> 1000`): only that it is a number
                        values.extend(v for v in _constants(other) if v not in values and (equality or _number(v)))
        for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
            if (name := _answer_name(node)) is not None:
                read.setdefault(name, [])
    return read


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class NotANumber(ValueError):
    """An answer a decision compares with numbers, written as no number."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def as_read(answers: dict[str, Any], read: dict[str, list[Compared]], locale: str = "en") -> dict[str, Any]:
    """`answers` with each name, and each text value, written as the decision writes it where they differ only in
    case (`Esito: Accettato` is `esito: accettato`): a condition compares them exactly. An answer the decision compares
    with numbers is read as the office writes numbers (`1.500,00` in Italian), or refused (`NotANumber`): kept as
    text, `importo > 1000` had been an incident."""
    names = {name.casefold(): name for name in read}
    written: dict[str, Any] = {}
    for name, value in answers.items():
        name = names.get(name.casefold(), name)
        if isinstance(value, str) and any(_number(v) for v in read.get(name, [])):
            try:
                number = parse_decimal(value, locale=locale, strict=True)
            except (NumberFormatError, InvalidOperation, ValueError):
                try:
                    number = Decimal(value)  # written plainly: 1500.000
                except InvalidOperation:
                    raise NotANumber(name) from None
            if not number.is_finite() or abs(number.adjusted()) > 15:
                raise NotANumber(name)
            value = int(number) if number == number.to_integral_value() else float(number)
        elif isinstance(value, str):
            texts = {v.casefold(): v for v in read.get(name, []) if isinstance(v, str)}
            value = texts.get(value.casefold(), value)
        written[name] = value
    return written
