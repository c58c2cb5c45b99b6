"""The benefit waiting period (待遇等待期) of resident insurance, and the day benefits start.

Clauses: the fixed wait (固定待遇等待期), one variable month for each further break year
(变动待遇等待期, "每多断保1年"), one month less for each repaired year, and the floor after a long
break ("连续断缴4年及以上的 ... 不少于6个月"): xizang 一(三), shanxi 一(二), chongqing 二(五),
tianjin 一(四), national 国办发〔2024〕38号; every number is a `waiting.*` parameter of the
region's policy, in months (breaks and repairs in years):

    fixed    = waiting.fixed_months                      (0 when the wait does not apply)
    variable = max(0, breaks - waiting.free_break_years) * waiting.variable_per_break_year
    total    = fixed + variable - min(repaired * waiting.repair_months_per_year, variable)
    total    = max(total, waiting.floor_months)     when breaks >= waiting.floor_break_years

The wait applies to a payment outside the centralized period, or after break years (or a switch
whose gap the text makes a break, tianjin 一(四)). Exempt groups: rules.exemptions; employee
insurance: rules.employee.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rules.breaks import explain_breaks
from rules.context import Context, PolicyDay
from rules.dates import add_months, start_after, year_end
from rules.employee import employee_waiting
from rules.exemptions import check_exemption, exempt_waiting, explain_exemption
from rules.models import FIRST_YEAR, Outcome, Waiting
from rules.payment import Payment
from rules.regional import individual_part_only, off_period_enrolment, provinces_decide


class WaitingConstants:
    """The `waiting.*` parameters of one policy day, in months and years (all required)."""

    __slots__ = ("fixed", "floor", "floor_breaks", "free", "per_break", "per_repair")

    def __init__(self, on: PolicyDay) -> None:
        values = on.values
        self.fixed: int = values["waiting.fixed_months"]
        self.free: int = values["waiting.free_break_years"]
        self.per_break: int = values["waiting.variable_per_break_year"]
        self.per_repair: int = values["waiting.repair_months_per_year"]
        self.floor_breaks: int = values["waiting.floor_break_years"]
        self.floor: int = values["waiting.floor_months"]

    def months(self, break_years: int, repaired_years: int, applies: bool) -> tuple[int, int, int]:
        """(fixed, variable before repair, total after repair and floor), in months."""
        if not applies:
            return 0, 0, 0
        variable = max(0, break_years - self.free) * self.per_break
        total = self.fixed + variable - min(repaired_years * self.per_repair, variable)
        if break_years >= self.floor_breaks:
            total = max(total, self.floor)
        return self.fixed, variable, total


def constants(ctx: Context) -> WaitingConstants:
    """The waiting constants of the answer's policy day."""
    return ctx.on.constants(WaitingConstants)


def start_after_wait(ctx: Context, months: int, payment: Payment, outside: bool) -> dt.date:
    """The day benefits start after `months` of waiting (ISO date).

    Outside the period the wait runs from the payment (`waiting.anchor`); in it, from 1 January
    of the benefit year (the reading `january_anchor`; 咸宁市医疗保障局 states 1 April for a 2025
    break whenever 2026 was paid in its period, which ran to 2026-02-28). With no wait, a payment
    made in the benefit year itself (an extended period) covers from that day: no cover is
    assumed before the payment.
    """
    year_start = ctx.day
    if outside:  # the payment day is known, or taken as today (Payment.day_missing)
        return max(year_start, start_after(payment.day or year_start, months))
    if not months and payment.day and payment.day > year_start:
        return payment.day
    return add_months(year_start, months)


def carried(ctx: Context) -> tuple[int, dt.date] | None:
    """(year, day) when the year before was paid late and its own wait runs past 31 December.

    Official example (Fuxin bureau, 2025-09-08; the reading `late_year_carries`): 2025 and 2026
    paid together on 2025-11-06, 2025's wait runs to 2026-02-05, so 2026 benefits start on
    2026-02-06.
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
    start = waiting(Context(ctx.policy, earlier, explain=False))[0].benefit_start
    if start and start > year_end(year):
        return year, start
    return None


def explain_waiting(
    ctx: Context,
    break_years: int,
    outside: bool,
    applies: bool,
    months: tuple[int, int, int, int],
    benefit_start: dt.date,
    payment: Payment,
) -> None:
    """The steps of the waiting period: its parts, the repair, the floor and the start.

    `months`: (fixed, variable, total, total without repair), in months.
    """
    profile = ctx.profile
    fixed_months, variable_months, total_months, unrepaired_months = months
    c = constants(ctx)
    if not applies:
        ctx.reading("waiting.none", "january_anchor", {"benefit_start": benefit_start})
        return
    ctx.cited(
        "waiting.fixed",
        "waiting.fixed_months",
        {"months": fixed_months, "outside_period": outside, "break_years": break_years},
    )
    ctx.cited(
        "waiting.variable",
        "waiting.free_break_years",
        {
            "break_years": break_years,
            "free": c.free,
            "per_year": c.per_break,
            "months": variable_months,
        },
    )
    if profile.repair_years:
        ctx.cited(
            "waiting.repair",
            "waiting.repair_months_per_year",
            {
                "requested": profile.repair_years,
                "counted": min(profile.repair_years, break_years),
                "months": unrepaired_months - total_months,
            },
        )
    if break_years >= c.floor_breaks:
        ctx.cited(
            "waiting.floor",
            "waiting.floor_months",
            {
                "break_years": break_years,
                "floor": c.floor,
                "binding": total_months == c.floor,
                "in_principle": "floor_in_principle" in ctx.policy.readings,  # 原则上不少于6个月
            },
        )
    params: dict[str, Any] = {
        "anchor": "payment_date" if outside else "centralized",
        "months": total_months,
        "benefit_start": benefit_start,
        "payment_date": payment.day,
    }
    if outside:
        ctx.cited("waiting.start", "waiting.anchor", params)
    else:
        ctx.reading("waiting.start", "january_anchor", params)
    if benefit_start > year_end(profile.benefit_year):
        ctx.cited(
            "waiting.no_cover_this_year",
            "waiting.fixed_months",
            {"benefit_year": profile.benefit_year, "benefit_start": benefit_start},
        )
    ctx.shared(_break_costs_uncovered)


def _break_costs_uncovered(ctx: Context) -> None:
    if "waiting.break_costs_uncovered" in ctx.policy.parameters:
        ctx.cited("waiting.break_costs_uncovered", "waiting.break_costs_uncovered")
    else:  # true of any uninsured time, but this text does not say it in words
        ctx.step("waiting.break_costs_uncovered", None, interpretation=True)


def _outcome(
    ctx: Context,
    c: WaitingConstants,
    payment: Payment,
    late: tuple[int, dt.date] | None,
    months: tuple[int, int, bool],
    outside: bool,
) -> tuple[bool, int, dt.date]:
    """(applies, total months, benefit start) for a payment outside the period or in it;
    `months`: (break years, years repaired, whether the breaks alone make the wait apply)."""
    break_years, repaired, breaks_apply = months
    applies = outside or breaks_apply
    total = c.months(break_years, repaired, applies)[2]
    start = start_after_wait(ctx, total, payment, outside)
    if late and late[1] > start:
        start = late[1]
    return applies, total, start


def waiting(ctx: Context) -> tuple[Waiting, Payment]:
    """The waiting period, and the payment it was worked out from."""
    profile, policy = ctx.profile, ctx.policy
    payment = Payment(ctx)
    if profile.scheme == "employee":
        return employee_waiting(ctx, payment), payment
    break_year_list = ctx.history.break_year_list
    if ctx.explain:
        provinces_decide(ctx)
        explain_breaks(ctx, break_year_list)
        payment.explain(ctx)
        off_period_enrolment(ctx, payment)

    exemption = None
    broken = False
    if profile.group is not None:
        exemption = check_exemption(profile, policy, ctx.day)
        rule = policy.exempt_groups.get(profile.group)
        if exemption is not None and exemption.granted and rule is not None:
            return exempt_waiting(ctx, exemption, rule, payment, break_year_list), payment
        if exemption is not None and ctx.explain:
            explain_exemption(ctx, exemption, rule)
    individual_part_only(ctx)
    if exemption is not None:
        # Where the text says so (`switch.longer_gap_is_break`, tianjin 一(四)), a switch whose
        # gap is longer than it allows makes the person a break person.
        broken = bool(
            ctx.value("switch.longer_gap_is_break")
            and any(c.id == "gap_within_months" and c.holds is False for c in exemption.conditions)
        )
        if broken:
            ctx.cited("waiting.switch_gap_is_break", "switch.longer_gap_is_break")

    c = constants(ctx)
    break_years = len(break_year_list)
    months = (break_years, min(profile.repair_years, break_years), bool(break_years) or broken)
    late = carried(ctx)
    year_last = year_end(profile.benefit_year)
    # Unknown whether the payment was in the period: answer with the later start, give the other.
    alternative = None
    if payment.in_period is None:
        outside = True
        applies, total_months, benefit_start = _outcome(ctx, c, payment, late, months, True)
        other = _outcome(ctx, c, payment, late, months, False)
        if other[2] > benefit_start:
            outside = False
            other, (applies, total_months, benefit_start) = (
                (applies, total_months, benefit_start),
                other,
            )
        alternative = Outcome(
            in_period=outside,
            applies=other[0],
            total_months=other[1],
            benefit_start=other[2],
            no_cover_this_year=other[2] > year_last,
        )
    else:
        outside = not payment.in_period
        applies, total_months, benefit_start = _outcome(ctx, c, payment, late, months, outside)
    fixed_months, variable_months, _ = c.months(break_years, months[1], applies)
    unrepaired_months = c.months(break_years, 0, applies)[2] if months[1] else total_months
    carried_from = None
    if late and late[1] > start_after_wait(
        ctx, total_months, payment, outside
    ):  # it moved the start
        carried_from = late[0]
        ctx.reading("waiting.carried_over", "late_year_carries", {"year": late[0], "day": late[1]})
    if ctx.explain:
        explain_waiting(
            ctx,
            break_years,
            outside,
            applies,
            (fixed_months, variable_months, total_months, unrepaired_months),
            benefit_start,
            payment,
        )
        if alternative is not None:
            ctx.cited(
                "waiting.alternative",
                "payment_period",
                {
                    "in_period": alternative.in_period,
                    "applies": alternative.applies,
                    "months": alternative.total_months,
                    "benefit_start": alternative.benefit_start,
                    "benefit_year": profile.benefit_year,
                },
            )
    missing = list(exemption.missing) if exemption else []
    if payment.in_period is None:
        missing.append("in_period")
    if payment.day_missing:
        missing.append("payment_date")
    return (
        Waiting(
            break_years=break_years,
            break_year_list=break_year_list,
            applies=applies,
            exempt=False,
            fixed_months=fixed_months,
            variable_months=variable_months,
            repaired_months=unrepaired_months - total_months,
            total_months=total_months,
            anchor="payment_date" if outside else "centralized",
            benefit_start=benefit_start,
            no_cover_this_year=benefit_start > year_last,
            period=payment.period,
            period_source=payment.source,
            in_period=payment.in_period,
            alternative=alternative,
            exemption=exemption,
            missing=missing,
            carried_from=carried_from,
        ),
        payment,
    )
