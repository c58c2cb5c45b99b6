"""Anonymous statistics: what kind of answer people got, counted by day, region and language."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.campaign.store import Row
from rules import Assessment

ANSWERS = "answers"  # the outcome every answer has: the total
_ORDER = ("exempt", "no_wait", "wait_", "no_cover", "cap_up", "cap_down")


def outcome_kinds(assessment: Assessment) -> list[str]:
    """The counters an answer adds to: one wait kind, the cap's direction if known, `answers`."""
    waiting = assessment.waiting
    if waiting.exempt:
        kinds = ["exempt"]
    elif waiting.no_cover_this_year:
        kinds = ["no_cover"]
    elif waiting.applies and waiting.total_months > 0:
        kinds = [f"wait_{waiting.total_months}"]
    else:
        kinds = ["no_wait"]
    net = assessment.cap.net_change
    if net is not None and net > 0:
        kinds.append("cap_up")
    elif net is not None and net < 0:
        kinds.append("cap_down")
    return [*kinds, ANSWERS]


def campaign_start(today: dt.date) -> dt.date:
    """September 1 of the enrolment campaign `today` belongs to."""
    year = today.year if today >= dt.date(today.year, 9, 1) else today.year - 1
    return dt.date(year, 9, 1)


def _outcome_order(outcome: str) -> tuple[int, int]:
    for index, prefix in enumerate(_ORDER):
        if outcome == prefix or (prefix == "wait_" and outcome.startswith(prefix)):
            return index, int(outcome.removeprefix("wait_")) if prefix == "wait_" else 0
    return len(_ORDER), 0


@dataclass(frozen=True)
class Summary:
    """Figures for one span of days, ready for the template."""

    answers: int
    outcomes: list[tuple[str, int]]
    regions: list[tuple[str, int]]
    locales: list[tuple[str, int]]


def summarise(rows: Iterable[Row]) -> Summary:
    """Totals by outcome, and answers by region and by language."""
    outcomes: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    locales: Counter[str] = Counter()
    for row in rows:
        outcomes[row.outcome] += row.count
        if row.outcome == ANSWERS:
            regions[row.region] += row.count
            locales[row.locale] += row.count
    answers = outcomes.pop(ANSWERS, 0)
    return Summary(
        answers=answers,
        outcomes=sorted(outcomes.items(), key=lambda item: _outcome_order(item[0])),
        regions=regions.most_common(),
        locales=locales.most_common(),
    )
