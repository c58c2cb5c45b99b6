"""Which reminders an answer may offer, and when each is due: pure, so the conversation core
(bot/conversation) offers them and the reminder sender (reminders.py) keeps them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rules import Assessment, PolicySet, load_policies
from rules.policy import period_bounds

if TYPE_CHECKING:
    from bot.campaign.store import Kind

PERIOD_LEAD = dt.timedelta(days=7)  # how long before the period closes the reminder comes


def period_end(assessment: Assessment, policies: PolicySet | None = None) -> dt.date | None:
    """The last day of the region's centralized payment period for the benefit year, if known."""
    policy = (load_policies() if policies is None else policies)[assessment.region]
    period = policy.get("payment_period", dt.date(assessment.benefit_year, 1, 1))
    return period_bounds(period, assessment.benefit_year)[1] if period else None


def reminder_options(
    assessment: Assessment, today: dt.date, policies: PolicySet | None = None
) -> list[Kind]:
    """The reminders worth offering for this answer on `today`."""
    kinds: list[Kind] = []
    end = period_end(assessment, policies)
    if end is not None and end > today:
        kinds.append("period_closing")
    start = assessment.waiting.benefit_start
    # No reminder of a wait that ends in a year this payment does not cover.
    waiting = assessment.waiting
    if waiting.applies and start is not None and start > today and not waiting.no_cover_this_year:
        kinds.append("wait_ends")
    return kinds


def reminder_due(
    kind: Kind, assessment: Assessment, today: dt.date, policies: PolicySet | None = None
) -> dt.date:
    """The day a reminder of `kind` is sent; ValueError when it is not offered."""
    if kind not in reminder_options(assessment, today, policies):
        raise ValueError(f"no {kind} reminder for this answer on {today}")
    if kind == "period_closing":
        end = period_end(assessment, policies)
        assert end is not None
        # Close to the end, a week's notice is no longer possible: remind tomorrow.
        return max(end - PERIOD_LEAD, today + dt.timedelta(days=1))
    start = assessment.waiting.benefit_start
    assert start is not None
    return start


def reminder_payload(
    kind: Kind, assessment: Assessment, policies: PolicySet | None = None
) -> dict[str, Any]:
    """What the reminder's text needs besides its date: no answers, nothing personal."""
    payload: dict[str, Any] = {"benefit_year": assessment.benefit_year}
    if kind == "period_closing":
        end = period_end(assessment, policies)
        assert end is not None
        payload["closes"] = end.isoformat()
    return payload
