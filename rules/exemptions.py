"""Exempt groups (no waiting period): each condition of the text checked on the person's facts,
and when a granted exemption's benefits start.

Clauses: xizang 一(四), shanxi 一(二),(三),(四), chongqing 一(一), 二(五), tianjin 一(四), national
国办发〔2024〕38号; each policy's `exempt_groups` names its groups, their conditions and their start
rule (`start`), and `exempt_list_open` says whether its list ends with 等.

An exemption is granted only when every condition holds. A condition whose facts are missing is
unknown (None): the person is answered as not exempt and the missing facts are named, so that
the conversation can ask for them. Conditions are ids in the policy files (`exempt_groups`):

- `within_days_of_birth`: enrolled (paid) within `newborn.max_days` of birth (新生儿, 出生90天内);
- `newborn_cover`: the benefit year is within the newborn's own cover (xizang: to 31 December of
  the year after birth);
- `under_one_year`: under `infant.max_months` old at payment (一周岁以内婴儿);
- `gap_within_months`: the old insurance (or army service, prison) ended no more than
  `switch.gap_months` before the new cover (中断缴费不超过3个月);
- `continuous_years`: insured `switch.min_continuous_years` years in a row before it ended;
- `left_this_year`: left the army in the year of the new enrolment (当年退出现役);
- `pays_the_gap`: a requirement the person meets by paying for the gap (按规定补缴后);
- `declared_*`: a status the person declares by choosing the group (a recognised medical-aid
  recipient, newly recognised hardship, a freshman enrolling at school).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rules.dates import add_months, year_end
from rules.models import FIRST_YEAR, Condition, Exemption, Profile, Waiting
from rules.policy import ExemptGroup, Policy, period_bounds
from rules.terms import Anchor

if TYPE_CHECKING:
    from rules.context import Context
    from rules.payment import Payment

# What a condition's check gives: holds (None: unknown), the values it used, the facts missing.
Checked = tuple[bool | None, dict[str, Any], list[str]]


class _Facts:
    """The facts an exemption's conditions read, with the policy's values on one day."""

    def __init__(self, profile: Profile, policy: Policy, day: dt.date) -> None:
        self.profile = profile
        self.policy = policy
        self.day = day
        # The new cover begins at the payment, or on 1 January when paid in the period.
        self.rejoin = profile.payment_date or dt.date(profile.benefit_year, 1, 1)

    def value(self, name: str) -> Any:
        return self.policy.get(name, self.day)

    def stopped_on(self) -> dt.date | None:
        """The day the old insurance or status ended: `left_on`, or the latest `until` given."""
        if self.profile.left_on:
            return self.profile.left_on
        ends = [
            d.until
            for y in self.profile.coverage
            if (d := self.profile.detail(y)) is not None and d.until is not None
        ]
        return max(ends, default=None)

    def stopped_by(self) -> dt.date | None:
        """The latest day the old cover can have ended, read from the years left uncovered.

        A year from 2025 on with no cover at all, just before the year of the new cover, means
        the old cover ended by that year's 1 January at the latest.
        """
        before = self.rejoin.year - 1
        if before >= FIRST_YEAR and self.profile.kind(before) == "none":
            year = before
            while year - 1 >= FIRST_YEAR and self.profile.kind(year - 1) == "none":
                year -= 1
            return dt.date(year, 1, 1)
        return None


def _within_days_of_birth(facts: _Facts) -> Checked:
    limit = facts.value("newborn.max_days")
    born, paid = facts.profile.birth_date, facts.profile.payment_date
    values: dict[str, Any] = {"max_days": limit}
    missing = [name for name, fact in (("birth_date", born), ("payment_date", paid)) if not fact]
    if missing or born is None or paid is None:
        return None, values, missing
    days = (paid - born).days
    values["days"] = days
    return 0 <= days <= limit, values, []


def _newborn_cover(facts: _Facts) -> Checked:
    born = facts.profile.birth_date
    if born is None:
        return None, {}, ["birth_date"]
    until = dt.date(born.year + 1, 12, 31)
    return facts.profile.benefit_year <= until.year, {"covered_until": until}, []


def _under_one_year(facts: _Facts) -> Checked:
    months = facts.value("infant.max_months")
    born, paid = facts.profile.birth_date, facts.profile.payment_date
    missing = [name for name, fact in (("birth_date", born), ("payment_date", paid)) if not fact]
    if missing or born is None or paid is None:
        return None, {"max_months": months}, missing
    until = add_months(born, months)  # 一周岁以内: the first birthday itself is within
    return born <= paid <= until, {"max_months": months, "until": until}, []


def _gap_within_months(facts: _Facts) -> Checked:
    months = facts.value("switch.gap_months")
    values: dict[str, Any] = {"gap_months": months, "rejoined": facts.rejoin}
    stopped = facts.stopped_on()
    if stopped is not None:
        # `left_on` is the last day insured: the gap starts the next day.
        values["left_on"] = stopped
        within = facts.rejoin <= add_months(stopped + dt.timedelta(days=1), months)
        return within, values, []
    latest = facts.stopped_by()
    if latest is not None and facts.rejoin > add_months(latest, months):
        values["left_by"] = latest
        return False, values, []
    return None, values, ["left_on"]


def _continuous_years(facts: _Facts) -> Checked:
    need = facts.value("switch.min_continuous_years")
    profile = facts.profile
    values: dict[str, Any] = {"min_years": need}
    if profile.continuous_years is not None:
        values["years"] = profile.continuous_years
        return profile.continuous_years >= need, values, []
    stopped = facts.stopped_on()
    year = stopped.year if stopped else facts.rejoin.year - 1
    if year not in profile.coverage:  # the part-year before the stop is not a full year
        year -= 1
    count = 0
    while profile.kind(year) != "none":
        count, year = count + 1, year - 1
    values["years"] = count
    if count >= need:
        return True, values, []
    if year >= FIRST_YEAR or year in profile.coverage:  # the run ends at a known uncovered year
        return False, values, []
    return None, values, ["continuous_years"]


def _left_this_year(facts: _Facts) -> Checked:
    stopped = facts.profile.left_on
    if stopped is None:
        return None, {}, ["left_on"]
    return stopped.year == facts.rejoin.year, {"left_on": stopped}, []


def _requirement(facts: _Facts) -> Checked:
    return True, {"requirement": True}, []


def _declared(facts: _Facts) -> Checked:
    return True, {"declared": True}, []


# Each condition id: its check, and the parameters it reads (a reading among them makes the
# exemption a reading).
_CONDITIONS: dict[str, tuple[Callable[[_Facts], Checked], tuple[str, ...]]] = {
    "within_days_of_birth": (_within_days_of_birth, ("newborn.max_days",)),
    "newborn_cover": (_newborn_cover, ()),
    "under_one_year": (_under_one_year, ("infant.max_months",)),
    "gap_within_months": (_gap_within_months, ("switch.gap_months",)),
    "continuous_years": (_continuous_years, ("switch.min_continuous_years",)),
    "left_this_year": (_left_this_year, ()),
    "pays_the_gap": (_requirement, ()),
}
_DECLARED = (_declared, ())


def known_condition(condition: str) -> bool:
    """Whether the engine can check a condition id (policy files are tested against this)."""
    return condition in _CONDITIONS or condition.startswith("declared_")


def check_exemption(profile: Profile, policy: Policy, day: dt.date) -> Exemption | None:
    """The exemption of the person's group under `policy` (values read on `day`), or None when
    no group is given. Raises KeyError for a condition id the engine does not know."""
    group = profile.group
    if group is None:
        return None
    rule = policy.exempt_groups.get(group)
    if rule is None:
        return Exemption(
            group=group,
            named=False,
            granted=False,
            clause=f"{policy.id} {policy.exempt_list_clause or policy.base_clause}",
            conditions=[],
            missing=[],
            open_list=policy.exempt_list_open,
        )
    facts = _Facts(profile, policy, day)
    conditions: list[Condition] = []
    missing: list[str] = []
    reading = rule.interpretation
    for condition in rule.conditions:
        check, parameters = (
            _DECLARED if condition.startswith("declared_") else _CONDITIONS[condition]
        )
        holds, values, needs = check(facts)
        conditions.append(Condition(id=condition, holds=holds, values=values))
        missing += [fact for fact in needs if fact not in missing]
        reading = reading or any(
            (spec := policy.parameters.get(name)) is not None and spec.interpretation
            for name in parameters
        )
    return Exemption(
        group=group,
        named=True,
        granted=all(c.holds for c in conditions),
        clause=f"{policy.id} {rule.clause}",
        conditions=conditions,
        missing=missing,
        open_list=policy.exempt_list_open,
        interpretation=reading,
    )


def exemption_start(
    ctx: Context, rule: ExemptGroup, payment: Payment
) -> tuple[dt.date, Anchor, dt.date | None, bool]:
    """(benefit start, anchor, covered until, born in the period) for a granted exemption, by
    the group's start rule (ISO dates; `covered until` None when the text sets no end)."""
    profile = ctx.profile
    born = profile.birth_date
    paid = profile.payment_date
    # 随参随缴随享: from the payment; a payment made before the benefit year covers from 1 January.
    start: dt.date = paid if paid and paid > ctx.day else ctx.day
    anchor: Anchor = "payment_date" if paid and paid > ctx.day else "centralized"
    until = None
    in_period_birth = False
    if rule.start in ("birth", "birth_to_next_year_end") and born:
        start, anchor = born, "birth"
        if rule.start == "birth_to_next_year_end":
            until = year_end(born.year + 1)
    elif rule.start == "birth_in_period_to_next_year_end" and born and payment.period:
        first, last = period_bounds(payment.period, born.year + 1)
        if first <= born <= last:
            start, anchor, until, in_period_birth = born, "birth", year_end(born.year + 1), True
    elif rule.start == "payment_to_next_year_end":
        start = paid or ctx.day
        anchor = "payment_date" if paid else "centralized"
        until = year_end((paid.year if paid else profile.benefit_year - 1) + 1)
    return start, anchor, until, in_period_birth


def explain_exemption(ctx: Context, exemption: Exemption, rule: ExemptGroup | None) -> None:
    """The step saying why the person's group is not (or not yet known to be) exempt."""
    params: dict[str, Any] = {
        "group": exemption.group,
        "conditions": exemption.condition_items,
        "missing": list(exemption.missing),
        "open_list": exemption.open_list,
    }
    if not exemption.named:
        ctx.step(
            "waiting.group_open_list" if exemption.open_list else "waiting.group_not_exempt",
            exemption.clause,
            params,
        )
    elif not exemption.granted:
        ctx.step(
            "waiting.exemption_unknown" if exemption.missing else "waiting.exemption_not_met",
            exemption.clause,
            {"reason": rule.reason if rule else None, **params},
            interpretation=exemption.interpretation,
        )


def exempt_waiting(
    ctx: Context,
    exemption: Exemption,
    rule: ExemptGroup,
    payment: Payment,
    break_year_list: list[int],
) -> Waiting:
    """The waiting period of a person whose group's exemption is granted: none, from the start
    its rule gives."""
    profile = ctx.profile
    start, anchor, until, in_period_birth = exemption_start(ctx, rule, payment)
    ctx.step(
        "waiting.exempt",
        exemption.clause,
        {
            "reason": rule.reason,
            "group": exemption.group,
            "conditions": exemption.condition_items,
            "benefit_start": start,
            "covered_until": until,
            "start_rule": rule.start,
            "born_in_period": in_period_birth,
        },
        interpretation=exemption.interpretation,
    )
    if rule.start == "birth_in_period_to_next_year_end" and not in_period_birth:
        ctx.reading("waiting.newborn_outside_period", "newborn_outside_period")
    return Waiting(
        break_years=len(break_year_list),
        break_year_list=break_year_list,
        applies=False,
        exempt=True,
        fixed_months=0,
        variable_months=0,
        repaired_months=0,
        total_months=0,
        anchor=anchor,
        benefit_start=start,
        covered_until=until,
        no_cover_this_year=start > year_end(profile.benefit_year),
        **payment.fields(),
        exemption=exemption,
    )
