"""Filters for dates, times, numbers and money, written the way the office writes them (Babel).

    {{ phase.deadline | date }}                 2 dicembre 2026        (it)   2. Dezember 2026 (de)
    {{ now | time }}                            14:30
    {{ record.fields.price | currency }}        450.000 €              (it)   €450,000 (en)
    {{ record.fields.area | number(1) }}        80,5
    {{ phase.deadline | date('EEEE d MMMM', locale='fr') }}   mercredi 2 décembre

The language is the template's `locale` (or the installation's `LOCALE`), overridable per
filter with `locale=`; dates are shown in the installation's `TIMEZONE`. A value that is
not a date or a number, an unknown locale or currency, is a `ValueError` naming the filter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.core import get_global
from jinja2 import pass_context

from processes.office import current_office

DATE_FORMATS = ("short", "medium", "long", "full")
MAX_PATTERN = 100  # characters of a CLDR date pattern ('EEEE d MMMM y')
MAX_DIGITS = 10


@functools.lru_cache(maxsize=256)
def parse_locale(name: str) -> Locale:
    """A Babel locale from `it`, `de_CH`, `fr-CA`; `ValueError` naming it when Babel does not know it."""
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale '{name}' (use a language code such as it, fr, de, en, de_CH)") from None


def _locale(locale: str | None) -> Locale:
    return parse_locale(locale or current_office().locale)


def _moment(value: Any, what: str) -> date | datetime:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(text) if ("T" in text or " " in text) else date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{what}: {str(value)[:40]!r} is not a date (give a date, or text like 2026-12-02)")


def _local(value: date | datetime) -> date | datetime:
    """A datetime in the office's time zone (a naive one is taken to be UTC); a date as it is."""
    if not isinstance(value, datetime):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(current_office().tz)


def _pattern(format: Any, what: str) -> str:
    if not isinstance(format, str) or not format or len(format) > MAX_PATTERN:
        raise ValueError(f"{what}: the format must be one of {', '.join(DATE_FORMATS)} or a pattern such as "
                         f"'d MMMM y' of at most {MAX_PATTERN} characters")
    return format


def date_filter(value: Any, format: str = "long", locale: str | None = None) -> str:
    """`2 dicembre 2026`: `short`, `medium`, `long` (default), `full`, or a CLDR pattern (`EEEE d MMMM`)."""
    moment = _local(_moment(value, "date"))
    return babel_dates.format_date(moment, _pattern(format, "date"), locale=_locale(locale))


def time_filter(value: Any, format: str = "short", locale: str | None = None) -> str:
    """`14:30` in the office's time zone: `short` (default), `medium`, `long`, `full`, or a pattern (`HH:mm`)."""
    moment = _moment(value, "time")
    if not isinstance(moment, datetime):
        raise ValueError(f"time: {str(value)[:40]!r} has no time of day")
    return babel_dates.format_time(_local(moment), _pattern(format, "time"), locale=_locale(locale))


def format_datetime_value(value: Any, format: str | None, locale: str | None) -> str:
    """A date with its time of day; without `format`, the long date and the short time ("2 dicembre 2026, 14:30")."""
    moment = _moment(value, "datetime")
    if not isinstance(moment, datetime):
        return date_filter(moment, "long", locale)
    local, where = _local(moment), _locale(locale)
    if format is None:
        return date_and_time(local, where, "long")
    return babel_dates.format_datetime(local, _pattern(format, "datetime"), locale=where)


def brief_date_and_time(moment: datetime, where: Locale) -> str:
    """The medium date and the short time of day, as a page or a notice mentions a moment: "4 dic 2026 06:58",
    "Dec 4, 2026 6:58 AM"."""
    return f"{babel_dates.format_date(moment, 'medium', locale=where)} " \
           f"{babel_dates.format_time(moment, 'short', locale=where)}"


def date_and_time(moment: datetime, where: Locale, date_format: str, joining: str = "medium") -> str:
    """A date (`date_format`) and its short time of day, joined as the locale's `joining` format joins them
    ("2 dicembre 2026, 14:30")."""
    joined = str(babel_dates.get_datetime_format(joining, locale=where))
    return joined.replace("{1}", babel_dates.format_date(moment, date_format, locale=where)) \
                 .replace("{0}", babel_dates.format_time(moment, "short", locale=where))


def datetime_filter(value: Any, format: str | None = None, locale: str | None = None) -> str:
    """`2 dicembre 2026, 14:30`, or `short`, `medium`, `long`, `full`, or a pattern (`d MMM y HH:mm`)."""
    return format_datetime_value(value, format, locale)


MAX_EXPONENT = 20  # a number past 10**20 is no amount (Babel cannot give 1e50 two decimals, nor format 1e999999)


def _number(value: Any, what: str, where: Locale) -> Decimal | int | float:
    """A number, or a text of one: written as the office writes numbers (`9.800,50`, `4,5` in Italian: a field
    imported from a spreadsheet), else plainly (`1250.5`, as an API client writes one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValueError(f"{what}: {str(value)[:40]!r} is not a number")
    number: Decimal | int | float = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = babel_numbers.parse_decimal(text, locale=where, strict=True)
        except (babel_numbers.NumberFormatError, InvalidOperation, ValueError):
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise ValueError(f"{what}: {value[:40]!r} is not a number") from None
    exact = Decimal(str(number))
    if not exact.is_finite():  # NaN, Infinity
        raise ValueError(f"{what}: {str(value)[:40]!r} is not a number")
    if exact.adjusted() > MAX_EXPONENT:
        raise ValueError(f"{what}: {str(value)[:40]!r} is too large (more than {MAX_EXPONENT + 1} digits)")
    return number


def _digits(digits: Any, what: str) -> int | None:
    if digits is None:
        return None
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= MAX_DIGITS:
        raise ValueError(f"{what}: digits must be a whole number from 0 to {MAX_DIGITS}")
    return digits


def _with_digits(pattern: str, digits: int) -> str:
    """A CLDR number pattern with exactly `digits` decimals ('#,##0.00 ¤' -> '#,##0 ¤' for 0)."""
    fraction = "." + "0" * digits if digits else ""
    if re.search(r"0\.[0#]+", pattern):
        return re.sub(r"0\.[0#]+", "0" + fraction, pattern)
    return re.sub(r"0(?![0#.,])", "0" + fraction, pattern)  # '#,##0%' -> '#,##0.0%'


def number_filter(value: Any, digits: int | None = None, locale: str | None = None) -> str:
    """`450.000`, `80,5`: grouped as the office writes numbers; `digits` fixes the decimals."""
    where = _locale(locale)
    number, places = _number(value, "number", where), _digits(digits, "number")
    if places is None:
        return babel_numbers.format_decimal(number, locale=where)
    pattern = _with_digits(where.decimal_formats[None].pattern, places)
    return babel_numbers.format_decimal(number, format=pattern, locale=where)


def default_currency(where: Locale) -> str:
    territory = where.territory or Locale.parse(get_global("likely_subtags").get(
        where.language, where.language)).territory
    found = babel_numbers.get_territory_currencies(territory) if territory else []
    return found[0] if found else "EUR"


def currency_filter(value: Any, currency: str | None = None, digits: int | None = None,
                    locale: str | None = None) -> str:
    """`450.000 €`, `1.234,50 €`: whole amounts without decimals unless `digits` says; the currency is the
    locale's country's (EUR for it, fr, de) unless given (`currency('CHF')`)."""
    where = _locale(locale)
    number, places = _number(value, "currency", where), _digits(digits, "currency")
    code = (currency or default_currency(where)).upper() if isinstance(currency, (str, type(None))) else ""
    if not babel_numbers.is_currency(code):
        raise ValueError(f"currency: unknown currency '{currency}' (use a code such as EUR, CHF, USD, GBP)")
    if places is None:
        places = 0 if Decimal(str(number)) == Decimal(str(number)).to_integral_value() \
            else babel_numbers.get_currency_precision(code)
    pattern = _with_digits(where.currency_formats["standard"].pattern, places)
    return babel_numbers.format_currency(number, code, format=pattern, locale=where, currency_digits=False)


def percent_filter(value: Any, digits: int = 0, locale: str | None = None) -> str:
    """`25%` (0.25 is 25 %), with `digits` decimals."""
    where = _locale(locale)
    number, places = _number(value, "percent", where), _digits(digits, "percent") or 0
    pattern = _with_digits(where.percent_formats[None].pattern, places)
    return babel_numbers.format_percent(number, format=pattern, locale=where)


def _at_render_time(fn: Callable[..., str]) -> Callable[..., str]:
    """Marked as reading the render's context, so Jinja2 never folds `{{ 5 | currency }}` when it compiles a
    text: the office (language, time zone) is known only when it renders."""
    @pass_context
    @functools.wraps(fn)
    def filter_(context: Any, *args: Any, **kwargs: Any) -> str:
        return fn(*args, **kwargs)
    return filter_


FILTERS: dict[str, Callable[..., str]] = {name: _at_render_time(fn) for name, fn in {
    "date": date_filter,
    "time": time_filter,
    "datetime": datetime_filter,
    "number": number_filter,
    "currency": currency_filter,
    "percent": percent_filter,
}.items()}
# the keyword arguments naming a locale or a currency, checked when a template is saved when they are constants
LOCALE_ARGUMENT = "locale"
FILTER_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "date": ("format", "locale"), "time": ("format", "locale"), "datetime": ("format", "locale"),
    "number": ("digits", "locale"), "currency": ("currency", "digits", "locale"), "percent": ("digits", "locale"),
}
