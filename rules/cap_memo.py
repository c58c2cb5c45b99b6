"""Cap results kept by history: the one place the rules core reuses an earlier answer's results.

The cap, its projection and their steps follow from the benefit year, the paid years, the
claims history and the scheme alone, under one policy day; in a population these repeat (of
20,000 generated profiles, about 900 distinct histories). So each policy day keeps the last
CAP_MEMO_SIZE of them, and shares their (read-only) results and steps between answers. With
CAP_MEMO_SIZE 0 nothing is kept and every answer is computed afresh.
"""

from __future__ import annotations

from typing import Any

from rules.cap import cap, constants, explain_cap
from rules.context import Context, PolicyDay, policy_days
from rules.models import Cap, CapYear, Step
from rules.projection import explain_projection, projection

CAP_MEMO_SIZE = 4096

Kept = tuple[Cap, tuple[CapYear, ...], tuple[Step, ...]]


def _memo(on: PolicyDay) -> dict[tuple[Any, ...], Kept]:
    return {}


def _compute(ctx: Context) -> tuple[Cap, list[CapYear]]:
    result, kept, run = cap(ctx)
    explain_cap(ctx, result)
    year = ctx.profile.benefit_year
    years = projection(constants(ctx), result, kept, run, year) if result.applies else []
    explain_projection(ctx)
    return result, years


def cap_and_projection(ctx: Context) -> tuple[Cap, list[CapYear]]:
    """The cap and its projection, with their steps added to the answer's."""
    if not CAP_MEMO_SIZE:
        return _compute(ctx)
    profile, history = ctx.profile, ctx.history
    key = (
        profile.benefit_year,
        history.first,
        tuple(history.all_break_years),
        tuple(profile.zero_claim_years),
        tuple(profile.incentive_used_years),
        profile.scheme,
        history.employee,
    )
    memo = ctx.on.constants(_memo)
    found = memo.get(key)
    if found is None:
        explain, ctx.explain = ctx.explain, True  # kept results carry their steps
        first_step = len(ctx.steps)
        result, years = _compute(ctx)
        ctx.explain = explain
        steps = tuple(ctx.steps[first_step:])
        if not explain:
            del ctx.steps[first_step:]
        if len(memo) >= CAP_MEMO_SIZE:
            memo.clear()
        memo[key] = (result, tuple(years), steps)
        return result, years
    result, kept_years, steps = found
    if ctx.explain:
        ctx.steps.extend(steps)
    return result, list(kept_years)


def cap_memo_entries() -> int:
    """How many cap histories are kept now, over every policy and day."""
    return sum(len(day.constants(_memo)) for day in policy_days())


def clear_cap_memo() -> None:
    """Forget the kept cap histories (benchmarks start each round cold)."""
    for day in policy_days():
        day.constants(_memo).clear()
