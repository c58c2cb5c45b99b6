"""The assessment: waiting period, repair options and the critical-illness cap, explained."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from typing import Any

from rules.models import (
    FIRST_YEAR,
    Assessment,
    Cap,
    CapYear,
    NewbornFunding,
    Outpatient,
    Profile,
    Repair,
    RepairOption,
    SideRuleRef,
    Step,
    Waiting,
)
from rules.policy import Policy, load_policies, period_bounds, rules_version

# Used when a document does not give its centralized period: September to December, as
# Tianjin's 三(七) states; always reported as an assumption a deployment can replace.
ASSUMED_PERIOD = "09-01/12-31"
PROJECTION_YEARS = 5
_AHEAD = range(1, PROJECTION_YEARS + 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved forward by whole months, clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class _Day:
    """A policy on one day: everything about it that does not depend on the person.

    Parameter values, their citations, the waiting and cap constants and the side rules are the
    same for every answer in a benefit year, so they are read once and kept.
    """

    def __init__(self, policy: Policy, day: dt.date) -> None:
        self.policy = policy
        self.day = day
        self.values = values = {name: policy.get(name, day) for name in policy.parameters}
        self.refs: dict[str, tuple[str, bool, dt.date | None, dt.date | None]] = {}
        self.cites: dict[str, str] = {}
        self.side_rules: list[SideRuleRef] | None = None
        self.fixed = values.get("waiting.fixed_months")
        self.free = values.get("waiting.free_break_years")
        self.per_break = values.get("waiting.variable_per_break_year")
        self.per_repair = values.get("waiting.repair_months_per_year")
        self.floor_breaks = values.get("waiting.floor_break_years")
        self.floor = values.get("waiting.floor_months")
        self.cap = _CapConstants(values)
        self.within = policy.valid_on(day) and policy.valid_on(_year_end(day.year))
        self.cap_memo: dict[tuple[Any, ...], tuple[Cap, tuple[CapYear, ...], tuple[Step, ...]]] = {}

    def ref(self, parameter: str) -> tuple[str, bool, dt.date | None, dt.date | None]:
        """(cite, interpretation, since, checked) of a parameter's value on this day."""
        found = self.refs.get(parameter)
        if found is None:
            policy = self.policy
            spec = policy.parameters.get(parameter)
            value = spec.at(self.day) if spec else None
            found = self.refs[parameter] = (
                policy.cite(parameter),
                bool(spec and spec.interpretation),
                value.since if value else None,
                (value and value.checked) or (spec and spec.checked) or policy.checked,
            )
        return found

    def cite(self, rule: str) -> str:
        found = self.cites.get(rule)
        if found is None:
            found = self.cites[rule] = self.policy.cite(rule)
        return found


# One _Day per policy and day. The policy is kept in the entry so that its id cannot be reused.
_BY_POLICY: dict[int, tuple[Policy, dict[dt.date, _Day]]] = {}


def _day(policy: Policy, day: dt.date) -> _Day:
    entry = _BY_POLICY.get(id(policy))
    if entry is None or entry[0] is not policy:
        entry = _BY_POLICY[id(policy)] = (policy, {})
    found = entry[1].get(day)
    if found is None:
        found = entry[1][day] = _Day(policy, day)
    return found


def values_on(policy: Policy, day: dt.date) -> dict[str, Any]:
    """Every parameter's value on `day`, cached per policy object."""
    return _day(policy, day).values


class _Context:
    """The policy, the day its values are read on, and the steps explained so far."""

    def __init__(self, policy: Policy, profile: Profile, explain: bool = True) -> None:
        self.policy = policy
        self.profile = profile
        self.explain = explain
        self.day = dt.date(profile.benefit_year, 1, 1)
        self.steps: list[Step] = []
        self.on = _day(policy, self.day)
        self._values = self.on.values

    def value(self, name: str, day: dt.date | None = None) -> Any:
        values = self._values if day is None or day == self.day else values_on(self.policy, day)
        return values.get(name)

    def step(
        self,
        rule: str,
        cite: str | None = None,
        *,
        interpretation: bool = False,
        since: dt.date | None = None,
        checked: dt.date | None = None,
        **params: Any,
    ) -> None:
        if not self.explain:
            return
        self.steps.append(
            Step(rule, cite or self.on.cite(rule), params, interpretation, since, checked)
        )

    def cited(
        self, rule: str, parameter: str, *, interpretation: bool = False, **params: Any
    ) -> None:
        """A step whose clause, and interpretation flag, come from one parameter."""
        if not self.explain:
            return
        cite, reading, since, checked = self.on.ref(parameter)
        self.steps.append(Step(rule, cite, params, interpretation or reading, since, checked))


def break_run(profile: Profile) -> list[int]:
    """The break years (断保年) in the unbroken run just before the benefit year."""
    run = []
    year = profile.benefit_year - 1
    while year >= profile.first_year and not profile.covered(year):
        run.append(year)
        year -= 1
    return sorted(run)


def all_break_years(profile: Profile) -> list[int]:
    """Every uncovered year from 2025 to the year before the benefit year."""
    return [y for y in range(profile.first_year, profile.benefit_year) if not profile.covered(y)]


def _months(ctx: _Context, breaks: int, repaired_years: int, applies: bool) -> tuple[int, int, int]:
    """(fixed, variable before repair, total after repair and floor)."""
    if not applies:
        return 0, 0, 0
    on = ctx.on
    fixed = on.fixed
    variable = max(0, breaks - on.free) * on.per_break
    removed = min(repaired_years * on.per_repair, variable)
    total = fixed + variable - removed
    if breaks >= on.floor_breaks:
        total = max(total, on.floor)
    return fixed, variable, total


def _period(ctx: _Context) -> tuple[str, bool]:
    """The centralized period as `MM-DD/MM-DD`, and whether it was assumed."""
    period = ctx.value("payment_period")
    return (period, False) if period else (ASSUMED_PERIOD, True)


def _start(ctx: _Context, months: int, anchor: str) -> dt.date:
    year_start = ctx.day
    if anchor == "payment_date":
        return max(year_start, add_months(ctx.profile.payment_date, months))
    return add_months(year_start, months)


def _year_end(year: int) -> dt.date:
    return dt.date(year, 12, 31)


def _exempt(ctx: _Context, breaks: list[int]) -> Waiting | None:
    """The waiting result for an exempt group, or None when the person is not exempt."""
    profile, policy = ctx.profile, ctx.policy
    group = profile.group
    if group is None:
        return None
    rule = policy.exempt_groups.get(group)
    if rule is None:
        ctx.step("waiting.group_not_exempt", f"{policy.id} {policy.base_clause}", group=group)
        return None
    covered_until = None
    if rule.start == "birth" and profile.birth_date:
        start, anchor = profile.birth_date, "birth"
    elif profile.payment_date:
        start, anchor = profile.payment_date, "payment_date"
    else:
        start, anchor = ctx.day, "centralized"
    if rule.start == "payment_to_next_year_end":
        # 从缴费之日起至次年12月31日: the year after the payment, made in Y-1 when centralized
        paid = profile.payment_date.year if profile.payment_date else profile.benefit_year - 1
        covered_until = _year_end(paid + 1)
    ctx.step(
        "waiting.exempt",
        f"{policy.id} {rule.clause}",
        group=group,
        conditions=list(rule.conditions),
        benefit_start=start,
        covered_until=covered_until,
    )
    return Waiting(
        break_years=len(breaks),
        break_year_list=breaks,
        applies=False,
        exempt=True,
        fixed_months=0,
        variable_months=0,
        repaired_months=0,
        total_months=0,
        anchor=anchor,
        benefit_start=start,
        covered_until=covered_until,
        no_cover_this_year=start > _year_end(profile.benefit_year),
    )


def _explain_waiting(
    ctx: _Context,
    breaks: int,
    outside: bool,
    applies: bool,
    months: tuple[int, int, int, int],
    start: dt.date,
) -> None:
    """The steps of the waiting period: its parts, the repair, the floor and the start."""
    profile, policy = ctx.profile, ctx.policy
    fixed, variable, total, unrepaired = months
    effective_repair = min(profile.repair_years, breaks)
    anchor = "payment_date" if outside else "centralized"
    no_cover = start > _year_end(profile.benefit_year)
    if not applies:
        ctx.step("waiting.none", f"{policy.id} {policy.base_clause}")
    else:
        ctx.cited(
            "waiting.fixed",
            "waiting.fixed_months",
            months=fixed,
            outside_period=outside,
            break_years=breaks,
        )
        ctx.cited(
            "waiting.variable",
            "waiting.free_break_years",
            break_years=breaks,
            free=ctx.on.free,
            per_year=ctx.on.per_break,
            months=variable,
        )
        if profile.repair_years:
            ctx.cited(
                "waiting.repair",
                "waiting.repair_months_per_year",
                requested=profile.repair_years,
                counted=effective_repair,
                months=unrepaired - total,
            )
        if breaks >= ctx.on.floor_breaks:
            ctx.cited(
                "waiting.floor",
                "waiting.floor_months",
                break_years=breaks,
                floor=ctx.on.floor,
                binding=total == ctx.on.floor,
            )
    if applies:
        ctx.cited(
            "waiting.start",
            "waiting.anchor" if outside else "waiting.fixed_months",
            anchor=anchor,
            months=total,
            benefit_start=start,
            payment_date=profile.payment_date,
        )
        if no_cover:
            ctx.cited(
                "waiting.no_cover_this_year",
                "waiting.fixed_months",
                benefit_year=profile.benefit_year,
                benefit_start=start,
            )
        ctx.cited("waiting.break_costs_uncovered", "waiting.fixed_months")


def _waiting(ctx: _Context) -> tuple[Waiting, str, bool]:
    """The waiting period, its anchor, and whether the rule applies at all."""
    profile, policy = ctx.profile, ctx.policy
    breaks = break_run(profile)
    if ctx.explain:  # the other lists serve only the explanation
        ctx.step(
            "breaks.counted",
            f"{policy.id} {policy.base_clause}",
            break_years=len(breaks),
            years=breaks,
            all_break_years=all_break_years(profile),
            ignored_before_2025=sorted(y for y in profile.coverage if y < FIRST_YEAR),
        )
    if profile.first_year > FIRST_YEAR:
        ctx.step(
            "breaks.from_birth",
            f"{policy.id} {policy.base_clause}",
            interpretation=True,
            first_year=profile.first_year,
        )

    outside = False
    if profile.payment_date:
        period, assumed = _period(ctx)
        first, last = period_bounds(period, profile.benefit_year)
        outside = not first <= profile.payment_date <= last
        if assumed:
            ctx.step(
                "payment.period_assumed",
                policy.cite("payment_period"),
                interpretation=True,
                start=first,
                end=last,
            )
        ctx.cited(
            "payment.outside_period" if outside else "payment.in_period",
            "payment_period",
            payment_date=profile.payment_date,
            start=first,
            end=last,
        )
        if outside and policy.id == "xizang":
            ctx.step("xizang.off_period_enrolment", "xizang 一(三)")

    exempt = _exempt(ctx, breaks)
    if exempt:
        return exempt, exempt.anchor, False

    applies = outside or bool(breaks)
    anchor = "payment_date" if outside else "centralized"
    effective_repair = min(profile.repair_years, len(breaks))
    fixed, variable, total = _months(ctx, len(breaks), effective_repair, applies)
    unrepaired = _months(ctx, len(breaks), 0, applies)[2]
    start = _start(ctx, total, anchor)
    no_cover = start > _year_end(profile.benefit_year)
    if ctx.explain:
        _explain_waiting(
            ctx, len(breaks), outside, applies, (fixed, variable, total, unrepaired), start
        )
    waiting = Waiting(
        break_years=len(breaks),
        break_year_list=breaks,
        applies=applies,
        exempt=False,
        fixed_months=fixed,
        variable_months=variable,
        repaired_months=unrepaired - total,
        total_months=total,
        anchor=anchor,
        benefit_start=start,
        no_cover_this_year=no_cover,
    )
    return waiting, anchor, applies


def _repair(ctx: _Context, waiting: Waiting, anchor: str) -> Repair:
    """Useful repair years (修复年限), each option's wait, start and cost."""
    profile = ctx.profile
    breaks = waiting.break_years
    cost_year = (profile.payment_date or profile.today).year
    cost_day = dt.date(cost_year, 1, 1)
    cost = ctx.value("repair.contribution", cost_day) if waiting.applies else None
    totals = [_months(ctx, breaks, r, waiting.applies)[2] for r in range(breaks + 1)]
    useful = totals.index(min(totals)) if waiting.applies and not waiting.exempt else 0
    options = []
    for years in range(1, useful + 1):
        start = _start(ctx, totals[years], anchor)
        options.append(
            RepairOption(
                years=years,
                total_months=totals[years],
                benefit_start=start,
                no_cover_this_year=start > _year_end(profile.benefit_year),
                cost=None if cost is None else cost * years,
            )
        )
    counted = min(profile.repair_years, breaks)
    if waiting.applies:
        ctx.cited(
            "repair.useful",
            "waiting.repair_months_per_year",
            break_years=breaks,
            useful_years=useful,
            fixed=waiting.fixed_months,
            floor=ctx.on.floor if breaks >= ctx.on.floor_breaks else None,
        )
        if useful:
            if cost is None:
                ctx.cited("repair.cost_unknown", "repair.contribution", year=cost_year)
            else:
                ctx.cited("repair.cost", "repair.contribution", year=cost_year, per_year=cost)
        if profile.repair_years > useful:
            ctx.cited(
                "repair.more_not_useful",
                "waiting.repair_months_per_year",
                requested=profile.repair_years,
                useful_years=useful,
                break_years=breaks,
            )
    return Repair(
        useful_years=useful,
        cost_year=cost_year,
        cost_per_year=cost,
        requested_years=profile.repair_years,
        requested_cost=None if cost is None else cost * counted,
        options=options,
    )


class _CapConstants:
    """The cap's parameters on one day, with both ceilings worked out in yuan."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.after = values.get("cap.continuity_after_years")
        self.kept = values.get("cap.continuity_kept_on_break")
        self.needs_paid = values.get("cap.zero_claim_needs_paid_year")
        self.delay = values.get("cap.zero_claim_clear_delay_years")
        self.step = values.get("cap.step")
        self.base = values.get("cap.base")
        self.ceiling = self._ceiling(values, "rise")
        self.fall_ceiling = self._ceiling(values, "fall")

    def _ceiling(self, values: dict[str, Any], kind: str) -> int | None:
        fixed = values.get(f"cap.{kind}_ceiling")
        if fixed is not None:
            return fixed
        share = values.get(f"cap.{kind}_ceiling_share")
        return None if share is None or self.base is None else round(self.base * share)

    def amounts(self, continuity: int, zero: int, penalty: int) -> tuple[int | None, ...]:
        """(rise, fall, net change, cap) in yuan, each bounded; None where the step is unknown."""
        if self.step is None:
            return None, None, None, None
        up, down = (continuity + zero) * self.step, penalty * self.step
        rise = up if self.ceiling is None else min(up, self.ceiling)
        fall = down if self.fall_ceiling is None else min(down, self.fall_ceiling)
        net = rise - fall
        return rise, fall, net, None if self.base is None else self.base + net


class _CapRules:
    """The day's cap parameters with the person's paid years, read once per answer."""

    def __init__(self, ctx: _Context) -> None:
        profile = ctx.profile
        self.profile = profile
        self.constants = ctx.on.cap
        self.first = profile.first_year
        # Years before the benefit year as paid or not; from the benefit year on, paid.
        self.unpaid = frozenset(
            y for y in range(self.first, profile.benefit_year) if not profile.covered(y)
        )

    def steps(self, year: int) -> tuple[int, int, int, int, bool]:
        """Kept continuity steps, the current run of paid years, zero-claim and penalty steps
        of `year`'s cap, and whether zero-claim credit was cleared."""
        c, unpaid = self.constants, self.unpaid
        kept = run = 0
        for y in range(self.first, year + 1):
            if y in unpaid:
                if c.kept:
                    kept += max(0, run - c.after)
                run = 0
            else:
                run += 1
        uses = [u for u in self.profile.incentive_used_years if u + c.delay <= year]
        cleared_after = max(uses, default=self.first - 1)
        claimed = self.profile.zero_claim_years
        zero = sum(
            1
            for z in claimed
            if cleared_after < z < year
            and z >= self.first
            and z not in unpaid
            and (not c.needs_paid or z + 1 not in unpaid)
        )
        earned_before = bool(uses) and any(self.first <= z <= cleared_after for z in claimed)
        return kept, run, zero, len(unpaid), earned_before


def _cap(rules: _CapRules, year: int) -> tuple[Cap, int, int]:
    """The cap of the benefit year, with its kept continuity steps and current run."""
    c = rules.constants
    kept, run, zero, penalty, cleared = rules.steps(year)
    continuity = kept + max(0, run - c.after)
    rise, fall, net, cap = c.amounts(continuity, zero, penalty)
    step = c.step
    result = Cap(
        step=step,
        continuity_steps=continuity,
        zero_claim_steps=zero,
        penalty_steps=penalty,
        continuity=None if step is None else continuity * step,
        zero_claim=None if step is None else zero * step,
        penalty=None if step is None else penalty * step,
        rise=rise,
        fall=fall,
        net_change=net,
        ceiling=c.ceiling,
        fall_ceiling=c.fall_ceiling,
        base=c.base,
        cap=cap,
        zero_claim_cleared=cleared,
    )
    return result, kept, run


def _projection(rules: _CapRules, cap: Cap, kept: int, run: int, year: int) -> list[CapYear]:
    """The cap in the years ahead if the person keeps paying, without and with zero claims.

    Paying on, the run of paid years grows by one a year, break years stay as they are, and
    only the "no claims" line earns a zero-claim step for each year after the benefit year.
    """
    c = rules.constants
    step, base, ceiling = c.step, c.base, c.ceiling
    if step is None:
        return [CapYear(year + ahead, None, None, None, None) for ahead in _AHEAD]
    # As c.amounts(), unrolled: the fall is the same every year ahead.
    down = cap.penalty_steps * step
    fall = down if c.fall_ceiling is None else min(down, c.fall_ceiling)
    years = []
    for ahead in _AHEAD:
        continuity = kept + max(0, run + ahead - c.after)
        up = (continuity + cap.zero_claim_steps) * step
        up_no_claims = up + ahead * step
        if ceiling is not None:
            up, up_no_claims = min(up, ceiling), min(up_no_claims, ceiling)
        net, net_no_claims = up - fall, up_no_claims - fall
        years.append(
            CapYear(
                year + ahead,
                net,
                None if base is None else base + net,
                net_no_claims,
                None if base is None else base + net_no_claims,
            )
        )
    return years


def _explain_cap(ctx: _Context, cap: Cap) -> None:
    policy = ctx.policy
    if cap.base is None:
        ctx.cited("cap.base_unknown", "cap.base")
    else:
        ctx.cited("cap.base", "cap.base", base=cap.base)
    if cap.step is None:
        ctx.cited("cap.step_unknown", "cap.step_minimum", minimum=ctx.value("cap.step_minimum"))
    ctx.cited(
        "cap.continuity",
        "cap.continuity_after_years",
        steps=cap.continuity_steps,
        amount=cap.continuity,
        after_years=ctx.value("cap.continuity_after_years"),
        step=cap.step,
    )
    if ctx.value("cap.continuity_kept_on_break"):
        ctx.cited("cap.continuity_kept", "cap.continuity_kept_on_break")
    else:
        ctx.cited(
            "cap.continuity_restarts",
            "cap.continuity_kept_on_break",
            interpretation=policy.id != "xizang",
        )
    ctx.cited(
        "cap.zero_claim",
        "cap.zero_claim_needs_paid_year",
        steps=cap.zero_claim_steps,
        amount=cap.zero_claim,
        needs_paid_year=ctx.value("cap.zero_claim_needs_paid_year"),
        years=sorted(ctx.profile.zero_claim_years),
    )
    if cap.zero_claim_cleared:
        ctx.cited(
            "cap.zero_claim_cleared",
            "cap.zero_claim_clear_delay_years",
            delay_years=ctx.value("cap.zero_claim_clear_delay_years"),
            used=sorted(ctx.profile.incentive_used_years),
        )
    if cap.penalty_steps:
        ctx.cited(
            "cap.penalty", "cap.step", steps=cap.penalty_steps, amount=cap.penalty, step=cap.step
        )
    if cap.rise is not None and cap.continuity + cap.zero_claim > cap.rise:
        ctx.cited(
            "cap.rise_bounded",
            "cap.rise_ceiling_share"
            if ctx.value("cap.rise_ceiling") is None
            else "cap.rise_ceiling",
            ceiling=cap.ceiling,
            earned=cap.continuity + cap.zero_claim,
        )
    if cap.fall is not None and cap.penalty > cap.fall:
        ctx.cited(
            "cap.fall_bounded",
            "cap.fall_ceiling_share"
            if ctx.value("cap.fall_ceiling") is None
            else "cap.fall_ceiling",
            ceiling=cap.fall_ceiling,
            earned=cap.penalty,
        )
    if cap.ceiling is None:
        ctx.cited(
            "cap.ceiling_unknown",
            "cap.rise_ceiling_share",
            share=ctx.value("cap.rise_ceiling_share"),
        )
    ctx.step(
        "cap.netted",
        "xizang 一(三)" if policy.id == "xizang" else policy.cite("cap.step"),
        interpretation=policy.id != "xizang",
        rise=cap.rise,
        fall=cap.fall,
        net_change=cap.net_change,
        cap=cap.cap,
    )


def _outpatient(ctx: _Context) -> Outpatient | None:
    rise = ctx.value("outpatient.rise")
    if rise is None:
        return None
    profile = ctx.profile
    run, year = 0, profile.benefit_year - 1
    while year >= profile.first_year and profile.covered(year):
        run, year = run + 1, year - 1
    earned = rise if run >= ctx.value("outpatient.after_years") else 0
    ctx.cited(
        "outpatient.rise",
        "outpatient.rise",
        continuous_years=run,
        rise=earned,
        after_years=ctx.value("outpatient.after_years"),
    )
    return Outpatient(continuous_years=run, rise=earned)


def _newborn(ctx: _Context) -> NewbornFunding | None:
    profile = ctx.profile
    if (
        ctx.policy.id != "xizang"
        or profile.group not in ("newborn", "infant")
        or not profile.birth_date
    ):
        return None
    born = profile.birth_date
    period, assumed = _period(ctx)
    opens, _ = period_bounds(period, born.year + 1)
    funded = [born.year + 1] if born >= opens else [born.year, born.year + 1]
    until = _year_end(born.year + 1)
    ctx.step(
        "xizang.newborn_funding",
        "xizang 一(四)",
        interpretation=assumed,
        birth_date=born,
        period_opens=opens,
        funded_years=funded,
        covered_until=until,
    )
    return NewbornFunding(funded_years=funded, covered_from=born, covered_until=until)


def side_rule_refs(policy: Policy, day: dt.date) -> list[SideRuleRef]:
    """The region's side rules with the values of their parameters on `day` (cached)."""
    on = _day(policy, day)
    if on.side_rules is None:
        on.side_rules = [
            SideRuleRef(
                id=rule_id,
                cite=f"{policy.id} {rule.clause}",
                values={name: on.values.get(name) for name in rule.parameters},
            )
            for rule_id, rule in policy.side_rules.items()
        ]
    return list(on.side_rules)


CAP_MEMO_SIZE = 4096


def _cap_part(ctx: _Context) -> tuple[Cap, list[CapYear]]:
    """The cap, its explanation and its projection.

    They follow from the paid years and the claims history alone, and in a population these
    repeat: of 20,000 generated profiles, 529 distinct histories. So each policy day keeps the
    last few thousand, and the explanation's steps (read-only, like every result) are shared.
    """
    profile = ctx.profile
    rules = _CapRules(ctx)
    key = (
        profile.benefit_year,
        rules.first,
        rules.unpaid,
        tuple(profile.zero_claim_years),
        tuple(profile.incentive_used_years),
    )
    memo = ctx.on.cap_memo
    found = memo.get(key)
    if found is None:
        explain, ctx.explain = ctx.explain, True  # kept results carry their steps
        first_step = len(ctx.steps)
        cap, kept, run = _cap(rules, profile.benefit_year)
        _explain_cap(ctx, cap)
        projection = _projection(rules, cap, kept, run, profile.benefit_year)
        ctx.step(
            "cap.projection",
            ctx.on.cite("cap.continuity_after_years"),
            interpretation=True,
            years=PROJECTION_YEARS,
        )
        ctx.explain = explain
        steps = tuple(ctx.steps[first_step:])
        if not explain:
            del ctx.steps[first_step:]
        if CAP_MEMO_SIZE:
            if len(memo) >= CAP_MEMO_SIZE:
                memo.clear()
            memo[key] = (cap, tuple(projection), steps)
        return cap, projection
    cap, projection, steps = found
    if ctx.explain:
        ctx.steps.extend(steps)
    return cap, list(projection)


def cap_memo_entries() -> int:
    """How many cap histories are kept now, over every policy and day."""
    return sum(len(day.cap_memo) for _, days in _BY_POLICY.values() for day in days.values())


def clear_cap_memo() -> None:
    """Forget the kept cap histories (benchmarks start each round cold)."""
    for _, days in _BY_POLICY.values():
        for day in days.values():
            day.cap_memo.clear()


def assess(
    profile: Profile, policies: Mapping[str, Policy] | None = None, *, explain: bool = True
) -> Assessment:
    """Assess one profile against its region's policy.

    With explain=False the answer has the same figures and no steps: for ledgers, which show
    no reasons, and skip the cost of writing them.
    """
    policies = policies if policies is not None else load_policies()
    policy = policies[profile.region]
    ctx = _Context(policy, profile, explain)
    if policy.draft:
        ctx.step("document.draft", f"{policy.id} {policy.base_clause}", title=policy.title)
    within = ctx.on.within
    if not within:
        ctx.step(
            "document.outside_validity",
            f"{policy.id} {policy.base_clause}",
            valid_from=policy.valid_from,
            valid_until=policy.valid_until,
            benefit_year=profile.benefit_year,
        )

    waiting, anchor, _ = _waiting(ctx)
    newborn = _newborn(ctx)
    repair = _repair(ctx, waiting, anchor)
    cap, projection = _cap_part(ctx)
    outpatient = _outpatient(ctx)
    return Assessment(
        region=profile.region,
        benefit_year=profile.benefit_year,
        document=policy.id,
        draft=policy.draft,
        within_validity=within,
        rules_version=rules_version(policies),
        waiting=waiting,
        repair=repair,
        cap=cap,
        projection=projection,
        outpatient=outpatient,
        newborn=newborn,
        side_rules=side_rule_refs(policy, ctx.day),
        steps=ctx.steps,
    )
