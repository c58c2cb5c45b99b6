"""What to do next under an answer: how to pay, by when, whom to ask. Plain data for templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rules import Assessment
from rules.policy import period_bounds

# 国家医疗保障局 12393 医保服务热线 (the national medical-security service hotline).
HOTLINE = "12393"
# Side rules of a region's text that name how premiums are paid (policy files, with quotes).
CHANNELS = ("pay_channels", "collective_payment")


@dataclass(frozen=True)
class NextSteps:
    """The block's data. `deadline`: the last day of the payment period open today, for the
    benefit year `deadline_year`; `channels`: the side-rule ids naming how to pay; `office`,
    `payment_url`: deployment settings."""

    hotline: str
    channels: tuple[str, ...]
    deadline: dt.date | None = None
    deadline_year: int | None = None
    office: str | None = None
    payment_url: str | None = None


def open_period(period: str | None, today: dt.date) -> tuple[int, dt.date] | None:
    """(benefit year, last day) of the centralized period open on `today`, if any."""
    if not period:
        return None
    for year in (today.year, today.year + 1):
        first, last = period_bounds(period, year)
        if first <= today <= last:
            return year, last
    return None


def next_steps(
    assessment: Assessment,
    today: dt.date,
    office: str | None = None,
    payment_url: str | None = None,
) -> NextSteps:
    """The next-steps block for `assessment` on `today`."""
    channels = tuple(r.id for r in assessment.side_rules if r.id in CHANNELS)
    found = open_period(assessment.waiting.period, today)
    return NextSteps(
        hotline=HOTLINE,
        channels=channels,
        deadline=found[1] if found else None,
        deadline_year=found[0] if found else None,
        office=office,
        payment_url=payment_url,
    )
