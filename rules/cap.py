"""The critical-illness insurance cap (大病保险最高支付限额) of the benefit year, in yuan.

Clauses: xizang 一(三), shanxi 一(二), chongqing 二(四),(五), tianjin 一(二),(四), national
国办发〔2024〕38号; every number is a `cap.*` parameter of the region's policy:

- continuity: after `cap.continuity_after_years` full covered years in a row from 2025, each
  further covered year adds a step (`cap.step`); a break restarts the count, and with
  `cap.continuity_kept_on_break` the steps earned before it are kept;
- zero claim: each year without claims adds a step to the later years (with
  `cap.zero_claim_needs_paid_year`, only when the year after it is paid); using the extra amount
  clears them `cap.zero_claim_clear_delay_years` later;
- penalty: each break year since 2025 takes a step (`cap.penalty_step`, else `cap.step`);
- the rise and the fall are each bounded (`cap.rise_ceiling`, or a share of `cap.base`), and
  netted ("合并计算").

These rules are resident insurance's: for employee insurance the cap is marked not applying.
"""

from __future__ import annotations

from typing import Any

from rules.context import Context, PolicyDay
from rules.models import Cap


class CapConstants:
    """The `cap.*` parameters of one policy day, with both ceilings worked out in yuan.

    `step`, `penalty_step`, `base`, `ceiling`, `fall_ceiling`, `step_minimum`: yuan, None where
    unknown; `rise_share`, `fall_share`: shares of the base; `after`, `delay`: years; `kept`,
    `needs_paid`: the text's yes or no; `*_parameter`: the parameter a step cites.
    """

    __slots__ = (
        "after",
        "base",
        "ceiling",
        "delay",
        "fall_ceiling",
        "fall_parameter",
        "fall_share",
        "kept",
        "needs_paid",
        "penalty_parameter",
        "penalty_step",
        "rise_parameter",
        "rise_share",
        "step",
        "step_minimum",
    )

    def __init__(self, on: PolicyDay) -> None:
        values = on.values
        self.after: int = values["cap.continuity_after_years"]
        self.kept: bool = values["cap.continuity_kept_on_break"]
        self.needs_paid: bool = values["cap.zero_claim_needs_paid_year"]
        self.delay: int = values["cap.zero_claim_clear_delay_years"]
        self.step: int | None = values.get("cap.step")
        self.step_minimum: int | None = values.get("cap.step_minimum")
        penalty_step: int | None = values.get("cap.penalty_step")
        self.penalty_step = self.step if penalty_step is None else penalty_step
        self.penalty_parameter = (
            "cap.penalty_step" if "cap.penalty_step" in on.policy.parameters else "cap.step"
        )
        self.base: int | None = values.get("cap.base")
        self.rise_share: float | None = values.get("cap.rise_ceiling_share")
        self.fall_share: float | None = values.get("cap.fall_ceiling_share")
        rise_ceiling: int | None = values.get("cap.rise_ceiling")
        fall_ceiling: int | None = values.get("cap.fall_ceiling")
        self.rise_parameter = (
            "cap.rise_ceiling_share" if rise_ceiling is None else "cap.rise_ceiling"
        )
        self.fall_parameter = (
            "cap.fall_ceiling_share" if fall_ceiling is None else "cap.fall_ceiling"
        )
        self.ceiling = self._ceiling(rise_ceiling, self.rise_share)
        self.fall_ceiling = self._ceiling(fall_ceiling, self.fall_share)

    def _ceiling(self, fixed: int | None, share: float | None) -> int | None:
        if fixed is not None:
            return fixed
        return None if share is None or self.base is None else round(self.base * share)

    def fall(self, penalty: int) -> int:
        """The fall for `penalty` break years (yuan), bounded; the step must be known."""
        down = penalty * (self.penalty_step or self.step or 0)
        return down if self.fall_ceiling is None else min(down, self.fall_ceiling)


def constants(ctx: Context) -> CapConstants:
    """The cap constants of the answer's policy day."""
    return ctx.on.constants(CapConstants)


def cap(ctx: Context) -> tuple[Cap, int, int]:
    """The cap of the benefit year, with its kept continuity steps and its current run of paid
    years (for the projection). Amounts in yuan, None where `cap.step` is unknown."""
    c = constants(ctx)
    profile, history = ctx.profile, ctx.history
    year, first, break_years = profile.benefit_year, history.first, history.all_break_years
    # Continuity: the runs of paid years between break years; a run's steps are kept after its
    # break where the text keeps them.
    kept_steps = 0
    last_break = first - 1
    for break_year in break_years:
        run = break_year - last_break - 1
        if c.kept and run > c.after:
            kept_steps += run - c.after
        last_break = break_year
    run = year - last_break
    continuity_steps = kept_steps + max(0, run - c.after)
    # Zero claims: the years without claims since the extra amount was last cleared.
    zero_claim_steps = 0
    cleared = False
    claimed = profile.zero_claim_years
    if claimed:
        uses = [u for u in profile.incentive_used_years if u + c.delay <= year]
        cleared_after = max(uses) if uses else first - 1
        missed = set(break_years)
        for z in claimed:
            if (
                cleared_after < z < year
                and z >= first
                and z not in missed
                and (not c.needs_paid or z + 1 not in missed)
            ):
                zero_claim_steps += 1
            elif uses and first <= z <= cleared_after:
                cleared = True
    penalty_steps = len(break_years)
    step = c.step
    if step is None:
        rise = fall = net_change = amount = None
    else:
        up = (continuity_steps + zero_claim_steps) * step
        rise = up if c.ceiling is None or up < c.ceiling else c.ceiling
        fall = c.fall(penalty_steps)
        net_change = rise - fall
        amount = None if c.base is None else c.base + net_change
    result = Cap(
        step=step,
        continuity_steps=continuity_steps,
        continuity_kept_steps=kept_steps,
        zero_claim_steps=zero_claim_steps,
        penalty_steps=penalty_steps,
        continuity=None if step is None else continuity_steps * step,
        zero_claim=None if step is None else zero_claim_steps * step,
        penalty=fall,
        rise=rise,
        fall=fall,
        net_change=net_change,
        ceiling=c.ceiling,
        fall_ceiling=c.fall_ceiling,
        base=c.base,
        cap=amount,
        zero_claim_cleared=cleared,
        penalty_step=None if step is None else c.penalty_step,
        applies=profile.scheme == "resident",
    )
    return result, kept_steps, run


# Steps that depend on the policy day alone, written once per day (Context.shared).


def _resident_only(ctx: Context) -> None:
    ctx.cited("cap.resident_only", "cap.step")


def _base(ctx: Context) -> None:
    c = constants(ctx)
    if c.base is None:
        ctx.cited("cap.base_unknown", "cap.base")
    else:
        ctx.cited("cap.base", "cap.base", {"base": c.base})
    if c.step is None:
        ctx.cited("cap.step_unknown", "cap.step_minimum", {"minimum": c.step_minimum})


def _restarts(ctx: Context) -> None:
    ctx.cited("cap.continuity_restarts", "cap.continuity_restarts_on_break")


def _unknown_ceilings(ctx: Context) -> None:
    c = constants(ctx)
    if c.ceiling is None:
        ctx.cited("cap.ceiling_unknown", "cap.rise_ceiling_share", {"share": c.rise_share})
    if c.fall_ceiling is None and c.fall_share is not None:
        ctx.cited("cap.fall_ceiling_unknown", "cap.fall_ceiling_share", {"share": c.fall_share})


def explain_cap(ctx: Context, cap: Cap) -> None:
    """The steps of the cap: base, continuity, zero claims, penalty, bounds, and the netting."""
    if not cap.applies:
        ctx.shared(_resident_only)
        return
    cited = ctx.cited
    c = constants(ctx)
    profile, history = ctx.profile, ctx.history
    step = cap.step
    ctx.shared(_base)
    # "满4年 ... 之后每连续参保缴费1年": that the first rise comes `after` years after the
    # current run began (2025, a baby's year after birth, or the year after the last break) is
    # our reading.
    cited(
        "cap.continuity",
        "cap.continuity_after_years",
        {
            "steps": cap.continuity_steps,
            "amount": cap.continuity,
            "after_years": c.after,
            # The current run's first year: after the last break, else the first that counts.
            "counted_from": history.all_break_years[-1] + 1
            if history.all_break_years
            else history.first,
            "step": step,
        },
        interpretation=True,
    )
    if history.employee:
        ctx.reading("cap.employee_years_count", "employee_years_count")
    if cap.penalty_steps:
        ctx.shared(_restarts)
        if c.kept:
            cited(
                "cap.continuity_kept",
                "cap.continuity_kept_on_break",
                {
                    "kept_steps": cap.continuity_kept_steps,
                    "amount": None if step is None else cap.continuity_kept_steps * step,
                },
            )
    # Whether a later break ends the credit of a zero-claim year the texts do not say.
    break_years = history.all_break_years
    claimed = profile.zero_claim_years
    across_break = bool(break_years) and any(z < break_years[-1] for z in claimed)
    cited(
        "cap.zero_claim",
        "cap.zero_claim_needs_paid_year",
        {
            "steps": cap.zero_claim_steps,
            "amount": cap.zero_claim,
            "needs_paid_year": c.needs_paid,
            "years": sorted(claimed),
        },
        interpretation=bool(cap.zero_claim_steps) and across_break,
    )
    if cap.zero_claim_cleared:
        cited(
            "cap.zero_claim_cleared",
            "cap.zero_claim_clear_delay_years",
            {"delay_years": c.delay, "used": sorted(profile.incentive_used_years)},
        )
    earned_fall = None if cap.penalty_step is None else cap.penalty_steps * cap.penalty_step
    if cap.penalty_steps:
        cited(
            "cap.penalty",
            c.penalty_parameter,
            {
                "steps": cap.penalty_steps,
                "amount": cap.penalty,
                "earned": earned_fall,
                "step": cap.penalty_step,
            },
        )
    earned_rise = (cap.continuity or 0) + (cap.zero_claim or 0)
    if cap.rise is not None and earned_rise > cap.rise:
        cited("cap.rise_bounded", c.rise_parameter, {"ceiling": cap.ceiling, "earned": earned_rise})
    if cap.fall is not None and earned_fall is not None and earned_fall > cap.fall:
        cited(
            "cap.fall_bounded",
            c.fall_parameter,
            {"ceiling": cap.fall_ceiling, "earned": earned_fall},
        )
    ctx.shared(_unknown_ceilings)
    # Flagged where the policy reads the netting in (`netting`); where it states it, the step
    # cites the document's base clause (Context.reading does both).
    params: dict[str, Any] = {
        "rise": cap.rise,
        "fall": cap.fall,
        "net_change": cap.net_change,
        "cap": cap.cap,
    }
    ctx.reading("cap.netted", "netting", params)
