"""The assessment: waiting period, repair options and the critical-illness cap, explained."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from rules.dates import add_months, year_end
from rules.exemptions import check_exemption
from rules.models import (
    FIRST_YEAR,
    Assessment,
    Cap,
    CapYear,
    Exemption,
    NewbornFunding,
    Outcome,
    Outpatient,
    Profile,
    Repair,
    RepairOption,
    SideRuleRef,
    Step,
    Waiting,
)
from rules.policy import ExemptGroup, Policy, load_policies, period_bounds, rules_version

PROJECTION_YEARS = 5
_AHEAD = range(1, PROJECTION_YEARS + 1)


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
        self.within = policy.valid_on(day) and policy.valid_on(year_end(day.year))
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

    def reading(self, rule: str, reading: str, *, flag: bool = True, **params: Any) -> None:
        """A step resting on one of the policy's readings where the text is silent; `flag`
        False when, for these facts, the reading changes nothing."""
        if not self.explain:
            return
        found = self.policy.readings.get(reading)
        cite = f"{self.policy.id} {found.clause}" if found and found.clause else None
        self.steps.append(
            Step(
                rule,
                cite or self.on.cite(rule),
                params,
                bool(found) and flag,
                source=found.source if found and flag else None,
            )
        )

    def cited(
        self, rule: str, parameter: str, *, interpretation: bool = False, **params: Any
    ) -> None:
        """A step whose clause, and interpretation flag, come from one parameter."""
        if not self.explain:
            return
        cite, reading, since, checked = self.on.ref(parameter)
        source = self.policy.parameters[parameter].source if reading else None
        self.steps.append(
            Step(rule, cite, params, interpretation or reading, since, checked, source)
        )


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
    """(fixed, variable before repair, total after repair and floor), in months."""
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


class _Payment:
    """When the premium is paid, and whether that is inside the centralized period (集中缴费期).

    `day`: the payment date (today when the person paid outside the period on a day not given);
    `in_period`: None when neither the period nor the person's word settles it.
    """

    def __init__(self, ctx: _Context) -> None:
        profile = ctx.profile
        self.period: str | None = profile.payment_period
        self.source = "input" if self.period else "none"
        if self.period is None:
            self.period = ctx.value("payment_period")
            self.source = "policy" if self.period else "none"
        self.bounds = period_bounds(self.period, profile.benefit_year) if self.period else None
        self.day = profile.payment_date
        self.day_missing = False
        if self.day is None:
            self.in_period: bool | None = profile.in_period is not False
            if not self.in_period:  # paid (or paying) outside the period on a day not given
                self.day_missing = True
                today, year = profile.today, profile.benefit_year
                self.day = today if year - 1 <= today.year <= year else dt.date(year, 1, 1)
        elif profile.in_period is not None:
            self.in_period, self.source = profile.in_period, "person"
        elif self.bounds:
            self.in_period = self.bounds[0] <= self.day <= self.bounds[1]
        else:
            self.in_period = None

    def fields(self) -> dict[str, Any]:
        """The payment's part of a Waiting: period, where it came from, in it or not."""
        return {"period": self.period, "period_source": self.source, "in_period": self.in_period}

    def explain(self, ctx: _Context) -> None:
        if ctx.profile.payment_date is None and not self.day_missing:
            return
        first, last = self.bounds or (None, None)
        if self.in_period is None:
            ctx.cited(
                "payment.period_unknown",
                "payment_period",
                payment_date=self.day,
                benefit_year=ctx.profile.benefit_year,
            )
            return
        ctx.cited(
            "payment.in_period" if self.in_period else "payment.outside_period",
            "payment_period",
            payment_date=self.day,
            start=first,
            end=last,
            said_by_person=self.source == "person",
            day_missing=self.day_missing,
        )


def _start(ctx: _Context, months: int, payment: _Payment, outside: bool) -> dt.date:
    """The day benefits start after `months` of waiting (ISO date).

    Outside the period the wait runs from the payment; in it, from 1 January of the benefit year
    (a reading; 咸宁市医疗保障局 states 1 April for a 2025 break whenever 2026 was paid in its
    period, which ran to 2026-02-28). With no wait, a payment made in the benefit year itself
    (an extended period) covers from that day: no cover is assumed before the payment.
    """
    year_start = ctx.day
    if outside:
        return max(year_start, add_months(payment.day, months))
    if not months and payment.day and payment.day > year_start:
        return payment.day
    return add_months(year_start, months)


def _carried(ctx: _Context) -> tuple[int, dt.date] | None:
    """(year, day) when the year before was paid late and its own wait runs past 31 December.

    Official example (Fuxin bureau, 2025-09-08): 2025 and 2026 paid together on 2025-11-06,
    2025's wait runs to 2026-02-05, so 2026 benefits start on 2026-02-06.
    """
    profile = ctx.profile
    year = profile.benefit_year - 1
    detail = profile.detail(year)
    if detail is None or detail.paid_on is None or year < FIRST_YEAR:
        return None
    if not year - 1 <= detail.paid_on.year <= year:
        return None  # paid after the year ended: that is a repair, not cover of the year
    earlier = profile.model_copy(
        update={
            "benefit_year": year,
            "coverage": {y: v for y, v in profile.coverage.items() if y < year},
            "payment_date": detail.paid_on,
            "in_period": None,
            "repair_years": 0,
            "zero_claim_years": [y for y in profile.zero_claim_years if y < year - 1],
            "incentive_used_years": [y for y in profile.incentive_used_years if y < year - 1],
            "left_on": None,
            "continuous_years": None,
        }
    )
    waiting = assess(earlier, {profile.region: ctx.policy}, explain=False).waiting
    if waiting.benefit_start and waiting.benefit_start > year_end(year):
        return year, waiting.benefit_start
    return None


def _exemption_start(
    ctx: _Context, rule: ExemptGroup, payment: _Payment
) -> tuple[dt.date, str, dt.date | None, bool]:
    """(benefit start, anchor, covered until, born in the period) for a granted exemption."""
    profile = ctx.profile
    born = profile.birth_date
    paid = profile.payment_date
    # 随参随缴随享: from the payment; a payment made before the benefit year covers from 1 January.
    start, anchor = (paid, "payment_date") if paid and paid > ctx.day else (ctx.day, "centralized")
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


def _explain_exemption(ctx: _Context, exemption: Exemption, rule: ExemptGroup | None) -> None:
    params = {
        "group": exemption.group,
        "conditions": exemption.condition_items,
        "missing": list(exemption.missing),
        "open_list": exemption.open_list,
    }
    if not exemption.named:
        ctx.step(
            "waiting.group_open_list" if exemption.open_list else "waiting.group_not_exempt",
            exemption.clause,
            **params,
        )
    elif not exemption.granted:
        ctx.step(
            "waiting.exemption_unknown" if exemption.missing else "waiting.exemption_not_met",
            exemption.clause,
            interpretation=exemption.interpretation,
            reason=rule.reason if rule else None,
            **params,
        )


def _exempt_waiting(
    ctx: _Context, exemption: Exemption, rule: ExemptGroup, payment: _Payment, breaks: list[int]
) -> Waiting:
    profile = ctx.profile
    start, anchor, until, in_period_birth = _exemption_start(ctx, rule, payment)
    ctx.step(
        "waiting.exempt",
        exemption.clause,
        interpretation=exemption.interpretation,
        reason=rule.reason,
        group=exemption.group,
        conditions=exemption.condition_items,
        benefit_start=start,
        covered_until=until,
        start_rule=rule.start,
        born_in_period=in_period_birth,
    )
    if rule.start == "birth_in_period_to_next_year_end" and not in_period_birth:
        ctx.reading("waiting.newborn_outside_period", "newborn_outside_period")
    return Waiting(
        break_years=len(breaks),
        break_year_list=breaks,
        applies=False,
        exempt=True,
        fixed_months=0,
        variable_months=0,
        repaired_months=0,
        total_months=0,
        anchor=anchor,  # type: ignore[arg-type]
        benefit_start=start,
        covered_until=until,
        no_cover_this_year=start > year_end(profile.benefit_year),
        **payment.fields(),
        exemption=exemption,
    )


def _explain_waiting(
    ctx: _Context,
    breaks: int,
    outside: bool,
    applies: bool,
    months: tuple[int, int, int, int],
    start: dt.date,
    payment: _Payment,
) -> None:
    """The steps of the waiting period: its parts, the repair, the floor and the start."""
    profile = ctx.profile
    fixed, variable, total, unrepaired = months
    effective_repair = min(profile.repair_years, breaks)
    no_cover = start > year_end(profile.benefit_year)
    if not applies:
        ctx.reading("waiting.none", "january_anchor", benefit_start=start)
        return
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
            in_principle="floor_in_principle" in ctx.policy.readings,  # 原则上不少于6个月
        )
    params = {
        "anchor": "payment_date" if outside else "centralized",
        "months": total,
        "benefit_start": start,
        "payment_date": payment.day,
    }
    if outside:
        ctx.cited("waiting.start", "waiting.anchor", **params)
    else:
        ctx.reading("waiting.start", "january_anchor", **params)
    if no_cover:
        ctx.cited(
            "waiting.no_cover_this_year",
            "waiting.fixed_months",
            benefit_year=profile.benefit_year,
            benefit_start=start,
        )
    if "waiting.break_costs_uncovered" in ctx.policy.parameters:
        ctx.cited("waiting.break_costs_uncovered", "waiting.break_costs_uncovered")
    else:  # true of any uninsured time, but this text does not say it in words
        ctx.step("waiting.break_costs_uncovered", None, interpretation=True)


def _explain_breaks(ctx: _Context, breaks: list[int]) -> None:
    profile = ctx.profile
    every = all_break_years(profile)
    ctx.reading(
        "breaks.counted",
        "break_run",
        flag=bool(breaks) and every != breaks,
        break_years=len(breaks),
        years=breaks,
        all_break_years=every,
        ignored_before_2025=sorted(y for y in profile.coverage if y < FIRST_YEAR),
    )
    if any(y < FIRST_YEAR for y in profile.coverage):
        ctx.reading("breaks.before_2025", "years_before_2025")
    if profile.first_year > FIRST_YEAR:
        ctx.step(
            "breaks.from_birth",
            f"{ctx.policy.id} {ctx.policy.base_clause}",
            interpretation=True,
            first_year=profile.first_year,
        )


def _employee_waiting(ctx: _Context, payment: _Payment) -> Waiting:
    """Xizang 一(三): flexible workers paying into employee insurance (灵活就业人员参加职工医保).

    New enrolment waits `flexible.wait_months` from the payment; resuming after a gap of
    `flexible.gap_months` or less has no wait; a longer gap waits again. No variable part.
    """
    profile = ctx.profile
    months = ctx.value("flexible.wait_months")
    gap = ctx.value("flexible.gap_months")
    had = profile.left_on is not None or any(
        profile.kind(y) == "employee" for y in profile.coverage if y < profile.benefit_year
    )
    missing: list[str] = []
    stopped = profile.left_on or max(
        (d.until for y in profile.coverage if (d := profile.detail(y)) and d.until), default=None
    )
    day = payment.day or ctx.day
    if not had:
        waits, case = True, "new"
    elif stopped is not None:  # the last day insured: the gap starts the next day
        waits, case = day > add_months(stopped + dt.timedelta(days=1), gap), "resumed"
    else:
        waits, case, missing = True, "gap_unknown", ["left_on"]
    if profile.payment_date is None:
        missing.append("payment_date")
    total = months if waits else 0
    start = max(ctx.day, add_months(day, total))
    ctx.cited(
        "waiting.flexible_worker",
        "flexible.wait_months",
        case=case,
        months=total,
        gap_months=gap,
        left_on=stopped,
        payment_date=day,
        benefit_start=start,
    )
    return Waiting(
        break_years=0,
        break_year_list=[],
        applies=waits,
        exempt=False,
        fixed_months=total,
        variable_months=0,
        repaired_months=0,
        total_months=total,
        anchor="payment_date",
        benefit_start=start,
        no_cover_this_year=start > year_end(profile.benefit_year),
        scheme="employee",
        **payment.fields(),
        missing=missing,
    )


def _waiting(ctx: _Context) -> tuple[Waiting, _Payment]:
    """The waiting period (待遇等待期), and the payment it was worked out from."""
    profile, policy = ctx.profile, ctx.policy
    payment = _Payment(ctx)
    if profile.scheme == "employee":
        return _employee_waiting(ctx, payment), payment
    breaks = break_run(profile)
    if ctx.explain:
        if "provinces_decide" in policy.side_rules:
            ctx.step("waiting.provinces_decide", policy.cite("waiting.fixed_months"))
        _explain_breaks(ctx, breaks)
        payment.explain(ctx)
        if payment.in_period is not True and policy.id == "xizang":
            ctx.step("xizang.off_period_enrolment", "xizang 一(三)")

    exemption = check_exemption(profile, policy, ctx.day)
    rule = policy.exempt_groups.get(profile.group) if profile.group else None
    if exemption is not None and exemption.granted and rule is not None:
        return _exempt_waiting(ctx, exemption, rule, payment, breaks), payment
    if exemption is not None and ctx.explain:
        _explain_exemption(ctx, exemption, rule)
    if profile.group in ("job_change", "veteran") and "individual_part_only" in policy.side_rules:
        # Chongqing 一(二): joining within 3 months, they pay only the individual part; a price
        # rule, not an exemption from the wait.
        ctx.step(
            "price.individual_part_only",
            f"{policy.id} {policy.side_rules['individual_part_only'].clause}",
            months=ctx.value("switch.gap_months"),
        )
    # Tianjin 一(四): a switch with a gap over 3 months makes the person a break person.
    broken = bool(
        exemption
        and ctx.value("switch.longer_gap_is_break")
        and any(c.id == "gap_within_months" and c.holds is False for c in exemption.conditions)
    )
    if broken:
        ctx.cited("waiting.switch_gap_is_break", "switch.longer_gap_is_break")

    effective_repair = min(profile.repair_years, len(breaks))
    carried = _carried(ctx)

    def outcome(outside: bool) -> Outcome:
        applies = outside or bool(breaks) or broken
        total = _months(ctx, len(breaks), effective_repair, applies)[2]
        start = _start(ctx, total, payment, outside)
        if carried and carried[1] > start:
            start = carried[1]
        return Outcome(
            in_period=not outside,
            applies=applies,
            total_months=total,
            benefit_start=start,
            no_cover_this_year=start > year_end(profile.benefit_year),
        )

    # Unknown whether the payment was in the period: answer with the later start, give the other.
    alternative = None
    if payment.in_period is None:
        main, alternative = outcome(True), outcome(False)
        later = alternative.benefit_start and main.benefit_start
        if later and alternative.benefit_start > main.benefit_start:
            main, alternative = alternative, main
    else:
        main = outcome(not payment.in_period)
    outside, applies, total = not main.in_period, main.applies, main.total_months
    fixed, variable, _ = _months(ctx, len(breaks), effective_repair, applies)
    unrepaired = _months(ctx, len(breaks), 0, applies)[2]
    start = main.benefit_start or ctx.day
    carried_from = None
    if carried and carried[1] > _start(ctx, total, payment, outside):  # it moved the start
        carried_from = carried[0]
        ctx.reading("waiting.carried_over", "late_year_carries", year=carried[0], day=carried[1])
    if ctx.explain:
        _explain_waiting(
            ctx, len(breaks), outside, applies, (fixed, variable, total, unrepaired), start, payment
        )
        if alternative is not None:
            ctx.cited(
                "waiting.alternative",
                "payment_period",
                in_period=alternative.in_period,
                applies=alternative.applies,
                months=alternative.total_months,
                benefit_start=alternative.benefit_start,
                benefit_year=profile.benefit_year,
            )
    missing = list(exemption.missing) if exemption else []
    if payment.in_period is None:
        missing.append("in_period")
    if payment.day_missing:
        missing.append("payment_date")
    waiting = Waiting(
        break_years=len(breaks),
        break_year_list=breaks,
        applies=applies,
        exempt=False,
        fixed_months=fixed,
        variable_months=variable,
        repaired_months=unrepaired - total,
        total_months=total,
        anchor="payment_date" if outside else "centralized",
        benefit_start=start,
        no_cover_this_year=start > year_end(profile.benefit_year),
        **payment.fields(),
        alternative=alternative,
        exemption=exemption,
        missing=missing,
        carried_from=carried_from,
    )
    return waiting, payment


def _repair(ctx: _Context, waiting: Waiting, payment: _Payment) -> Repair:
    """Useful repair years (修复年限), each option's wait, start and cost (yuan)."""
    profile = ctx.profile
    breaks = waiting.break_years
    cost_year = (profile.payment_date or profile.today).year
    cost_day = dt.date(cost_year, 1, 1)
    cost = ctx.value("repair.contribution", cost_day) if waiting.applies else None
    totals = [_months(ctx, breaks, r, waiting.applies)[2] for r in range(breaks + 1)]
    useful = totals.index(min(totals)) if waiting.applies and not waiting.exempt else 0
    options = []
    outside = waiting.anchor == "payment_date"
    # A late-paid year's wait running into this one bounds every option's start.
    earliest = waiting.benefit_start if waiting.carried_from else None
    for years in range(1, useful + 1):
        start = _start(ctx, totals[years], payment, outside)
        if earliest and earliest > start:
            start = earliest
        options.append(
            RepairOption(
                years=years,
                total_months=totals[years],
                benefit_start=start,
                no_cover_this_year=start > year_end(profile.benefit_year),
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
        penalty_step = values.get("cap.penalty_step")
        self.penalty_step = self.step if penalty_step is None else penalty_step
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
        up = (continuity + zero) * self.step
        down = penalty * (self.penalty_step or self.step)
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
        continuity_kept_steps=kept,
        zero_claim_steps=zero,
        penalty_steps=penalty,
        continuity=None if step is None else continuity * step,
        zero_claim=None if step is None else zero * step,
        penalty=fall,
        rise=rise,
        fall=fall,
        net_change=net,
        ceiling=c.ceiling,
        fall_ceiling=c.fall_ceiling,
        base=c.base,
        cap=cap,
        zero_claim_cleared=cleared,
        penalty_step=None if step is None else c.penalty_step,
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
    down = cap.penalty_steps * (c.penalty_step or step)
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
    policy, profile = ctx.policy, ctx.profile
    if not cap.applies:
        ctx.cited("cap.resident_only", "cap.step")
        return
    if cap.base is None:
        ctx.cited("cap.base_unknown", "cap.base")
    else:
        ctx.cited("cap.base", "cap.base", base=cap.base)
    if cap.step is None:
        ctx.cited("cap.step_unknown", "cap.step_minimum", minimum=ctx.value("cap.step_minimum"))
    # "满4年 ... 之后每连续参保缴费1年": that the first rise comes in 2029 is our reading.
    ctx.cited(
        "cap.continuity",
        "cap.continuity_after_years",
        interpretation=True,
        steps=cap.continuity_steps,
        amount=cap.continuity,
        after_years=ctx.value("cap.continuity_after_years"),
        step=cap.step,
    )
    if any(profile.kind(y) == "employee" for y in range(FIRST_YEAR, profile.benefit_year)):
        ctx.reading("cap.employee_years_count", "employee_years_count")
    if cap.penalty_steps:
        ctx.cited("cap.continuity_restarts", "cap.continuity_restarts_on_break")
        if ctx.value("cap.continuity_kept_on_break"):
            ctx.cited(
                "cap.continuity_kept",
                "cap.continuity_kept_on_break",
                kept_steps=cap.continuity_kept_steps,
                amount=None if cap.step is None else cap.continuity_kept_steps * cap.step,
            )
    # Whether a later break ends the credit of a zero-claim year the texts do not say.
    unpaid = [y for y in range(profile.first_year, profile.benefit_year) if not profile.covered(y)]
    across_break = any(z < u for z in profile.zero_claim_years for u in unpaid)
    ctx.cited(
        "cap.zero_claim",
        "cap.zero_claim_needs_paid_year",
        interpretation=bool(cap.zero_claim_steps) and across_break,
        steps=cap.zero_claim_steps,
        amount=cap.zero_claim,
        needs_paid_year=ctx.value("cap.zero_claim_needs_paid_year"),
        years=sorted(profile.zero_claim_years),
    )
    if cap.zero_claim_cleared:
        ctx.cited(
            "cap.zero_claim_cleared",
            "cap.zero_claim_clear_delay_years",
            delay_years=ctx.value("cap.zero_claim_clear_delay_years"),
            used=sorted(profile.incentive_used_years),
        )
    earned_fall = None if cap.penalty_step is None else cap.penalty_steps * cap.penalty_step
    if cap.penalty_steps:
        ctx.cited(
            "cap.penalty",
            "cap.penalty_step" if "cap.penalty_step" in policy.parameters else "cap.step",
            steps=cap.penalty_steps,
            amount=cap.penalty,
            earned=earned_fall,
            step=cap.penalty_step,
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
    if cap.fall is not None and earned_fall is not None and earned_fall > cap.fall:
        ctx.cited(
            "cap.fall_bounded",
            "cap.fall_ceiling_share"
            if ctx.value("cap.fall_ceiling") is None
            else "cap.fall_ceiling",
            ceiling=cap.fall_ceiling,
            earned=earned_fall,
        )
    if cap.ceiling is None:
        ctx.cited(
            "cap.ceiling_unknown",
            "cap.rise_ceiling_share",
            share=ctx.value("cap.rise_ceiling_share"),
        )
    if cap.fall_ceiling is None and ctx.value("cap.fall_ceiling_share") is not None:
        ctx.cited(
            "cap.fall_ceiling_unknown",
            "cap.fall_ceiling_share",
            share=ctx.value("cap.fall_ceiling_share"),
        )
    params = {"rise": cap.rise, "fall": cap.fall, "net_change": cap.net_change, "cap": cap.cap}
    if "netting" in policy.readings:
        ctx.reading("cap.netted", "netting", **params)
    else:
        ctx.step("cap.netted", f"{policy.id} {policy.base_clause}", **params)


def _outpatient(ctx: _Context) -> Outpatient | None:
    rise = ctx.value("outpatient.rise")
    if rise is None:
        return None
    profile = ctx.profile
    run, year = 0, profile.benefit_year - 1
    while year >= profile.first_year and profile.covered(year):
        run, year = run + 1, year - 1
    earned = rise if run >= ctx.value("outpatient.after_years") else 0
    # The same readings as the cap's: the first rise after 2025-2028, employee years counted.
    ctx.cited(
        "outpatient.rise",
        "outpatient.rise",
        interpretation=True,
        continuous_years=run,
        rise=earned,
        after_years=ctx.value("outpatient.after_years"),
    )
    return Outpatient(continuous_years=run, rise=earned)


def _newborn(ctx: _Context, payment: _Payment) -> NewbornFunding | None:
    """Xizang 一(四): which premiums the medical-aid fund pays for a newborn (最高缴费档次).

    Born in the centralized period: next year's only; born from 1 January to the day before the
    period opens: this year's and next year's. When the period is unknown, whether the birth
    year is funded is unknown (None).
    """
    profile = ctx.profile
    if ctx.policy.id != "xizang" or profile.group != "newborn" or not profile.birth_date:
        return None
    born = profile.birth_date
    opens = period_bounds(payment.period, born.year + 1)[0] if payment.period else None
    birth_year = None if opens is None else born < opens
    funded = [born.year, born.year + 1] if birth_year else [born.year + 1]
    until = year_end(born.year + 1)
    ctx.step(
        "xizang.newborn_funding",
        "xizang 一(四)",
        birth_date=born,
        period_opens=opens,
        funded_years=funded,
        birth_year_funded=birth_year,
        covered_until=until,
    )
    return NewbornFunding(
        funded_years=funded, birth_year_funded=birth_year, covered_from=born, covered_until=until
    )


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
        profile.scheme,
        any(profile.kind(y) == "employee" for y in range(FIRST_YEAR, profile.benefit_year)),
    )
    memo = ctx.on.cap_memo
    found = memo.get(key)
    if found is None:
        explain, ctx.explain = ctx.explain, True  # kept results carry their steps
        first_step = len(ctx.steps)
        cap, kept, run = _cap(rules, profile.benefit_year)
        if profile.scheme != "resident":
            cap = dataclasses.replace(cap, applies=False)
        _explain_cap(ctx, cap)
        projection = (
            _projection(rules, cap, kept, run, profile.benefit_year) if cap.applies else []
        )
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
    no reasons, and skip the cost of writing them. Raises ValueError for employee insurance
    (`scheme`) in a region whose text gives it no waiting rule (all but xizang 一(三)).
    """
    policies = policies if policies is not None else load_policies()
    policy = policies[profile.region]
    if profile.scheme == "employee" and "flexible.wait_months" not in policy.parameters:
        raise ValueError(f"scheme: {policy.id} gives no waiting rule for employee insurance")
    ctx = _Context(policy, profile, explain)
    if policy.draft:
        ctx.step("document.draft", f"{policy.id} {policy.base_clause}", title=policy.title)
    within = ctx.on.within
    if not within:
        params = {
            "valid_from": policy.valid_from,
            "valid_until": policy.valid_until,
            "benefit_year": profile.benefit_year,
        }
        if "validity_end" in policy.readings:
            ctx.reading("document.outside_validity", "validity_end", **params)
        else:
            ctx.step("document.outside_validity", f"{policy.id} {policy.base_clause}", **params)

    waiting, payment = _waiting(ctx)
    newborn = _newborn(ctx, payment)
    repair = _repair(ctx, waiting, payment)
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
