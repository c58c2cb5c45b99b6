"""Repair payments (缴费修复): which break years are worth paying for, and what each option gives.

Clauses: "每多缴纳1年可减少1个月变动待遇等待期" and the floor after a long break (xizang 一(三),
shanxi 一(二), chongqing 二(五), tianjin 一(四)); the price per year is `repair.contribution`, the
individual contribution of the year the repair is made (a deployment sets it where the text does
not give the amount). Only useful years are offered: each must shorten the wait.
"""

from __future__ import annotations

import datetime as dt

from rules.context import Context
from rules.dates import year_end
from rules.models import Repair, RepairOption, Waiting
from rules.payment import Payment
from rules.waiting import constants, start_after_wait


def repair(ctx: Context, waiting: Waiting, payment: Payment) -> Repair:
    """Useful repair years (修复年限), each option's wait (months), start (ISO date) and cost
    (yuan; None where the contribution is not known)."""
    profile = ctx.profile
    break_years = waiting.break_years
    cost_year = (profile.payment_date or profile.today).year
    if not waiting.applies:  # no wait: nothing to repair, and no step to explain
        return Repair(
            useful_years=0,
            cost_year=cost_year,
            cost_per_year=None,
            requested_years=profile.repair_years,
            requested_cost=None,
            options=[],
            cost_tier=ctx.value("repair.tier", dt.date(cost_year, 1, 1)),
        )
    c = constants(ctx)
    cost: int | None = ctx.value("repair.contribution", dt.date(cost_year, 1, 1))
    tier: str | None = ctx.value("repair.tier", dt.date(cost_year, 1, 1))
    totals = [c.months(break_years, r, True)[2] for r in range(break_years + 1)]
    useful = 0 if waiting.exempt else totals.index(min(totals))
    options = []
    outside = waiting.anchor == "payment_date"
    # A late-paid year's wait running into this one bounds every option's start.
    earliest = waiting.benefit_start if waiting.carried_from else None
    year_last = year_end(profile.benefit_year)
    for years in range(1, useful + 1):
        start = start_after_wait(ctx, totals[years], payment, outside)
        if earliest and earliest > start:
            start = earliest
        options.append(
            RepairOption(
                years=years,
                total_months=totals[years],
                benefit_start=start,
                no_cover_this_year=start > year_last,
                cost=None if cost is None else cost * years,
            )
        )
    ctx.cited(
        "repair.useful",
        "waiting.repair_months_per_year",
        {
            "break_years": break_years,
            "useful_years": useful,
            "fixed": waiting.fixed_months,
            "floor": c.floor if break_years >= c.floor_breaks else None,
        },
    )
    if useful:
        if cost is None:
            ctx.cited(
                "repair.cost_unknown", "repair.contribution", {"year": cost_year, "tier": tier}
            )
        else:
            ctx.cited("repair.cost", "repair.contribution", {"year": cost_year, "per_year": cost})
    if profile.repair_years > useful:
        ctx.cited(
            "repair.more_not_useful",
            "waiting.repair_months_per_year",
            {"requested": profile.repair_years, "useful_years": useful, "break_years": break_years},
        )
    return Repair(
        useful_years=useful,
        cost_year=cost_year,
        cost_per_year=cost,
        requested_years=profile.repair_years,
        requested_cost=None if cost is None else cost * min(profile.repair_years, break_years),
        options=options,
        cost_tier=tier,
    )
