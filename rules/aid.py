"""Xizang medical aid (藏政办发〔2022〕31号): premium subsidy, ratios, limits, on application."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.models import Step
from rules.policy import Policy

AidClass = Literal[1, 2, 3, 4, 5]


class AidProfile(BaseModel):
    """The facts the aid rules need; amounts in yuan for the current year."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aid_class: AidClass = Field(alias="class")
    expense: Literal["inpatient", "outpatient"] = "inpatient"
    self_paid: int = Field(0, ge=0, le=100_000_000)  # policy-range self-paid cost after insurance
    aided_this_year: int = Field(0, ge=0, le=100_000_000)
    family_income: int | None = Field(None, ge=0, le=100_000_000)  # last year's, class 5 only
    returned_to_poverty: bool = False


class AidResult(BaseModel):
    """What medical aid does for one person, each number with its step."""

    aid_class: int
    premium_full: bool
    premium_own_share: float
    premium_own_amount: int | None
    ratio: float | None
    limit: int
    major_threshold: int | None
    major_illness: bool | None
    aid: int | None
    on_application: bool
    application_threshold: int | None
    tilt: bool
    tilt_active: bool
    within_validity: bool
    steps: list[Step]


def assess_aid(profile: AidProfile, policy: Policy, today: dt.date) -> AidResult:
    """Apply the medical-aid rules to one person's class and costs."""
    steps: list[Step] = []

    def value(name: str):
        return policy.get(name, today)

    def step(rule: str, parameter: str, **params) -> None:
        spec = policy.parameters[parameter]
        steps.append(
            Step(
                rule=rule,
                cite=policy.cite(parameter),
                params=params,
                interpretation=spec.interpretation,
                checked=spec.checked or policy.checked,
            )
        )

    cls = profile.aid_class
    within = policy.valid_on(today)
    if not within:
        steps.append(
            Step(
                rule="document.outside_validity",
                cite=f"{policy.id} 九(十九)",
                params={
                    "valid_from": policy.valid_from.isoformat(),
                    "valid_until": policy.valid_until.isoformat(),
                    "benefit_year": today.year,
                },
            )
        )

    full = cls in value("aid.premium_full_classes")
    own_share = 0.0 if full or cls == 5 else value("aid.premium_own_share")
    tier = value("aid.highest_tier_premium")
    own_amount = None if tier is None else round(tier * own_share)
    step(
        "aid.premium",
        "aid.premium_full_classes",
        aid_class=cls,
        full=full,
        own_share=own_share,
        own_amount=own_amount,
        tier=tier,
    )

    ratio = value("aid.ratio").get(cls)
    limit = value("aid.limit_ordinary")
    income = value("income.per_capita_disposable")
    threshold = None if income is None else round(income * value("aid.major_threshold_share"))
    major = None
    aid = None
    on_application = cls == 5
    application_threshold = None
    if profile.expense == "outpatient" and ratio is not None:
        limit = value("aid.outpatient_limit")
        aid = min(round(profile.self_paid * ratio), limit)
        step("aid.outpatient", "aid.outpatient_limit", ratio=ratio, limit=limit, aid=aid)
    elif ratio is not None:
        ordinary = round(profile.self_paid * ratio)
        remaining = profile.self_paid - min(ordinary, limit)
        if threshold is not None:
            major = remaining >= threshold
            if major:
                limit = value("aid.limit_major")
        room = max(0, limit - profile.aided_this_year)
        aid = min(ordinary, room)
        step(
            "aid.inpatient",
            "aid.ratio",
            ratio=ratio,
            limit=limit,
            aid=aid,
            self_paid=profile.self_paid,
            aided_this_year=profile.aided_this_year,
        )
        step(
            "aid.major_illness",
            "aid.major_threshold_share",
            share=value("aid.major_threshold_share"),
            threshold=threshold,
            major=major,
            major_limit=value("aid.limit_major"),
        )
    else:
        family = profile.family_income
        share = value("aid.application_threshold_share")
        application_threshold = None if family is None else round(family * share)
        eligible = application_threshold is not None and profile.self_paid >= application_threshold
        if eligible:
            aid = min(
                round(profile.self_paid * value("aid.application_ratio")),
                max(0, limit - profile.aided_this_year),
            )
        step(
            "aid.application_condition",
            "aid.application_threshold_share",
            share=share,
            threshold=application_threshold,
            eligible=eligible if family is not None else None,
        )
        step(
            "aid.application",
            "aid.application_ratio",
            ratio=value("aid.application_ratio"),
            months=value("aid.application_months"),
            limit=limit,
            aid=aid,
        )

    tilt = cls in value("aid.tilt_classes") or profile.returned_to_poverty
    tilt_until = value("aid.tilt_until")
    tilt_active = tilt and tilt_until is not None and today <= tilt_until
    if tilt:
        step(
            "aid.tilt",
            "aid.tilt_until",
            cut=value("aid.tilt_deductible_cut"),
            points=value("aid.tilt_ratio_points"),
            until=tilt_until.isoformat(),
            active=tilt_active,
        )
    step(
        "aid.warning",
        "aid.warning_general_share",
        general_share=value("aid.warning_general_share"),
        formerly_poor_share=value("aid.warning_formerly_poor_share"),
    )
    return AidResult(
        aid_class=cls,
        premium_full=full,
        premium_own_share=own_share,
        premium_own_amount=own_amount,
        ratio=ratio,
        limit=limit,
        major_threshold=threshold,
        major_illness=major,
        aid=aid,
        on_application=on_application,
        application_threshold=application_threshold,
        tilt=tilt,
        tilt_active=tilt_active,
        within_validity=within,
        steps=steps,
    )
