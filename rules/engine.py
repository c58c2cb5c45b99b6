"""The assessment of one profile: each part from its own module, in the order it is explained.

The document (draft, validity), then the waiting period (rules.waiting, with rules.breaks,
rules.payment, rules.exemptions, rules.employee), newborn funding (rules.regional), the repair
options (rules.repair), the cap and its projection (rules.cap, rules.projection, kept by
rules.cap_memo), the outpatient rise and the side rules (rules.regional).
"""

from __future__ import annotations

from collections.abc import Mapping

from rules.cap_memo import cap_and_projection
from rules.context import Context
from rules.models import Assessment, Profile
from rules.policy import Policy, PolicySet, load_policies, rules_version
from rules.regional import newborn_funding, outpatient, side_rule_refs
from rules.repair import repair
from rules.waiting import waiting


def _document(ctx: Context) -> None:
    """The steps about the document itself: a draft, or a benefit year outside its validity."""
    policy, profile = ctx.policy, ctx.profile
    if policy.draft:
        ctx.step("document.draft", params={"title": policy.title})  # at the base clause
    if not ctx.on.within:
        params = {
            "valid_from": policy.valid_from,
            "valid_until": policy.valid_until,
            "benefit_year": profile.benefit_year,
        }
        ctx.reading("document.outside_validity", "validity_end", params)


def assess(
    profile: Profile, policies: Mapping[str, Policy] | None = None, *, explain: bool = True
) -> Assessment:
    """Assess one profile against its region's policy (`policies[profile.region]`; the
    packaged policies when none are given).

    With explain=False the answer has the same figures and no steps: for ledgers, which show
    no reasons, and skip the cost of writing them. Raises ValueError for employee insurance
    (`scheme`) in a region whose policy gives it no waiting rule (Policy.employee_waiting).
    """
    policies = policies if policies is not None else load_policies()
    policy = policies[profile.region]
    if profile.scheme == "employee" and not policy.employee_waiting:
        raise ValueError(f"scheme: {policy.id} gives no waiting rule for employee insurance")
    ctx = Context(policy, profile, explain)
    within = ctx.on.within
    if policy.draft or not within:
        _document(ctx)
    waits, payment = waiting(ctx)
    newborn = newborn_funding(ctx, payment)
    repairs = repair(ctx, waits, payment)
    cap, projection = cap_and_projection(ctx)
    return Assessment(
        region=profile.region,
        benefit_year=profile.benefit_year,
        document=policy.id,
        draft=policy.draft,
        within_validity=within,
        rules_version=policies.version
        if isinstance(policies, PolicySet)
        else rules_version(policies),
        waiting=waits,
        repair=repairs,
        cap=cap,
        projection=projection,
        outpatient=outpatient(ctx),
        newborn=newborn,
        side_rules=side_rule_refs(policy, ctx.day),
        steps=ctx.steps,
    )
