"""The cap in the years ahead (yuan), if the person keeps paying, without and with claims.

Clauses: those of the cap (rules.cap). Paying on, the run of paid years grows by one a year,
break years stay as they are (the fall is the same every year ahead), and only the "no claims"
line earns a zero-claim step for each year after the benefit year. That the years ahead follow
the same continuity rule ("之后每连续参保缴费1年") is our reading, flagged in the step.
"""

from __future__ import annotations

from rules.cap import CapConstants
from rules.context import Context
from rules.models import Cap, CapYear

PROJECTION_YEARS = 5
_AHEAD = range(1, PROJECTION_YEARS + 1)


def projection(c: CapConstants, cap: Cap, kept: int, run: int, year: int) -> list[CapYear]:
    """The cap of each of the PROJECTION_YEARS years after `year`, from the benefit year's
    cap, its kept continuity steps and its current run of paid years."""
    step, base, ceiling, after = c.step, c.base, c.ceiling, c.after
    if step is None:
        return [CapYear(year + ahead, None, None, None, None) for ahead in _AHEAD]
    fall = c.fall(cap.penalty_steps)
    zero = cap.zero_claim_steps
    years = []
    for ahead in _AHEAD:
        counted = run + ahead - after
        up = (kept + (counted if counted > 0 else 0) + zero) * step
        up_no_claims = up + ahead * step
        if ceiling is not None:
            if up > ceiling:
                up = ceiling
            if up_no_claims > ceiling:
                up_no_claims = ceiling
        net, net_no_claims = up - fall, up_no_claims - fall
        if base is None:
            years.append(CapYear(year + ahead, net, None, net_no_claims, None))
        else:
            years.append(
                CapYear(year + ahead, net, base + net, net_no_claims, base + net_no_claims)
            )
    return years


def _projection_step(ctx: Context) -> None:
    ctx.step(
        "cap.projection",
        ctx.on.cite("cap.continuity_after_years"),
        {"years": PROJECTION_YEARS},
        interpretation=True,
    )


def explain_projection(ctx: Context) -> None:
    """The step saying the years ahead assume the person keeps paying."""
    ctx.shared(_projection_step)
