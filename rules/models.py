"""The facts about one person, and the explained assessment of them.

The profile is a pydantic model: it is input, and is validated. The results are plain slotted
dataclasses: the engine builds some twenty of them per answer, and validating its own output cost
more than computing it. `yibao assess` serialises them through a pydantic TypeAdapter.
Results are read-only: the engine shares parts of them (the cap, its projection and their
steps) between answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rules.policy import Period

# The vocabularies are declared in rules.terms; the bot reads them from here too.
from rules.terms import GROUPS as GROUPS
from rules.terms import REGIONS as REGIONS
from rules.terms import Anchor, Group, Kind, PeriodSource
from rules.terms import Coverage as Coverage
from rules.terms import Region as Region

FIRST_YEAR = 2025  # 自2025年起: years before never count
Scheme = Kind  # the insurance being paid for


class CoverageDetail(BaseModel):
    """One year's cover given by date where it matters (revised spec, "Coverage by month").

    `paid_on`: the year was paid late on that day (its own wait may run into the next year);
    `start`/`until` (JSON `from`/`until`): the day this insurance started or stopped, for the
    switch-within-3-months rules.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Kind
    paid_on: dt.date | None = None
    start: dt.date | None = Field(None, alias="from")
    until: dt.date | None = None


class Profile(BaseModel):
    """What we know of one person for one benefit year (待遇年度)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: Region
    benefit_year: int = Field(ge=FIRST_YEAR, le=2100)
    coverage: dict[int, Coverage | CoverageDetail] = Field(default_factory=dict)
    payment_date: dt.date | None = None  # None: paid in the centralized period (集中缴费期)
    payment_period: Period | None = None  # MM-DD/MM-DD, overrides the region's
    in_period: bool | None = None  # the person says the payment was inside the announced period
    scheme: Scheme = "resident"  # the insurance being paid for
    left_on: dt.date | None = None  # the old insurance (or army service, prison) ended that day
    continuous_years: int | None = Field(None, ge=0, le=100)  # insured in a row before left_on
    repair_years: int = Field(0, ge=0, le=50)
    group: Group | None = None
    birth_date: dt.date | None = None
    zero_claim_years: list[int] = Field(default_factory=list)
    incentive_used_years: list[int] = Field(default_factory=list)
    today: dt.date

    @field_validator("coverage")
    @classmethod
    def _years_plausible(
        cls, coverage: dict[int, Coverage | CoverageDetail]
    ) -> dict[int, Coverage | CoverageDetail]:
        for year in coverage:
            if not 1990 <= year <= 2100:
                raise ValueError(f"{year} is not a plausible year")
        return coverage

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        year = self.benefit_year
        late = [y for y in self.coverage if y > year]
        if late:
            raise ValueError(f"coverage: {late[0]} is after the benefit year {year}")
        if self.payment_date and not year - 1 <= self.payment_date.year <= year:
            raise ValueError(
                f"payment_date: {self.payment_date} is neither in {year - 1} nor in {year}"
            )
        for name in ("zero_claim_years", "incentive_used_years"):
            late = [y for y in getattr(self, name) if y >= year]
            if late:
                raise ValueError(f"{name}: {late[0]} is not before the benefit year {year}")
        if self.birth_date and self.birth_date.year > year:
            raise ValueError(f"birth_date: {self.birth_date} is after the benefit year {year}")
        for covered_year, kind in self.coverage.items():
            paid_on = kind.paid_on if isinstance(kind, CoverageDetail) else None
            if paid_on and not covered_year - 1 <= paid_on.year <= covered_year + 1:
                raise ValueError(
                    f"coverage: {covered_year}: paid_on {paid_on} is not within a year"
                    f" of {covered_year}"
                )
        if self.left_on and self.left_on.year > year:
            raise ValueError(f"left_on: {self.left_on} is after the benefit year {year}")
        return self

    def kind(self, year: int) -> Coverage:
        """`resident`, `employee` or `none` for `year` (a year not given is `none`)."""
        given = self.coverage.get(year, "none")
        return given.kind if isinstance(given, CoverageDetail) else given

    def detail(self, year: int) -> CoverageDetail | None:
        """The dated cover of `year`, when it was given as an object."""
        given = self.coverage.get(year)
        return given if isinstance(given, CoverageDetail) else None

    @property
    def first_year(self) -> int:
        """The first year that can count: 2025, or the year after birth (出生当年不缴费)."""
        if self.birth_date and self.birth_date.year >= FIRST_YEAR:
            return self.birth_date.year + 1
        return FIRST_YEAR

    def covered(self, year: int) -> bool:
        """Whether `year` had resident or employee insurance; the benefit year counts as paid."""
        if year >= self.benefit_year:
            return True
        return self.kind(year) != "none"


def describe_error(error: ValidationError, whole: str, prefix: str = "") -> str:
    """One line naming the first invalid field and what is wrong with it; `whole` names the
    input when no field is at fault. A model-level check names its field itself, "field: why"."""
    # Of a union's failed branches, the one that got deepest into the input says most.
    errors = error.errors()
    first = max(errors, key=lambda e: (len(e["loc"]), -errors.index(e)))
    message = first["msg"].removeprefix("Value error, ")
    # A union's branch is named in the location (`literal[...]`, a model name): not a field.
    parts = [p for p in first["loc"] if not (isinstance(p, str) and ("[" in p or p[:1].isupper()))]
    field = ".".join(str(part) for part in parts)
    if not field and ": " in message:
        field, message = message.split(": ", 1)
    return f"{prefix}{field or whole}: {message}"


@dataclass(slots=True)
class Step:
    """One explained step: which rule, where the text says so, and the values it used."""

    rule: str
    cite: str
    params: dict[str, Any] = field(default_factory=dict)  # dates stay dates; JSON has ISO text
    interpretation: bool = False
    since: dt.date | None = None  # the parameter value used is in force from this day
    checked: dt.date | None = None  # last checked against its source
    source: str | None = None  # for an official reading: who said it, when, where


@dataclass(slots=True, kw_only=True)
class Condition:
    """One condition of an exemption, checked on the facts: True, False, or None (unknown)."""

    id: str
    holds: bool | None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Exemption:
    """Whether the person's group is freed from the waiting period, and on what conditions.

    `named`: the text names the group; `open_list`: the text's list ends with 等 ("and other
    special groups"), so an unnamed group may still be exempt locally. `missing` names the
    facts (Profile fields) needed to decide a condition that is unknown.
    """

    group: str
    named: bool
    granted: bool
    clause: str
    conditions: list[Condition]
    missing: list[str]
    open_list: bool
    interpretation: bool = False

    @property
    def condition_items(self) -> list[dict[str, Any]]:
        """Each condition as one mapping of its id, `holds` and values (as steps carry them)."""
        return [{"id": c.id, "holds": c.holds, **c.values} for c in self.conditions]


@dataclass(slots=True, kw_only=True)
class Outcome:
    """The wait and the start of benefits under one assumption (paid in the period or not)."""

    in_period: bool
    applies: bool
    total_months: int
    benefit_start: dt.date | None
    no_cover_this_year: bool


@dataclass(slots=True, kw_only=True)
class Waiting:
    """The benefit waiting period (待遇等待期)."""

    break_years: int
    break_year_list: list[int]
    applies: bool
    exempt: bool
    fixed_months: int
    variable_months: int
    repaired_months: int
    total_months: int
    anchor: Anchor
    benefit_start: dt.date | None
    covered_until: dt.date | None = None
    no_cover_this_year: bool
    scheme: str = "resident"
    # The payment: its centralized period (MM-DD/MM-DD, None when unknown), where that came
    # from, and whether the payment was in it (None: unknown, so both outcomes are given).
    period: str | None = None
    period_source: PeriodSource = "none"
    in_period: bool | None = None
    # When in_period is unknown the answer is the later of the two starts; this is the other.
    alternative: Outcome | None = None
    exemption: Exemption | None = None
    missing: list[str] = field(default_factory=list)  # facts that would settle the answer
    carried_from: int | None = None  # the year whose late-paid wait runs into this one


@dataclass(slots=True, kw_only=True)
class RepairOption:
    """The result of repairing (缴费修复) a number of break years."""

    years: int
    total_months: int
    benefit_start: dt.date | None
    no_cover_this_year: bool
    cost: int | None


@dataclass(slots=True, kw_only=True)
class Repair:
    """What paying for missed years would change."""

    useful_years: int
    cost_year: int
    cost_per_year: int | None
    requested_years: int
    requested_cost: int | None
    options: list[RepairOption]
    # the contribution tier the text names for a repair ("high": 高档, "one": 一档), if any
    cost_tier: str | None = None


@dataclass(slots=True, kw_only=True)
class Cap:
    """The critical-illness insurance cap (大病保险最高支付限额) for the benefit year."""

    step: int | None
    continuity_steps: int
    continuity_kept_steps: int  # earned before the latest break and kept
    zero_claim_steps: int
    penalty_steps: int  # break years since 2025: the raw count
    continuity: int | None
    zero_claim: int | None
    penalty: int | None  # the fall in yuan, bounded by its ceiling (= fall)
    rise: int | None
    fall: int | None
    net_change: int | None
    ceiling: int | None
    fall_ceiling: int | None
    base: int | None
    cap: int | None
    zero_claim_cleared: bool
    penalty_step: int | None = None
    applies: bool = True  # False for employee insurance: this cap is resident insurance's


@dataclass(slots=True)
class CapYear:
    """The cap in a later year if the person keeps paying."""

    year: int
    net_change: int | None
    cap: int | None
    net_change_if_no_claims: int | None
    cap_if_no_claims: int | None


@dataclass(slots=True, kw_only=True)
class Outpatient:
    """Tianjin's outpatient (门急诊) cap rise after 4 continuous years."""

    continuous_years: int
    rise: int


@dataclass(slots=True, kw_only=True)
class NewbornFunding:
    """Xizang: which premiums the aid fund pays for a newborn, and the cover it gives."""

    funded_years: list[int]
    birth_year_funded: bool | None  # None: the centralized period is not known
    covered_from: dt.date
    covered_until: dt.date


@dataclass(slots=True, kw_only=True)
class SideRuleRef:
    """A regional side rule available on request, with its parameters."""

    id: str
    cite: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Assessment:
    """Everything the rules core says about one profile, with its reasons in order."""

    region: Region
    benefit_year: int
    document: str
    draft: bool
    within_validity: bool
    rules_version: str
    waiting: Waiting
    repair: Repair
    cap: Cap
    projection: list[CapYear]
    outpatient: Outpatient | None = None
    newborn: NewbornFunding | None = None
    side_rules: list[SideRuleRef]
    steps: list[Step]
