"""Small pieces of English the product's messages share."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """'1 line', '2 lines', '0 lines'; `plural` where adding an s is wrong ('1 process', '2 processes')."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def with_article(noun: str) -> str:
    """'a lead', 'an order', 'an opportunity': the noun after its article."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
