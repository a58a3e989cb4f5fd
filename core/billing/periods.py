"""Days and months as the customers count them (Europe/Stockholm); a month is the date of its first day."""

from __future__ import annotations

import re
from datetime import date, datetime

from core.platform.clock import LOCAL_ZONE, as_utc


def local_day(moment: datetime) -> date:
    """The Stockholm calendar day of a moment: 2026-03-31 23:30 UTC is 2026-04-01."""
    return as_utc(moment).astimezone(LOCAL_ZONE).date()


def month_of(day: date) -> date:
    return day.replace(day=1)


def local_month(moment: datetime) -> date:
    """The Stockholm calendar month of a moment, as its first day."""
    return month_of(local_day(moment))


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def month_key(month: date) -> str:
    """``2026-04``: how a month appears in URLs, the API and the CSV."""
    return f"{month.year:04d}-{month.month:02d}"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date | None:
    match = _MONTH.match(text.strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (2000 <= year <= 2999 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def overlaps(first_from: date, first_to: date | None, second_from: date, second_to: date | None) -> bool:
    """Whether two inclusive day ranges share a day (an empty end means open-ended)."""
    first_ends_before = first_to is not None and first_to < second_from
    second_ends_before = second_to is not None and second_to < first_from
    return not (first_ends_before or second_ends_before)
