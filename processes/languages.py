"""The languages Stagecoach writes its own words in (the engine's emails, the records' history lines): a locale
picks its language's table (it, it_IT, it-CH: Italian), any other gets English."""

from __future__ import annotations

SHIPPED = ("en", "it")


def language(locale: str) -> str:
    """The shipped language of a locale (`it_CH`, `it-IT`: it), else English."""
    primary = locale.replace("-", "_").split("_")[0].lower()
    return primary if primary in SHIPPED else "en"
