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


def start_after(day: dt.date, months: int) -> dt.date:
    """The first day of cover after a wait of `months` whole months counted from `day`, its
    first day (ISO dates): the same day of the month, `months` later (Fuxin's official example:
    paid 2025-11-06, a 3-month wait, benefits from 2026-02-06). Where that month has no such day
    (paid on 29 November, a 3-month wait, and February has 28 days), the wait ends with the
    month and cover starts on the 1st of the next: a wait is never shorter than its months.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if day.day > 28 and day.day > calendar.monthrange(year, month)[1]:
        return dt.date(year + month // 12, month % 12 + 1, 1)
    return dt.date(year, month, day.day)


def year_end(year: int) -> dt.date:
    """31 December of `year`."""
    return dt.date(year, 12, 31)
