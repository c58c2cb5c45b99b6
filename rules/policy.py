"""Policy documents as data: dated parameter values, each with its clause and source.

Every difference between regions lives here, in the policy files (rules/policies/*.yaml) and the
models that validate them: parameter values, exempt groups, readings, side rules, and which aid
policy applies (`Policy.aid_policy`). The rules read these fields; no rule names a region.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from rules.overrides import OverridesFileError, read_overrides
from rules.terms import REGIONS, AidClass, AidPolicyId, Group, PolicyId

POLICY_DIR = Path(__file__).parent / "policies"
# Bumped when the engine's reading of the texts changes; the data's digest follows the files.
ENGINE_VERSION = "1"
# The source recorded for a value a deployment sets (it is shown as the citation).
DEPLOYMENT_SOURCE = "部署设置"

# Bounds keep a deployment's values sane: no amount beyond 10 million yuan, no month count or
# number of years beyond what any policy text uses, and dates within 2000-2100 (_sane_day).
MAX_YUAN = 10_000_000
Yuan = Annotated[int, Field(ge=0, le=MAX_YUAN)]
Share = Annotated[float, Field(ge=0, le=1)]
Months = Annotated[int, Field(ge=0, le=36)]
Years = Annotated[int, Field(ge=0, le=50)]
_PERIOD = re.compile(r"^(\d\d)-(\d\d)/(\d\d)-(\d\d)$")


def _period_days(period: str) -> tuple[int, int, int, int]:
    """(month, day, month, day) of `MM-DD/MM-DD` naming two real days (29 February allowed);
    raises ValueError."""
    match = _PERIOD.match(period)
    if not match:
        raise ValueError(f"{period!r} is not MM-DD/MM-DD")
    m1, d1, m2, d2 = (int(x) for x in match.groups())
    for month, day in ((m1, d1), (m2, d2)):
        try:
            dt.date(2000, month, day)  # a leap year, so that 02-29 passes
        except ValueError:
            raise ValueError(f"{period!r}: {month:02d}-{day:02d} is no day of the year") from None
    if (m1, d1) == (m2, d2):
        raise ValueError(f"{period!r}: the period starts and ends on the same day")
    return m1, d1, m2, d2


def _real_period(period: str) -> str:
    """`MM-DD/MM-DD` naming two real days (29 February allowed); raises ValueError."""
    _period_days(period)
    return period


def _sane_day(day: dt.date) -> dt.date:
    """A date from 2000 to 2100; raises ValueError for any other year."""
    if not 2000 <= day.year <= 2100:
        raise ValueError(f"{day}: the year is not between 2000 and 2100")
    return day


Day = Annotated[dt.date, AfterValidator(_sane_day)]

# A centralized payment period (集中缴费期) as month-day bounds; it starts in the year before the
# benefit year and, when its end comes before its start, ends in the benefit year itself.
Period = Annotated[str, AfterValidator(_real_period)]

# Every parameter a policy file may set, and the type its values must have.
PARAMETER_TYPES: dict[str, Any] = {
    "payment_period": Period,
    "waiting.fixed_months": Months,
    "waiting.variable_per_break_year": Months,
    "waiting.free_break_years": Years,
    "waiting.repair_months_per_year": Months,
    "waiting.floor_break_years": Years,
    "waiting.floor_months": Months,
    "waiting.anchor": Literal["payment_date"],
    "repair.contribution": Yuan,
    # the resident contribution's tier a repair pays (xizang 高档, chongqing 一档)
    "repair.tier": Literal["high", "one"],
    "cap.base": Yuan,
    "cap.step": Yuan,
    "cap.step_minimum": Yuan,
    "cap.rise_ceiling": Yuan,
    "cap.rise_ceiling_share": Share,
    "cap.fall_ceiling": Yuan,
    "cap.fall_ceiling_share": Share,
    "cap.continuity_after_years": Years,
    "cap.continuity_kept_on_break": bool,
    "cap.continuity_restarts_on_break": bool,
    "cap.penalty_step": Yuan,
    "cap.zero_claim_needs_paid_year": bool,
    "cap.zero_claim_clear_delay_years": Years,
    "outpatient.rise": Yuan,
    "outpatient.after_years": Years,
    "switch.gap_months": Months,
    "waiting.break_costs_uncovered": bool,
    "switch.longer_gap_is_break": bool,
    "newborn.max_days": Annotated[int, Field(ge=1, le=366)],
    "infant.max_months": Months,
    "subsidy.age_women": Annotated[int, Field(ge=16, le=120)],
    "subsidy.age_men": Annotated[int, Field(ge=16, le=120)],
    "switch.min_continuous_years": Years,
    "cross_province.reserve_months": Months,
    "cross_province.referred_cut_points": Annotated[int, Field(ge=0, le=100)],
    "cross_province.other_cut_points": Annotated[int, Field(ge=0, le=100)],
    "fraud.min_raise": Yuan,
    "flexible.wait_months": Months,
    "flexible.gap_months": Months,
    "transfer.resident_years_per_employee_year": Annotated[int, Field(ge=1, le=10)],
    "outsider.max_age_men": Annotated[int, Field(ge=16, le=80)],
    "outsider.max_age_women": Annotated[int, Field(ge=16, le=80)],
    "maternity.min_months": Months,
    "maternity.uninsured_spouse_share": Share,
    "aid.highest_tier_premium": Yuan,
    "aid.premium_full_classes": list[AidClass],
    "aid.premium_own_share": Share,
    "aid.ratio": dict[AidClass, Share],
    "aid.limit_ordinary": Yuan,
    "aid.limit_major": Yuan,
    "aid.major_threshold_share": Share,
    "aid.outpatient_limit": Yuan,
    "aid.application_threshold_share": Share,
    "aid.application_ratio": Share,
    "aid.application_months": Months,
    "aid.tilt_deductible_cut": Share,
    "aid.tilt_ratio_points": Annotated[int, Field(ge=0, le=100)],
    "aid.tilt_classes": list[AidClass],
    "aid.tilt_until": Day,
    "aid.warning_formerly_poor_share": Share,
    "aid.warning_general_share": Share,
    "income.per_capita_disposable": Yuan,
    "income.rural_per_capita_disposable": Yuan,
}
_ADAPTERS = {name: TypeAdapter(kind | None) for name, kind in PARAMETER_TYPES.items()}
# Parameters the engine cannot answer without: an enrolment policy must give each a value.
REQUIRED = frozenset(
    {
        "waiting.fixed_months",
        "waiting.variable_per_break_year",
        "waiting.free_break_years",
        "waiting.repair_months_per_year",
        "waiting.floor_break_years",
        "waiting.floor_months",
        "cap.continuity_after_years",
        "cap.continuity_kept_on_break",
        "cap.zero_claim_needs_paid_year",
        "cap.zero_claim_clear_delay_years",
    }
)

# Parameters that only make sense together: a text that gives one gives all (and a deployment's
# override that adds one adds all), so the rule that reads them finds each.
TOGETHER = (
    ("flexible.wait_months", "flexible.gap_months"),
    ("outpatient.rise", "outpatient.after_years"),
)

# How benefits begin for an exempt group.
# payment: from the payment (1 January when paid in the centralized period); birth: from birth;
# birth_to_next_year_end: from birth to 31 December of the year after it; birth_in_period_...:
# the same for a baby born in the centralized period, else from the payment;
# payment_to_next_year_end: from the payment to 31 December of the year after it.
StartRule = Literal[
    "payment",
    "birth",
    "birth_to_next_year_end",
    "birth_in_period_to_next_year_end",
    "payment_to_next_year_end",
]


class PolicyError(ValueError):
    """A policy or override file that cannot be used: names the file, the key and why."""


class DatedValue(BaseModel):
    """One value of a parameter, in force from a date; None means a deployment must set it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    since: Day = Field(alias="from")
    value: Any = None
    source: str | None = None
    checked: dt.date | None = None


class Parameter(BaseModel):
    """A named value of the policy, with the clause or public source that gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str | None = None
    source: str | None = None
    checked: dt.date | None = None
    interpretation: bool = False
    # For an interpretation: the reading is an official body's (`source` names who, when, where),
    # not ours. Only then does an answer call it "an official reading".
    official: bool = False
    quote: str | None = None  # the exact words of the text (whitespace aside) this value encodes
    reason: str | None = None  # for an interpretation: why we read the text this way
    values: list[DatedValue]

    @model_validator(mode="after")
    def _official_has_source(self) -> Parameter:
        if self.official and not (self.interpretation and self.source):
            raise ValueError("official: only an interpretation with a source is an official one")
        return self

    def at(self, day: dt.date) -> DatedValue | None:
        """The value in force on `day`, if any."""
        current = None
        for item in self.values:
            if item.since <= day:
                current = item
        return current


class ExemptGroup(BaseModel):
    """A group the document frees from the waiting period, and the conditions it must meet.

    `conditions` are ids checked by rules.exemptions on the person's facts; an exemption is
    granted only when every one of them holds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str
    quote: str | None = None
    start: StartRule = "payment"
    conditions: list[str] = []
    interpretation: bool = False
    reason: str | None = None
    source: str | None = None


class Reading(BaseModel):
    """A reading of the text where it is silent: what we chose, why, and who says so."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str | None = None
    quote: str | None = None
    reason: str
    source: str | None = None  # an official public source (publisher, date, title), if any
    official: bool = False  # the reading is an official body's, not ours

    @model_validator(mode="after")
    def _official_has_source(self) -> Reading:
        if self.official and not self.source:
            raise ValueError("official: an official reading names its source")
        return self


class SideRule(BaseModel):
    """A regional rule: its clause, the parameters it uses, and the groups it speaks to.

    Most are answered on request (rules.side_rules); a few are said in every answer they bear
    on (rules.regional). `groups`: the groups it is for (empty: everyone).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str
    quote: str | None = None
    parameters: list[str] = []
    groups: list[Group] = []
    interpretation: bool = False
    reason: str | None = None


class Policy(BaseModel):
    """One policy document: what it is, when it is valid, and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PolicyId
    title: str
    number: str | None = None
    file: str | None = None
    issued: dt.date | None = None
    valid_from: dt.date
    valid_until: dt.date | None = None
    draft: bool = False
    checked: dt.date
    base_clause: str
    parameters: dict[str, Parameter]
    exempt_groups: dict[Group, ExemptGroup] = {}
    # The text ends its list of exempt groups with 等 ("and other special groups"): a group it
    # does not name may still be exempt locally, so the answer never says "not exempt" flatly.
    exempt_list_open: bool = False
    exempt_list_clause: str | None = None  # where the list of exempt groups stands
    exempt_list_quote: str | None = None
    readings: dict[str, Reading] = {}
    side_rules: dict[str, SideRule] = {}
    # The medical-aid policy (医疗救助) for this region's people, when one is encoded.
    aid_policy: AidPolicyId | None = None

    @field_validator("parameters")
    @classmethod
    def _known_and_typed(cls, parameters: dict[str, Parameter]) -> dict[str, Parameter]:
        for name, parameter in parameters.items():
            check_value(name, parameter.values)
        return parameters

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        if self.enrolment:
            missing = sorted(REQUIRED - set(self.parameters))
            if missing:
                raise ValueError(f"parameters: {', '.join(missing)} must be given")
        elif self.aid_policy is not None:
            raise ValueError("aid_policy: only a region's enrolment policy names an aid policy")
        try:
            check_together(set(self.parameters))
        except ValueError as error:
            raise ValueError(f"parameters: {error}") from None
        return self

    @property
    def enrolment(self) -> bool:
        """Whether this is a region's enrolment policy (the others are aid policies)."""
        return self.id in REGIONS

    @property
    def employee_waiting(self) -> bool:
        """Whether the text gives waiting rules for employee insurance (flexible workers,
        灵活就业人员参加职工医保): it sets `flexible.wait_months` (xizang 一(三))."""
        return "flexible.wait_months" in self.parameters

    def get(self, name: str, day: dt.date) -> Any:
        """The value of parameter `name` on `day`; None where the document gives none."""
        parameter = self.parameters.get(name)
        if parameter is None:
            return None
        value = parameter.at(day)
        return None if value is None else value.value

    def cite(self, name: str) -> str:
        """`document-id clause` for a parameter; its public source when the text has none."""
        parameter = self.parameters.get(name)
        if parameter and parameter.clause:
            return f"{self.id} {parameter.clause}"
        if parameter and parameter.source:
            return parameter.source
        return f"{self.id} {self.base_clause}"

    def valid_on(self, day: dt.date) -> bool:
        """Whether the document is in force on `day`."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def check_together(names: set[str]) -> None:
    """Raise ValueError when `names` has some but not all of a set of TOGETHER parameters."""
    for together in TOGETHER:
        given = [name for name in together if name in names]
        if given and len(given) < len(together):
            missing = ", ".join(name for name in together if name not in names)
            raise ValueError(f"{given[0]}: needs {missing} too")


def check_value(name: str, values: list[DatedValue]) -> None:
    """Raise ValueError unless `name` is a known parameter and each value has its type; a
    parameter the engine needs (REQUIRED) may not be null."""
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        raise ValueError(f"unknown parameter {name!r}")
    for item in values:
        if item.value is None and name in REQUIRED:
            raise ValueError(f"{name}: value from {item.since} is null, and the rules need one")
        try:
            adapter.validate_python(item.value, strict=False)
        except ValidationError as error:
            problem = error.errors()[0]["msg"]
            raise ValueError(f"{name}: value {item.value!r} from {item.since}: {problem}") from None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"{path}: cannot be read: {error}") from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top)"
    message = first["msg"]
    if first.get("ctx", {}).get("error"):
        message = str(first["ctx"]["error"])
    return f"{key}: {message}"


def load_policy(path: Path) -> Policy:
    """Load and validate one policy file."""
    raw = _read_yaml(path)
    try:
        return Policy.model_validate(raw)
    except ValidationError as error:
        raise PolicyError(f"{path}: {_describe(error)}") from None


def apply_overrides(policies: dict[str, Policy], path: Path) -> dict[str, Policy]:
    """Policies with a deployment's values put in front of the document's own.

    The file maps a policy id to parameter names, each with a list of dated values
    (`{from: 2027-01-01, value: 400, source: ...}`) or a single value in force from the
    document's start. Each value must have its parameter's type and bounds (PARAMETER_TYPES:
    yuan at most MAX_YUAN, months and years as there, dates within 2000-2100).

    Raises PolicyError, a one-line message `FILE: [line N: ]policy.parameter: why`, when the
    file cannot be read or is refused by rules.overrides.read_overrides (over 64 KiB, not UTF-8,
    not YAML, aliases or anchors, a key given twice, nesting too deep, a number too long or not
    finite), or when a policy, a parameter or a value is unknown or out of bounds.
    """
    try:
        raw = read_overrides(path)
    except OSError as error:
        raise PolicyError(f"{path}: cannot be read: {error.strerror or error}") from None
    except OverridesFileError as error:
        raise PolicyError(f"{path}: {error}") from None
    raw = raw or {}  # an empty file sets nothing
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: must map policy ids to parameters")
    result = dict(policies)
    for policy_id, changes in raw.items():
        if policy_id not in policies:
            raise PolicyError(f"{path}: {policy_id}: unknown policy (known: {', '.join(policies)})")
        if not isinstance(changes, dict):
            raise PolicyError(f"{path}: {policy_id}: must map parameter names to values")
        policy = policies[policy_id]
        parameters = dict(policy.parameters)
        for name, given in changes.items():
            entries = (
                given if isinstance(given, list) else [{"from": policy.valid_from, "value": given}]
            )
            try:
                values = [
                    DatedValue.model_validate({"source": DEPLOYMENT_SOURCE, **e}) for e in entries
                ]
                check_value(name, values)
            except (ValidationError, ValueError, TypeError) as error:
                why = _describe(error) if isinstance(error, ValidationError) else str(error)
                why = why.removeprefix(f"{name}: ")  # the key path names it already
                raise PolicyError(f"{path}: {policy_id}.{name}: {why}") from None
            old = parameters.get(name)
            merged = sorted(
                [*(old.values if old else []), *values],
                key=lambda v: (v.since, v.source == DEPLOYMENT_SOURCE),
            )
            parameters[name] = (
                old.model_copy(update={"values": merged})
                if old
                else Parameter(source=DEPLOYMENT_SOURCE, values=merged)
            )
        try:
            check_together(set(parameters))
        except ValueError as error:
            raise PolicyError(f"{path}: {policy_id}.{error}") from None
        result[policy_id] = policy.model_copy(update={"parameters": parameters})
    return result


class PolicySet(dict[str, Policy]):
    """The policies in use, by id, with the version of the rules they make up."""

    @property
    def version(self) -> str:
        """`engine-digest`: changes whenever a parameter, clause or date changes."""
        cached = self.__dict__.get("_version")
        if cached is None:
            dump = json.dumps(
                [p.model_dump(mode="json") for _, p in sorted(self.items())],
                sort_keys=True,
                ensure_ascii=False,
            )
            cached = f"{ENGINE_VERSION}-{hashlib.sha256(dump.encode()).hexdigest()[:8]}"
            self.__dict__["_version"] = cached
        return cached


def rules_version(policies: Mapping[str, Policy]) -> str:
    """The version of a set of policies (see PolicySet.version)."""
    if isinstance(policies, PolicySet):
        return policies.version
    return PolicySet(policies).version


@cache
def _packaged() -> PolicySet:
    policies = PolicySet()
    for path in sorted(POLICY_DIR.glob("*.yaml")):
        policy = load_policy(path)
        if policy.id != path.stem:
            raise PolicyError(f"{path}: id: {policy.id!r} does not match the file name")
        policies[policy.id] = policy
    for policy in policies.values():
        if policy.aid_policy is not None and policy.aid_policy not in policies:
            raise PolicyError(f"{policy.id}: aid_policy: {policy.aid_policy!r} is not loaded")
    return policies


def load_policies(overrides: Path | str | None = None) -> PolicySet:
    """All packaged policies, with a deployment's override file applied when given."""
    policies = _packaged()
    if overrides:
        return PolicySet(apply_overrides(policies, Path(overrides)))
    return policies


def _day_of(year: int, month: int, day: int) -> dt.date:
    """The day, with 29 February moved to the 28th in a common year."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


@cache
def period_bounds(period: str, benefit_year: int) -> tuple[dt.date, dt.date]:
    """The first and last day of the centralized period for `benefit_year` (ISO dates).

    The period opens in the year before the benefit year; an end before the start lies in the
    benefit year itself (Jiangxi's and Hubei's 10-15/02-28). Raises ValueError on a malformed
    period.
    """
    m1, d1, m2, d2 = _period_days(period)
    year = benefit_year - 1
    end_year = year + 1 if (m2, d2) < (m1, d1) else year
    return _day_of(year, m1, d1), _day_of(end_year, m2, d2)
