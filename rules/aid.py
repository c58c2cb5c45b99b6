"""Xizang medical aid (藏政办发〔2022〕31号): premium subsidy, ratios, limits, on application.

Amounts are integers in yuan, shares floats in 0..1. Parameter values are read on 1 January of
the person's benefit year (待遇年度), and the answer is within the document's validity only when
the document is in force for that whole year.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules.models import Step
from rules.policy import Policy
from rules.terms import AidClass

# 三(一): returned-to-poverty people (返贫致贫人口) count as class 3: "第三类(含返贫致贫人口,下同)".
RETURNED_CLASS = 3
# 三(一): classes 3 and 4 get a fixed subsidy (定额资助) and pay a share of the highest tier; the
# text sets no subsidy for class 5, which pays its own premium.
FIXED_SUBSIDY_CLASSES = frozenset({3, 4})


def most_generous(classes: tuple[int, ...]) -> int:
    """The class whose subsidy and ratio are highest (三(一) 就高不就低): 1 and 2 first (equal),
    then 3, 4, 5; the lowest class number is always the most generous."""
    return min(classes)


class AidProfile(BaseModel):
    """The facts the aid rules need; amounts in yuan for the benefit year.

    `class` is one class 1-5 (二) or a list of them when the person holds several identities
    (e.g. `[4, 3]`); it is kept as the sorted tuple `classes`. `self_paid` is the policy-range
    self-paid cost after basic and critical-illness insurance (or after the outpatient pool, for
    general outpatient care). `aided_this_year` is the aid of the same kind already received this
    year: ordinary aid (普通医疗救助) for inpatient care and aid on application, general outpatient
    aid for outpatient care. `aided_major_this_year` is major-illness aid already received.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: tuple[AidClass, ...] = Field(alias="class")
    expense: Literal["inpatient", "outpatient"] = "inpatient"
    self_paid: int = Field(0, ge=0, le=100_000_000)  # policy-range self-paid cost after insurance
    aided_this_year: int = Field(0, ge=0, le=100_000_000)
    aided_major_this_year: int = Field(0, ge=0, le=100_000_000)
    family_income: int | None = Field(None, ge=0, le=100_000_000)  # last year's, class 5 only
    returned_to_poverty: bool = False

    @field_validator("classes", mode="before")
    @classmethod
    def _one_or_several(cls, value: object) -> object:
        return value if isinstance(value, list | tuple) else (value,)

    @field_validator("classes")
    @classmethod
    def _sorted_once(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("give at least one class")
        return tuple(sorted(set(value)))


class AidResult(BaseModel):
    """What medical aid does for one person, each number with its step.

    `aid_class` is the class used (the most generous of `classes`, which lists every identity
    counted, class 3 included for a returned-to-poverty person). Amounts in yuan: `aid` is
    `ordinary_aid` plus `major_aid` for inpatient care (五(五)1), the outpatient aid (五(五)2), or
    the aid on application (六(七)); `major_aid` is None when last year's per-capita income is
    unknown, so the major-illness threshold is too. `premium_own_share` is the share of the
    highest-tier premium the person pays (0 fully subsidised, 1 no subsidy).
    """

    aid_class: int
    classes: list[int]
    premium_full: bool
    premium_own_share: float
    premium_own_amount: int | None
    ratio: float | None
    limit: int
    major_limit: int
    major_threshold: int | None
    major_illness: bool | None
    ordinary_aid: int | None
    major_aid: int | None
    aid: int | None
    on_application: bool
    application_threshold: int | None
    tilt: bool
    tilt_active: bool
    within_validity: bool
    steps: list[Step]


def assess_aid(profile: AidProfile, policy: Policy, benefit_year: int) -> AidResult:
    """Apply the medical-aid rules to one person's classes and costs in `benefit_year`.

    Values are read on 1 January of the benefit year (or on the document's first day, for the
    year it came into force). `within_validity` holds when the document is in force on both
    1 January and 31 December of the benefit year.
    """
    steps: list[Step] = []
    first_day, last_day = dt.date(benefit_year, 1, 1), dt.date(benefit_year, 12, 31)
    day = max(first_day, policy.valid_from)

    def value(name: str) -> Any:
        return policy.get(name, day)

    def step(rule: str, parameter: str, interpretation: bool = False, **params: Any) -> None:
        spec = policy.parameters[parameter]
        steps.append(
            Step(
                rule=rule,
                cite=policy.cite(parameter),
                params=params,
                interpretation=interpretation or spec.interpretation,
                checked=spec.checked or policy.checked,
            )
        )

    in_force_first, in_force_last = policy.valid_on(first_day), policy.valid_on(last_day)
    within = in_force_first and in_force_last
    if not within:
        steps.append(
            Step(
                rule="document.outside_validity",
                cite=f"{policy.id} 九(十九)",
                params={
                    "valid_from": policy.valid_from.isoformat(),
                    "valid_until": policy.valid_until and policy.valid_until.isoformat(),
                    "benefit_year": benefit_year,
                    "ends_within_year": in_force_first and not in_force_last,
                },
            )
        )

    given: set[int] = set(profile.classes)
    if profile.returned_to_poverty:
        given.add(RETURNED_CLASS)
    classes = sorted(given)
    cls = most_generous(tuple(classes))
    if len(classes) > 1:
        step(
            "aid.identities",
            "aid.premium_full_classes",
            # 就高不就低 is said of the premium subsidy only; for the aid share it is our reading.
            interpretation=True,
            classes=classes,
            aid_class=cls,
            returned_to_poverty=profile.returned_to_poverty,
        )

    # 三(一): classes 1-2 fully subsidised, 3-4 pay 10%; the text sets no subsidy for class 5.
    full = cls in value("aid.premium_full_classes")
    subsidised = full or cls in FIXED_SUBSIDY_CLASSES
    if full:
        own_share = 0.0
    elif subsidised:
        own_share = value("aid.premium_own_share")
    else:
        own_share = 1.0  # no subsidy: the person pays the whole premium
    tier = value("aid.highest_tier_premium")
    own_amount = None if tier is None else round(tier * own_share)
    step(
        "aid.premium",
        "aid.premium_own_share" if subsidised and not full else "aid.premium_full_classes",
        interpretation=not subsidised,  # the text is silent on class 5's premium
        aid_class=cls,
        full=full,
        subsidised=subsidised,
        own_share=own_share,
        own_amount=own_amount,
        tier=tier,
    )

    ratio = value("aid.ratio").get(cls)
    limit = value("aid.limit_ordinary")
    major_limit = value("aid.limit_major")
    income = value("income.per_capita_disposable")
    share = value("aid.major_threshold_share")
    threshold = None if income is None else round(income * share)
    major_illness = None
    ordinary = None
    major = None
    aid = None
    on_application = ratio is None
    application_threshold = None
    if profile.expense == "outpatient" and ratio is not None:
        # 五(五)2: at the class ratio, at most 500 yuan a year, net of what was already received.
        limit = value("aid.outpatient_limit")
        room = max(0, limit - profile.aided_this_year)
        aid = min(round(profile.self_paid * ratio), room)
        step(
            "aid.outpatient",
            "aid.outpatient_limit",
            ratio=ratio,
            limit=limit,
            aided_this_year=profile.aided_this_year,
            room=room,
            aid=aid,
        )
    elif ratio is not None:
        # 五(五)1: ordinary aid first, then major-illness aid on what the person still pays.
        room = max(0, limit - profile.aided_this_year)
        ordinary = min(round(profile.self_paid * ratio), room)
        remaining = profile.self_paid - ordinary
        step(
            "aid.inpatient",
            "aid.ratio",
            ratio=ratio,
            limit=limit,
            aid=ordinary,
            self_paid=profile.self_paid,
            aided_this_year=profile.aided_this_year,
            room=room,
        )
        if threshold is not None:
            major_illness = remaining >= threshold
        step(
            "aid.major_illness",
            "aid.major_threshold_share",
            share=share,
            threshold=threshold,
            remaining=remaining,
            major=major_illness,
            major_limit=major_limit,
        )
        if major_illness is not None:
            major = 0
        if major_illness:
            # The text gives no ratio for major-illness aid: the class ratio is our reading.
            major_room = max(0, major_limit - profile.aided_major_this_year)
            major = min(round(remaining * ratio), major_room)
            step(
                "aid.major_aid",
                "aid.limit_major",
                interpretation=True,
                ratio=ratio,
                remaining=remaining,
                limit=major_limit,
                aided_this_year=profile.aided_major_this_year,
                room=major_room,
                aid=major,
            )
        aid = ordinary + (major or 0)
    else:
        # 六(七): class 5 is aided on application, at 70% within the yearly limit.
        family = profile.family_income
        app_share = value("aid.application_threshold_share")
        application_threshold = None if family is None else round(family * app_share)
        eligible = application_threshold is not None and profile.self_paid >= application_threshold
        if eligible:
            aid = min(
                round(profile.self_paid * value("aid.application_ratio")),
                max(0, limit - profile.aided_this_year),
            )
        step(
            "aid.application_condition",
            "aid.application_threshold_share",
            share=app_share,
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

    # 四(三): the tilt follows each identity the text names, during the transition period.
    tilt = any(c in value("aid.tilt_classes") for c in classes)
    tilt_until = value("aid.tilt_until")
    tilt_active = tilt and tilt_until is not None and last_day <= tilt_until
    if tilt:
        step(
            "aid.tilt",
            "aid.tilt_until",
            cut=value("aid.tilt_deductible_cut"),
            points=value("aid.tilt_ratio_points"),
            until=tilt_until.isoformat(),
            active=tilt_active,
            benefit_year=benefit_year,
        )
    step(
        "aid.warning",
        "aid.warning_general_share",
        general_share=value("aid.warning_general_share"),
        formerly_poor_share=value("aid.warning_formerly_poor_share"),
    )
    return AidResult(
        aid_class=cls,
        classes=classes,
        premium_full=full,
        premium_own_share=own_share,
        premium_own_amount=own_amount,
        ratio=ratio,
        limit=limit,
        major_limit=major_limit,
        major_threshold=threshold,
        major_illness=major_illness,
        ordinary_aid=ordinary,
        major_aid=major,
        aid=aid,
        on_application=on_application,
        application_threshold=application_threshold,
        tilt=tilt,
        tilt_active=tilt_active,
        within_validity=within,
        steps=steps,
    )
