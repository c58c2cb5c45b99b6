"""Calendar arithmetic the rules use: whole months, as the texts count waiting periods."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved forward by whole months, clamped to the month's last day (ISO dates)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    days = day.day
    if days > 28:  # every month has the 28th
        days = min(days, calendar.monthrange(year, month)[1])
    return dt.date(year, month, days)


def year_end(year: int) -> dt.date:
    """31 December of `year`."""
    return dt.date(year, 12, 31)
