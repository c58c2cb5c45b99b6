"""The waiting period of flexible workers paying into employee insurance (灵活就业人员参加职工医保).

Clause: xizang 一(三) ("新参保的灵活就业人员自缴费之日起设置待遇等待期3个月 ... 中断缴费不足
3个月（含3个月）的，恢复缴费后即可按照规定享受待遇"). A policy encodes it when it sets
`flexible.wait_months` and `flexible.gap_months` (Policy.employee_waiting); rules.engine refuses
employee insurance elsewhere.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rules.dates import add_months, start_after, year_end
from rules.models import Waiting

if TYPE_CHECKING:
    from rules.context import Context
    from rules.payment import Payment


def employee_waiting(ctx: Context, payment: Payment) -> Waiting:
    """New enrolment waits `flexible.wait_months` (months) from the payment; resuming after a
    gap of `flexible.gap_months` or less has no wait; a longer gap waits again. No variable
    part. An unknown gap is answered as a wait, with `left_on` named as missing."""
    profile = ctx.profile
    months: int = ctx.value("flexible.wait_months")
    gap: int = ctx.value("flexible.gap_months")
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
    start = max(ctx.day, start_after(day, total))
    ctx.cited(
        "waiting.flexible_worker",
        "flexible.wait_months",
        {
            "case": case,
            "months": total,
            "gap_months": gap,
            "left_on": stopped,
            "payment_date": day,
            "benefit_start": start,
        },
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
