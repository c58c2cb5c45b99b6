"""Regional extras: rules only some texts have, applied wherever a policy's data carries them.

Each is switched on by the policy, never by a region's name:
- the outpatient cap rise (门急诊): the parameters `outpatient.rise` and `outpatient.after_years`
  (tianjin 一(二));
- newborn funding by the medical-aid fund: the side rule `newborn_funding` (xizang 一(四));
- off-period enrolment at the highest tier: the side rule `off_period_enrolment` (xizang 一(三));
- the individual part only, for groups rejoining within the gap: the side rule
  `individual_part_only` (chongqing 一(二)), a price rule, not an exemption;
- the provinces' own waiting rules: the side rule `provinces_decide` (national 国办发〔2024〕38号);
- the side rules answered on request, listed with their values (`side_rule_refs`).

A side rule with `groups` speaks only to those groups. A step whose wording is a document's own
is named `<document>.<side rule>` (e.g. `xizang.newborn_funding`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rules.context import policy_day
from rules.dates import year_end
from rules.models import NewbornFunding, Outpatient, SideRuleRef
from rules.policy import Policy, SideRule, period_bounds

if TYPE_CHECKING:
    from rules.context import Context
    from rules.payment import Payment


def side_rule(ctx: Context, rule_id: str) -> SideRule | None:
    """The policy's side rule `rule_id` when it has one that speaks to the person's group."""
    rule = ctx.policy.side_rules.get(rule_id)
    if rule is None or (rule.groups and ctx.profile.group not in rule.groups):
        return None
    return rule


def _own_step(ctx: Context, rule_id: str, rule: SideRule, **params: Any) -> None:
    """A step in the document's own words: `<document>.<side rule>`, cited at its clause."""
    policy = ctx.policy
    ctx.step(f"{policy.id}.{rule_id}", f"{policy.id} {rule.clause}", params)


def _provinces_decide(ctx: Context) -> None:
    if "provinces_decide" in ctx.policy.side_rules:
        ctx.step("waiting.provinces_decide", ctx.on.cite("waiting.fixed_months"))


def provinces_decide(ctx: Context) -> None:
    """The national guideline leaves the waiting rules to each province: say so."""
    ctx.shared(_provinces_decide)


def _off_period_enrolment(ctx: Context) -> None:
    _own_step(ctx, "off_period_enrolment", ctx.policy.side_rules["off_period_enrolment"])


def off_period_enrolment(ctx: Context, payment: Payment) -> None:
    """Outside the centralized period a person may still enrol, at the highest tier, paying the
    year's government subsidy share too (可自行零星参保); said unless paid in the period."""
    if payment.in_period is not True and side_rule(ctx, "off_period_enrolment") is not None:
        ctx.shared(_off_period_enrolment)


def individual_part_only(ctx: Context) -> None:
    """Rejoining within `switch.gap_months`, the rule's groups pay only the individual part of
    the premium: a price rule, not an exemption from the wait."""
    rule = side_rule(ctx, "individual_part_only")
    if rule is not None:
        ctx.step(
            "price.individual_part_only",
            f"{ctx.policy.id} {rule.clause}",
            {"months": ctx.value("switch.gap_months")},
        )


def newborn_funding(ctx: Context, payment: Payment) -> NewbornFunding | None:
    """Which premiums the medical-aid fund pays for a newborn (最高缴费档次), and the cover.

    Born in the centralized period: next year's only; born from 1 January to the day before the
    period opens: this year's and next year's. When the period is unknown, whether the birth
    year is funded is unknown (None). Covered from birth to 31 December of the next year.
    """
    born = ctx.profile.birth_date
    if born is None:
        return None
    rule = side_rule(ctx, "newborn_funding")
    if rule is None:
        return None
    opens = period_bounds(payment.period, born.year + 1)[0] if payment.period else None
    birth_year = None if opens is None else born < opens
    funded = [born.year, born.year + 1] if birth_year else [born.year + 1]
    until = year_end(born.year + 1)
    _own_step(
        ctx,
        "newborn_funding",
        rule,
        birth_date=born,
        period_opens=opens,
        funded_years=funded,
        birth_year_funded=birth_year,
        covered_until=until,
    )
    return NewbornFunding(
        funded_years=funded, birth_year_funded=birth_year, covered_from=born, covered_until=until
    )


def outpatient(ctx: Context) -> Outpatient | None:
    """The outpatient cap rise (yuan) after `outpatient.after_years` covered years in a row
    before the benefit year; a break cancels it. None where the policy has no such rise."""
    rise: int | None = ctx.values.get("outpatient.rise")
    if rise is None:
        return None
    after: int = ctx.values["outpatient.after_years"]
    run = ctx.history.covered_run(ctx.profile.benefit_year)
    earned = rise if run >= after else 0
    # The same readings as the cap's: the first rise after 2025-2028, employee years counted.
    ctx.cited(
        "outpatient.rise",
        "outpatient.rise",
        {"continuous_years": run, "rise": earned, "after_years": after},
        interpretation=True,
    )
    return Outpatient(continuous_years=run, rise=earned)


def side_rule_refs(policy: Policy, day: dt.date) -> list[SideRuleRef]:
    """The policy's side rules with the values of their parameters on `day` (kept per day)."""
    on = policy_day(policy, day)
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
