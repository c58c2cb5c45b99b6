"""Which outcome kinds an answer counts as, which reminders it offers, and when they go out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.campaign import (
    Remind,
    campaign_start,
    outcome_kinds,
    reminder_due,
    reminder_options,
)
from bot.campaign.stats import summarise
from bot.campaign.store import Row
from bot.conversation.screens import result_buttons
from bot.survey import Answers, Context, evaluate
from rules import Assessment, PolicySet, load_policies
from rules.policy import apply_overrides

TODAY = dt.date(2026, 11, 23)
POLICIES = load_policies()
TIANJIN_2027: Answers = {
    "region": "tianjin",
    "benefit_year": "2027",
    "insurance": "none",
    "group": "none",
    "paid_years": [],
    "payment": "period",
}


def assess(answers: Answers, today: dt.date = TODAY, policies: PolicySet = POLICIES) -> Assessment:
    return evaluate(answers, Context(today=today, policies=policies))


@pytest.mark.parametrize(
    ("answers", "kinds"),
    [
        (TIANJIN_2027, ["wait_4", "cap_down", "answers"]),
        (
            {"region": "xizang", "benefit_year": "2027", "insurance": "resident", "group": "none"},
            ["no_wait", "answers"],
        ),
        (
            {
                "region": "shanxi",
                "benefit_year": "2027",
                "insurance": "none",
                "group": "newborn",
                "birth_date": "2026-11-01",
                "payment": "2026-12-01",  # within 90 days of birth (shanxi 一(四))
            },
            ["exempt", "answers"],  # net change 0: neither up nor down
        ),
        (
            {
                **TIANJIN_2027,
                "insurance": "resident",
                "paid_years": ["2025", "2026"],
                "zero_claim_years": ["2025", "2026"],
            },
            ["no_wait", "cap_up", "answers"],
        ),
        (
            {**TIANJIN_2027, "benefit_year": "2026", "payment": "2026-11-23"},
            ["no_cover", "cap_down", "answers"],
        ),
    ],
)
def test_one_wait_kind_then_the_cap_direction_then_the_total(
    answers: Answers, kinds: list[str]
) -> None:
    assessment = assess(answers)
    found = outcome_kinds(assessment)
    assert found == kinds
    assert sum(k in ("exempt", "no_wait", "no_cover") or k.startswith("wait_") for k in found) == 1


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (dt.date(2026, 11, 23), dt.date(2026, 9, 1)),
        (dt.date(2026, 9, 1), dt.date(2026, 9, 1)),
        (dt.date(2026, 8, 31), dt.date(2025, 9, 1)),
        (dt.date(2027, 1, 5), dt.date(2026, 9, 1)),
    ],
)
def test_the_campaign_starts_on_the_last_september_1(today: dt.date, start: dt.date) -> None:
    assert campaign_start(today) == start


def test_summaries_order_outcomes_and_count_answers_by_region_and_language() -> None:
    rows = [
        Row(TODAY, "tianjin", "en", "answers", 2),
        Row(TODAY, "tianjin", "en", "wait_12", 1),
        Row(TODAY, "tianjin", "en", "wait_4", 1),
        Row(TODAY, "xizang", "bo", "answers", 3),
        Row(TODAY, "xizang", "bo", "cap_up", 3),
        Row(TODAY, "xizang", "bo", "exempt", 3),
    ]
    summary = summarise(rows)
    assert summary.answers == 5
    assert summary.outcomes == [("exempt", 3), ("wait_4", 1), ("wait_12", 1), ("cap_up", 3)]
    assert summary.regions == [("xizang", 3), ("tianjin", 2)]
    assert summary.locales == [("bo", 3), ("en", 2)]


def test_tianjin_offers_both_reminders_a_week_before_the_period_ends_and_on_the_start() -> None:
    assessment = assess(TIANJIN_2027)
    assert reminder_options(assessment, TODAY, POLICIES) == ["period_closing", "wait_ends"]
    assert reminder_due("period_closing", assessment, TODAY, POLICIES) == dt.date(2026, 12, 24)
    assert reminder_due("wait_ends", assessment, TODAY, POLICIES) == dt.date(2027, 5, 1)


def test_near_the_end_of_the_period_the_reminder_comes_tomorrow_and_then_not_at_all() -> None:
    assessment = assess(TIANJIN_2027)
    late = dt.date(2026, 12, 28)
    assert reminder_due("period_closing", assessment, late, POLICIES) == dt.date(2026, 12, 29)
    last_day = dt.date(2026, 12, 31)
    assert reminder_options(assessment, last_day, POLICIES) == ["wait_ends"]
    with pytest.raises(ValueError):
        reminder_due("period_closing", assessment, last_day, POLICIES)


def test_no_period_reminder_where_the_period_is_unknown_until_a_deployment_sets_it(
    tmp_path: Path,
) -> None:
    answers = {**TIANJIN_2027, "region": "xizang"}
    assert reminder_options(assess(answers), TODAY, POLICIES) == ["wait_ends"]

    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("xizang:\n  payment_period: 10-01/12-20\n", encoding="utf-8")
    policies = PolicySet(apply_overrides(POLICIES, overrides))
    assessment = assess(answers, policies=policies)
    assert reminder_options(assessment, TODAY, policies) == ["period_closing", "wait_ends"]
    assert reminder_due("period_closing", assessment, TODAY, policies) == dt.date(2026, 12, 13)


def test_no_wait_reminder_without_a_wait_or_once_it_has_begun() -> None:
    exempt = assess({**TIANJIN_2027, "group": "newborn", "birth_date": "2026-11-01"})
    assert "wait_ends" not in reminder_options(exempt, TODAY, POLICIES)
    no_wait = assess({**TIANJIN_2027, "insurance": "resident", "paid_years": ["2025", "2026"]})
    assert "wait_ends" not in reminder_options(no_wait, TODAY, POLICIES)
    assert reminder_options(assess(TIANJIN_2027), dt.date(2027, 5, 1), POLICIES) == []
    with pytest.raises(ValueError):
        reminder_due("wait_ends", no_wait, TODAY, POLICIES)


def test_buttons_carry_remind_callback_data_and_a_localised_label() -> None:
    kinds = tuple(reminder_options(assess(TIANJIN_2027), TODAY, POLICIES))
    rows = result_buttons("en", whatif_repair=False, whatif_paid=False, aid=False, reminders=kinds)
    buttons = [b for row in rows for b in row if b.data.startswith("rm:")]
    assert [Remind.unpack(b.data).kind for b in buttons] == ["period_closing", "wait_ends"]
    assert buttons[1].label == "Remind me when my waiting period ends"
    assert all(len(b.data.encode()) <= 64 for row in rows for b in row)
