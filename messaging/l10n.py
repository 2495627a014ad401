"""German numbers, money, dates and plurals through Babel (CLDR data), for pages and mails alike.

Hand-written formatting got the details wrong ("1 Anfragen", "Erinnerung(en)", `f"{x:,}"` with swapped
separators); CLDR knows the locale's plural rules, separators, currency placement and weekday names, so
every text that counts or formats something goes through here.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal

LOCALE = Locale.parse("de_DE")


def plural(count: int, one: str, other: str) -> str:
    """ONE or OTHER by CLDR's plural rule for the count; both may use {n} for the formatted number."""
    form = one if LOCALE.plural_form(count) == "one" else other
    return form.format(n=number(count))


def number(value: Decimal | float | int, decimals: int | None = None) -> str:
    """1.234,5 — DECIMALS fixes the digits after the comma (None: as many as the value has, up to three)."""
    if decimals is None:
        return format_decimal(value, locale=LOCALE)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def money(value: Decimal | float | int, currency: str = "EUR") -> str:
    """1.250 € for whole amounts, 1.250,50 € otherwise: listings show rents without ",00"."""
    whole = Decimal(str(value)) == Decimal(str(value)).to_integral_value()
    return format_currency(
        value, currency, format="#,##0 ¤" if whole else "#,##0.00 ¤", locale=LOCALE, currency_digits=False
    )


def area(value: Decimal | float | int) -> str:
    return f"{number(value, 0)} m²"


def rooms(value: Decimal | float | int) -> str:
    """3 or 2,5: half rooms are common in German listings, "3,0 Zimmer" is not."""
    return number(Decimal(str(value)).normalize())


def _local(value: datetime, zone: str | ZoneInfo | None) -> datetime:
    if value.tzinfo is None or zone is None:
        return value
    return value.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)


def day(value: date | datetime, zone: str | ZoneInfo | None = None) -> str:
    """23.11.2026"""
    if isinstance(value, datetime):
        value = _local(value, zone).date()
    return format_date(value, "dd.MM.yyyy", locale=LOCALE)


def day_time(value: datetime, zone: str | ZoneInfo | None = None) -> str:
    """23.11.2026 17:05"""
    return format_datetime(_local(value, zone), "dd.MM.yyyy HH:mm", locale=LOCALE)


def short_day_time(value: datetime, zone: str | ZoneInfo | None = None) -> str:
    """25.11. 09:00: lists where the year is obvious."""
    return format_datetime(_local(value, zone), "dd.MM. HH:mm", locale=LOCALE)


def weekday_day(value: date | datetime, zone: str | ZoneInfo | None = None) -> str:
    """Di., 01.12.2026 — the weekday people plan a viewing by."""
    if isinstance(value, datetime):
        value = _local(value, zone).date()
    return format_date(value, "EEE, dd.MM.yyyy", locale=LOCALE)


def clock(value: datetime | time, zone: str | ZoneInfo | None = None) -> str:
    """17:05"""
    if isinstance(value, datetime):
        value = _local(value, zone)
    return format_time(value, "HH:mm", locale=LOCALE)


def time_range(starts_at: datetime, ends_at: datetime, zone: str | ZoneInfo | None = None) -> str:
    """Di., 01.12.2026, 10:00–11:00 Uhr — the same words on the prospect's page, the agent's list and the mail."""
    start, end = _local(starts_at, zone), _local(ends_at, zone)
    if start.date() != end.date():
        return f"{weekday_day(start)}, {clock(start)} Uhr – {weekday_day(end)}, {clock(end)} Uhr"
    return f"{weekday_day(start)}, {clock(start)}–{clock(end)} Uhr"


_UNITS = {
    "minutes": ("{n} Minute", "{n} Minuten"),
    "hours": ("{n} Stunde", "{n} Stunden"),
    "days": ("{n} Tag", "{n} Tage"),
    "weeks": ("{n} Woche", "{n} Wochen"),
}


def period(value: int, unit: str) -> str:
    """3 Tage, 1 Woche: a sales phase's duration or a reminder interval as people say it."""
    one, other = _UNITS.get(unit, ("{n} " + unit, "{n} " + unit))
    return plural(value, one, other)
