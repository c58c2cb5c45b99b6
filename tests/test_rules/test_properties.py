"""Invariants of the waiting period and the cap, over generated profiles."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import render, render_macro
from rules import REGIONS, Profile, assess, load_policies
from rules.breaks import History
from rules.cap_memo import clear_cap_memo
from rules.models import GROUPS

# Hundreds of generated profiles per invariant: seconds each. The hand-computed cases
# (test_cases.py) and the policy checks stay in the everyday loop.
pytestmark = pytest.mark.slow

POLICIES = load_policies()
TODAY = dt.date(2026, 11, 23)


PERIODS = (None, "09-01/12-31", "10-15/02-28", "11-01/12-20")


@st.composite
def coverage_of(draw: st.DrawFn, year: int) -> object:
    kind = draw(st.sampled_from(["resident", "employee", "none"]))
    if kind == "none" or not draw(st.booleans()):
        return kind
    detail: dict[str, object] = {"kind": kind}
    if draw(st.booleans()):
        detail["paid_on"] = draw(st.dates(dt.date(year - 1, 1, 1), dt.date(year, 12, 31)))
    if draw(st.booleans()):
        detail["until"] = draw(st.dates(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    return detail


@st.composite
def profiles(draw: st.DrawFn, with_group: bool = True) -> Profile:
    year = draw(st.integers(2025, 2045))
    coverage = {y: draw(coverage_of(y)) for y in range(2025, year)}
    covered = [y for y, kind in coverage.items() if kind != "none"]
    zero = draw(st.lists(st.sampled_from(covered), unique=True)) if covered else []
    others = [y for y in covered if y not in zero]
    used = draw(st.lists(st.sampled_from(others), unique=True, max_size=2)) if others else []
    payment = draw(st.none() | st.dates(dt.date(year - 1, 1, 1), dt.date(year, 12, 31)))
    return Profile.model_validate(
        {
            "region": draw(st.sampled_from(REGIONS)),
            "benefit_year": year,
            "coverage": coverage,
            "payment_date": payment,
            "payment_period": draw(st.sampled_from(PERIODS)),
            "in_period": draw(st.sampled_from((None, None, True, False))),
            "repair_years": draw(st.integers(0, 25)),
            "group": draw(st.none() | st.sampled_from(GROUPS)) if with_group else None,
            "birth_date": draw(st.none() | st.dates(dt.date(2023, 1, 1), dt.date(year, 12, 31))),
            "left_on": draw(st.none() | st.dates(dt.date(2024, 1, 1), dt.date(year, 12, 31))),
            "continuous_years": draw(st.none() | st.integers(0, 6)),
            "zero_claim_years": zero,
            "incentive_used_years": used,
            "today": TODAY,
        }
    )


@settings(max_examples=400, deadline=None)
@given(profiles())
def test_an_exemption_is_granted_only_when_every_condition_holds(profile: Profile) -> None:
    waiting = assess(profile, POLICIES).waiting
    exemption = waiting.exemption
    if waiting.exempt:
        assert exemption is not None and exemption.named
        assert all(c.holds is True for c in exemption.conditions)
        assert not exemption.missing
    if exemption is not None and exemption.missing:
        assert not waiting.exempt
        assert set(exemption.missing) <= set(waiting.missing)


@settings(max_examples=300, deadline=None)
@given(profiles(with_group=False))
def test_break_years_are_the_uncovered_years_and_the_run_before_the_benefit_year(
    profile: Profile,
) -> None:
    years = range(profile.first_year, profile.benefit_year)
    every = [y for y in years if not profile.covered(y)]
    run = []
    year = profile.benefit_year - 1
    while year >= profile.first_year and not profile.covered(year):
        run.insert(0, year)
        year -= 1
    history = History(profile)
    assert history.all_break_years == every and history.break_year_list == run
    result = assess(profile, POLICIES)
    assert result.cap.penalty_steps == len(every)
    if profile.scheme == "resident" and not result.waiting.exempt:
        assert result.waiting.break_year_list == run


@settings(max_examples=400, deadline=None)
@given(profiles(with_group=False))
def test_an_unknown_period_gives_both_outcomes_the_later_first(profile: Profile) -> None:
    waiting = assess(profile, POLICIES).waiting
    if waiting.in_period is None:
        assert waiting.alternative is not None and "in_period" in waiting.missing
        assert waiting.alternative.in_period != (waiting.anchor == "centralized")
        assert waiting.alternative.benefit_start <= waiting.benefit_start
    else:
        assert waiting.alternative is None
    assert waiting.benefit_start >= dt.date(profile.benefit_year, 1, 1) or waiting.exempt


@settings(max_examples=400, deadline=None)
@given(profiles())
def test_wait_is_never_below_3_when_it_applies(profile: Profile) -> None:
    waiting = assess(profile, POLICIES).waiting
    if waiting.applies:
        assert waiting.total_months >= 3
    else:
        assert waiting.total_months == 0


@settings(max_examples=400, deadline=None)
@given(profiles(with_group=False))
def test_wait_is_never_below_6_after_a_break_of_4_or_more_years(profile: Profile) -> None:
    waiting = assess(profile, POLICIES).waiting
    if waiting.break_years >= 4:
        assert waiting.total_months >= 6


@settings(max_examples=300, deadline=None)
@given(profiles(), st.integers(1, 5))
def test_repairing_more_never_lengthens_the_wait(profile: Profile, more: int) -> None:
    before = assess(profile, POLICIES).waiting
    after = assess(
        profile.model_copy(update={"repair_years": profile.repair_years + more}), POLICIES
    ).waiting
    assert after.total_months <= before.total_months
    assert after.benefit_start <= before.benefit_start


@settings(max_examples=300, deadline=None)
@given(profiles(with_group=False))
def test_repair_options_shorten_the_wait_one_month_at_a_time(profile: Profile) -> None:
    result = assess(profile.model_copy(update={"repair_years": 0}), POLICIES)
    months = [result.waiting.total_months, *(o.total_months for o in result.repair.options)]
    assert months == sorted(months, reverse=True)
    assert len(set(months)) == len(months), "an offered option must help"


@settings(max_examples=400, deadline=None)
@given(profiles())
def test_cap_change_never_exceeds_either_ceiling(profile: Profile) -> None:
    result = assess(profile, POLICIES)
    for cap in [result.cap]:
        if cap.ceiling is not None and cap.rise is not None:
            assert 0 <= cap.rise <= cap.ceiling
        if cap.fall_ceiling is not None and cap.fall is not None:
            assert 0 <= cap.fall <= cap.fall_ceiling
        if cap.net_change is not None and cap.ceiling is not None and cap.fall_ceiling is not None:
            assert -cap.fall_ceiling <= cap.net_change <= cap.ceiling
    for year in result.projection:
        if result.cap.ceiling is not None and year.net_change_if_no_claims is not None:
            assert year.net_change_if_no_claims <= result.cap.ceiling


@settings(max_examples=300, deadline=None)
@given(profiles())
def test_no_cover_is_said_exactly_when_the_start_passes_the_year(profile: Profile) -> None:
    waiting = assess(profile, POLICIES).waiting
    assert waiting.no_cover_this_year == (
        waiting.benefit_start > dt.date(profile.benefit_year, 12, 31)
    )


@settings(max_examples=150, deadline=None)
@given(
    profiles(),
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from((None, *GROUPS))), min_size=1, max_size=4
    ),
    st.data(),
)
def test_kept_cap_results_never_change_an_answer(
    base: Profile, changes: list[tuple[int, str | None]], data: st.DataObject
) -> None:
    # The engine keeps cap results by paid years and claims. People who share that history
    # but differ in payment, group or repair must still get exactly their own answer, and
    # someone whose claims differ must not be given theirs.
    batch = [base] + [
        base.model_copy(update={"repair_years": repair, "group": group, "payment_date": None})
        for repair, group in changes
    ]
    batch.append(base.model_copy(update={"zero_claim_years": [], "incentive_used_years": []}))
    fresh = []
    for profile in batch:
        clear_cap_memo()
        fresh.append(assess(profile, POLICIES))
    clear_cap_memo()
    order = data.draw(st.permutations(range(len(batch))))
    shared = {i: assess(batch[i], POLICIES) for i in order}
    again = {i: assess(batch[i], POLICIES) for i in order}
    for i, expected in enumerate(fresh):
        assert shared[i] == expected
        assert again[i] == expected
        assert again[i].steps is not shared[i].steps  # each answer has its own list


@settings(max_examples=200, deadline=None)
@given(profiles())
def test_a_ledger_answer_has_the_figures_of_the_explained_one(profile: Profile) -> None:
    clear_cap_memo()
    quiet = assess(profile, POLICIES, explain=False)  # first, so it fills the kept results
    explained = assess(profile, POLICIES)
    clear_cap_memo()
    assert explained == assess(profile, POLICIES)  # the kept results carry their steps
    assert quiet.steps == [] and explained.steps
    assert dataclasses.replace(explained, steps=[]) == quiet


@pytest.mark.parametrize(
    ("region", "coverage", "birth", "counted_from", "earliest"),
    [
        # Covered since 2025: "满4年" of 2025-2028, so a rise in 2029 at the earliest.
        ("xizang", {2025: "resident", 2026: "resident"}, None, 2025, 2029),
        # 2025 missed: a break restarts the count, from 2026, so 2030.
        ("xizang", {2025: "none", 2026: "resident"}, None, 2026, 2030),
        ("shanxi", {2025: "none", 2026: "resident"}, None, 2026, 2030),
        # A baby born in 2026 counts from 2027 (出生当年不缴费), so 2031.
        ("tianjin", {}, dt.date(2026, 10, 3), 2027, 2031),
    ],
)
def test_no_continuity_rise_yet_names_this_persons_earliest_year(
    region: str,
    coverage: dict[int, str],
    birth: dt.date | None,
    counted_from: int,
    earliest: int,
) -> None:
    """The step says from which year this person's continuous years count and the earliest
    year of a rise (it said 2025 and 2029 to everyone, contradicting a baby's projection)."""
    profile = Profile.model_validate(
        {
            "region": region,
            "benefit_year": 2027,
            "coverage": coverage,
            "birth_date": birth,
            "group": "newborn" if birth else None,
            "today": dt.date(2026, 11, 23),
        }
    )
    step = next(s for s in assess(profile).steps if s.rule == "cap.continuity")
    assert step.params["steps"] == 0
    assert step.params["counted_from"] == counted_from
    assert step.params["counted_from"] + step.params["after_years"] == earliest
    text = " ".join(render_macro("steps.j2", "step", "en", step).split())
    assert f"counted from {counted_from}, so in {earliest} at the earliest" in text


@pytest.mark.parametrize(
    ("coverage", "earlier"),
    [
        ({2025: "none", 2026: "resident"}, "2025"),
        ({2025: "none", 2026: "none", 2027: "resident"}, "2025 and 2026"),
    ],
)
def test_a_break_before_last_year_is_not_called_covered(
    coverage: dict[int, str], earlier: str
) -> None:
    """Only the year before the benefit year was covered: the reasons name the earlier break
    years, and never say that every year from 2025 on was covered."""
    profile = Profile.model_validate(
        {
            "region": "xizang",
            "benefit_year": max(coverage) + 1,
            "coverage": coverage,
            "today": dt.date(2026, 11, 23),
        }
    )
    step = next(s for s in assess(profile).steps if s.rule == "breaks.counted")
    text = " ".join(render_macro("steps.j2", "step", "en", step).split())
    assert "every year from 2025" not in text
    assert f"the year before it was covered (the break years, {earlier}, came earlier)" in text


@pytest.mark.parametrize(
    ("birth_date", "benefit_year", "coverage", "said"),
    [
        # born in December 2026: the first year that counts is 2027, the benefit year itself
        (
            "2026-12-01",
            2027,
            {},
            "No break (断保): no year before the benefit year counts, as counting starts in 2027.",
        ),
        # born in June 2025, covered 2026 and 2027: nothing from 2025 on is claimed
        (
            "2025-06-01",
            2028,
            {2026: "resident", 2027: "resident"},
            "every year from 2026 on up to it was covered.",
        ),
        # no baby: the count starts in 2025
        (None, 2027, {2025: "resident", 2026: "resident"}, "every year from 2025 on up to"),
    ],
)
def test_a_babys_years_before_birth_are_never_called_covered(
    birth_date: str | None, benefit_year: int, coverage: dict[int, str], said: str
) -> None:
    """'Every year from 2025 on was covered' is false for a baby born after 2025: the reasons
    name the year the count starts instead."""
    given: dict[str, object] = {
        "region": "national",
        "benefit_year": benefit_year,
        "coverage": coverage,
        "today": dt.date(2026, 12, 20),
    }
    if birth_date:
        given["birth_date"] = birth_date
    profile = Profile.model_validate(given)
    step = next(s for s in assess(profile).steps if s.rule == "breaks.counted")
    text = " ".join(render_macro("steps.j2", "step", "en", step).split())
    assert said in text
    if birth_date:
        assert "from 2025" not in text


@pytest.mark.parametrize(
    ("paid", "starts"),
    [
        ("2026-11-06", "2027-02-06"),  # Fuxin's example's days: the same day, 3 months on
        ("2026-11-28", "2027-02-28"),
        ("2026-11-29", "2027-03-01"),  # no 29 February 2027: the wait runs to its end
        ("2026-11-30", "2027-03-01"),
        ("2027-11-29", "2028-02-29"),  # a leap year has the day
    ],
)
def test_a_wait_counted_from_a_month_end_payment_is_never_short(paid: str, starts: str) -> None:
    """Paid outside the period with no break: the fixed 3 months from the payment day."""
    year = int(paid[:4]) + 1
    profile = Profile.model_validate(
        {
            "region": "xizang",
            "benefit_year": year,
            "coverage": {y: "resident" for y in range(2025, year)},
            "payment_date": paid,
            "in_period": False,
            "today": dt.date(2026, 11, 1),
        }
    )
    waiting = assess(profile).waiting
    assert waiting.total_months == 3
    assert waiting.benefit_start == dt.date.fromisoformat(starts)


@pytest.mark.parametrize("in_period", [True, False])
def test_a_payment_the_person_places_is_told_back_in_no_tense(in_period: bool) -> None:
    """The payment may still be to come ('Will you pay…?'): the reasons do not say 'You paid'."""
    profile = Profile.model_validate(
        {
            "region": "xizang",
            "benefit_year": 2027,
            "payment_date": "2027-03-15",
            "in_period": in_period,
            "today": dt.date(2026, 11, 29),
        }
    )
    rule = "payment.in_period" if in_period else "payment.outside_period"
    step = next(s for s in assess(profile).steps if s.rule == rule)
    text = " ".join(render_macro("steps.j2", "step", "en", step).split())
    assert "You paid" not in text
    where = "within" if in_period else "outside"
    assert f"By your answer, your payment on March 15, 2027 is {where} the payment" in text


def test_another_regions_answer_says_its_numbers_are_the_national_ones() -> None:
    """For 'another region' the wait is the national guideline's, which leaves the rules to each
    province: the answer itself says so, not only the reasons behind it."""
    profile = Profile.model_validate(
        {"region": "national", "benefit_year": 2027, "today": dt.date(2026, 11, 29)}
    )
    answer = render("result.j2", "en", a=assess(profile))
    waiting_line = answer.index("Waiting period")
    caveat = answer.index("national guideline's numbers: your province's own may differ")
    assert waiting_line < caveat < answer.index("Critical-illness")
    xizang = profile.model_copy(update={"region": "xizang"})
    assert "province's own may differ" not in render("result.j2", "en", a=assess(xizang))


def test_a_what_if_leads_with_the_same_assumption_as_the_answer() -> None:
    """Paid on 29 November for next year, not knowing whether that was inside the period: the
    answer leads with 'inside' (its later start, 1 May), while with last year paid 'outside'
    starts later (1 March, against 1 January). The what-if must still lead with 'inside', or
    the first lines of the two screens compare different assumptions."""
    given = {
        "region": "xizang",
        "benefit_year": 2027,
        "payment_date": "2026-11-29",
        "today": dt.date(2026, 11, 29),
    }
    answer = assess(Profile.model_validate(given))
    paid = assess(Profile.model_validate({**given, "coverage": {2026: "resident"}}))
    assert answer.waiting.alternative is not None and not answer.waiting.alternative.in_period
    assert paid.waiting.alternative is not None and paid.waiting.alternative.in_period
    text = render("whatif.j2", "en", kind="whatif_paid", a=answer, h=paid, year=2026)
    then = next(line for line in text.splitlines() if line.startswith("Then"))
    assert then.startswith("Then there would be no waiting period: you would be covered from")
    assert "January 1, 2027" in then.split(". If you paid")[0]
    assert "If you paid outside your area's payment period: 3 months, from March 1, 2027." in then
    as_is = next(line for line in text.splitlines() if line.startswith("Your answer as it is"))
    assert as_is.startswith("Your answer as it is: 4 months, from May 1, 2027.")


@pytest.mark.parametrize(
    ("region", "tier"),
    [("xizang", "the high tier (高档)"), ("chongqing", "tier one (一档)"), ("shanxi", None)],
)
def test_a_repairs_price_names_the_tier_the_text_sets(region: str, tier: str | None) -> None:
    """xizang 一(三) 个人缴费（高档）标准, chongqing 二(五) 一档: a person looking up the
    amount must look up that tier; shanxi names none."""
    profile = Profile.model_validate(
        {"region": region, "benefit_year": 2027, "today": dt.date(2026, 11, 29)}
    )
    answer = render("result.j2", "en", a=assess(profile))
    assert "individual contribution for 2026" in answer
    if tier:
        assert f"The text sets {tier} of that contribution." in answer
    else:
        assert "The text sets" not in answer
