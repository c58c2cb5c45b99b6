"""The survey as data: each question's id, kind, options and when it is relevant.

One generic router (bot/handlers/survey.py) asks them in order, skipping what the answers
already settle. Wording lives in templates/questions.j2, keyed by question and option ids.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.i18n import available
from bot.parsing import (
    InvalidAnswer,
    parse_date,
    parse_number,
    parse_option,
    parse_year,
    to_ascii,
)
from bot.render import render_macro
from rules import REGIONS, Assessment, PolicySet, Profile, assess
from rules.models import FIRST_YEAR, GROUPS, Coverage, Region

if TYPE_CHECKING:
    from bot.settings import Settings

Answers = dict[str, Any]
# payment: the benefit year's premium; late_payment: the year before's, if paid late;
# date: a birth date; stop_date: the day old insurance (or army service, prison) ended.
Kind = Literal["choice", "years", "payment", "late_payment", "date", "stop_date", "number"]
GROUP_OPTIONS = ("none", *GROUPS)
INSURANCE_OPTIONS: tuple[str, ...] = get_args(Coverage)
AID_CLASSES = {
    "extreme_poverty": 1,
    "orphan_disabled": 2,
    "minimum_allowance": 3,
    "at_risk": 4,
    "catastrophic": 5,
}


Year = Annotated[int, Field(ge=FIRST_YEAR, le=2100)]


class SurveyAnswers(BaseModel):
    """The shape every stored answer must have: checked each time one is stored."""

    model_config = ConfigDict(extra="forbid")

    region: Region | None = None
    benefit_year: Year | None = None
    insurance: Literal["resident", "employee", "none"] | None = None
    group: Literal[GROUP_OPTIONS] | None = None  # type: ignore[valid-type]
    birth_date: dt.date | None = None
    paid_years: list[Year] | None = None
    payment: Literal["period"] | dt.date | None = None
    late_year: Literal["on_time"] | dt.date | None = None
    in_period: Literal["yes", "no", "unsure"] | None = None
    left_on: dt.date | None = None
    continuous_years: Literal["under_2", "2_plus"] | None = None
    zero_claim_years: list[Year] | None = None
    incentive_used_years: list[Year] | None = None
    repair_years: Annotated[int, Field(ge=0, le=50)] | None = None
    aid_class: Literal[tuple(AID_CLASSES)] | None = None  # type: ignore[valid-type]
    aid_expense: Literal["inpatient", "outpatient"] | None = None
    aid_cost: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    aid_income: Annotated[int, Field(ge=0, le=100_000_000)] | None = None


def validate_answers(answers: Answers) -> None:
    """Raise InvalidAnswer unless every answer has its question's shape."""
    try:
        SurveyAnswers.model_validate(answers)
    except ValidationError:
        raise InvalidAnswer("invalid") from None


@dataclass(frozen=True)
class Context:
    """What questions may depend on besides the answers; `office` and `payment_url` are the
    deployment's contacts shown under an answer (settings OFFICE_CONTACT, PAYMENT_URL)."""

    today: dt.date
    policies: PolicySet
    office: str | None = None
    payment_url: str | None = None

    @classmethod
    def now(cls, policies: PolicySet, settings: Settings | None = None) -> Context:
        """Today's context, with the deployment's contacts when `settings` are given: one per
        event, whatever the channel."""
        if settings is None:
            return cls(today=dt.date.today(), policies=policies)
        return cls(
            today=dt.date.today(),
            policies=policies,
            office=settings.office_contact,
            payment_url=settings.payment_url,
        )


@dataclass(frozen=True)
class Question:
    """One question: its id, kind, options, when it is worth asking, the answers that no longer
    fit once its answer changes (`resets`), and how many options a row of buttons holds."""

    id: str
    kind: Kind
    options: Callable[[Answers, Context], tuple[str, ...]] = lambda a, c: ()
    relevant: Callable[[Answers, Context], bool] = lambda a, c: True
    bounds: Callable[[Answers, Context], tuple[int, int]] | None = field(default=None)
    resets: tuple[str, ...] = ()
    per_row: int = 1

    @property
    def row(self) -> int:
        """Options a row of buttons holds: years three a row, whatever the question says."""
        return 3 if self.kind == "years" else self.per_row


# Facts the rules core may ask for; an answer they hang on, changed, drops them.
FACTS = ("in_period", "left_on", "continuous_years")


def _benefit_years(answers: Answers, ctx: Context) -> tuple[str, ...]:
    return tuple(str(y) for y in (ctx.today.year, ctx.today.year + 1) if y >= FIRST_YEAR)


def break_years_asked(answers: Answers) -> tuple[str, ...]:
    """The years whose payment the person is asked about: 2025 (or, for a baby, the year after
    birth: 出生当年不缴费) to the year before the benefit year."""
    year = int(answers.get("benefit_year", FIRST_YEAR))
    first = FIRST_YEAR
    born = answers.get("birth_date")
    if born and answers.get("group") in ("newborn", "infant"):
        first = max(first, dt.date.fromisoformat(born).year + 1)
    return tuple(str(y) for y in range(first, year))


def exempt(answers: Answers, ctx: Context) -> bool:
    """Whether the answers so far make the person exempt from waiting: the group is named by
    the region's text and every condition of it holds on the facts given (rules.exemptions)."""
    group = answers.get("group")
    if not group or group == "none" or not answers.get("region"):
        return False
    try:
        return evaluate(answers, ctx).waiting.exempt
    except (ValueError, KeyError):
        return False


def missing_facts(answers: Answers, ctx: Context, without: str) -> tuple[str, ...]:
    """The facts the rules core says the answer still depends on, the answer to `without` left
    out (so that a question stays relevant once answered, and shows in the summary)."""
    rest = {k: v for k, v in answers.items() if k != without}
    if "region" not in rest or "benefit_year" not in rest:
        return ()
    try:
        return tuple(evaluate(rest, ctx).waiting.missing)
    except (ValueError, KeyError):
        return ()


def _last_year_paid(answers: Answers) -> bool:
    """Whether the year before the benefit year was paid (and so may have been paid late)."""
    year = int(answers.get("benefit_year", FIRST_YEAR)) - 1
    return str(year) in break_years_asked(answers) and year in paid_years(answers)


def paid_years(answers: Answers) -> list[int]:
    """Years from 2025 the person paid for, from the toggles or the current insurance."""
    if "paid_years" in answers:
        return sorted(int(y) for y in answers["paid_years"])
    if answers.get("insurance") in ("resident", "employee"):
        return [int(y) for y in break_years_asked(answers)]
    return []


def useful_repair_years(answers: Answers, ctx: Context) -> int:
    """How many repair years would shorten this person's wait."""
    try:
        return evaluate({**answers, "repair_years": 0}, ctx).repair.useful_years
    except (ValueError, KeyError):
        return 0


QUESTIONS: tuple[Question, ...] = (
    Question("region", "choice", options=lambda a, c: REGIONS, resets=("repair_years", *FACTS)),
    Question(
        "benefit_year",
        "choice",
        options=_benefit_years,
        bounds=lambda a, c: (FIRST_YEAR, c.today.year + 1),
        resets=(
            "payment",
            "paid_years",
            "late_year",
            "zero_claim_years",
            "incentive_used_years",
            "repair_years",
            *FACTS,
        ),
        per_row=3,
    ),
    Question(
        "insurance",
        "choice",
        options=lambda a, c: INSURANCE_OPTIONS,
        resets=(
            "paid_years",
            "late_year",
            "zero_claim_years",
            "incentive_used_years",
            "repair_years",
            *FACTS,
        ),
    ),
    Question(
        "group",
        "choice",
        options=lambda a, c: GROUP_OPTIONS,
        resets=("birth_date", "payment", "repair_years", *FACTS),
    ),
    Question(
        "birth_date",
        "date",
        relevant=lambda a, c: a.get("group") in ("newborn", "infant"),
        resets=("paid_years", "late_year", *FACTS),
    ),
    Question(
        "paid_years",
        "years",
        options=lambda a, c: break_years_asked(a),
        relevant=lambda a, c: bool(break_years_asked(a)) and not exempt(a, c),
        resets=("late_year", "zero_claim_years", "incentive_used_years", "repair_years", *FACTS),
    ),
    Question(
        "late_year",
        "late_payment",
        options=lambda a, c: ("on_time",),
        relevant=lambda a, c: _last_year_paid(a) and not exempt(a, c),
        resets=("repair_years",),
    ),
    # A baby's exemption depends on the day of payment: the period alone does not say it.
    Question(
        "payment",
        "payment",
        options=lambda a, c: (
            ("today",) if a.get("group") in ("newborn", "infant") else ("period", "today")
        ),
        resets=("repair_years", *FACTS),
    ),
    Question(
        "in_period",
        "choice",
        options=lambda a, c: ("yes", "no", "unsure"),
        relevant=lambda a, c: "in_period" in missing_facts(a, c, "in_period"),
        resets=("repair_years",),
    ),
    Question(
        "left_on",
        "stop_date",
        relevant=lambda a, c: "left_on" in missing_facts(a, c, "left_on"),
        resets=("continuous_years", "repair_years"),
    ),
    Question(
        "continuous_years",
        "choice",
        options=lambda a, c: ("under_2", "2_plus"),
        relevant=lambda a, c: "continuous_years" in missing_facts(a, c, "continuous_years"),
        resets=("repair_years",),
    ),
    Question(
        "zero_claim_years",
        "years",
        options=lambda a, c: tuple(str(y) for y in paid_years(a)),
        relevant=lambda a, c: bool(paid_years(a)),
        resets=("incentive_used_years",),
    ),
    Question(
        "incentive_used_years",
        "years",
        options=lambda a, c: tuple(
            str(y) for y in paid_years(a) if str(y) not in a.get("zero_claim_years", [])
        ),
        relevant=lambda a, c: (
            bool(a.get("zero_claim_years"))
            and any(str(y) not in a["zero_claim_years"] for y in paid_years(a))
        ),
    ),
    Question(
        "repair_years",
        "choice",
        options=lambda a, c: tuple(str(n) for n in range(useful_repair_years(a, c) + 1)),
        relevant=lambda a, c: useful_repair_years(a, c) > 0,
        per_row=3,
    ),
)
AID_QUESTIONS: tuple[Question, ...] = (
    Question(
        "aid_class", "choice", options=lambda a, c: tuple(AID_CLASSES), resets=("aid_income",)
    ),
    Question("aid_expense", "choice", options=lambda a, c: ("inpatient", "outpatient")),
    Question("aid_cost", "number", bounds=lambda a, c: (0, 10_000_000)),
    Question(
        "aid_income",
        "number",
        bounds=lambda a, c: (0, 100_000_000),
        relevant=lambda a, c: a.get("aid_class") == "catastrophic",
    ),
)
BY_ID = {q.id: q for q in (*QUESTIONS, *AID_QUESTIONS)}


def next_question(answers: Answers, ctx: Context, mode: str = "survey") -> Question | None:
    """The question to ask next: the first relevant one without an answer, in the order of
    QUESTIONS (AID_QUESTIONS in the aid `mode`); also after an edit. None when all are answered.
    """
    for question in AID_QUESTIONS if mode == "aid" else QUESTIONS:
        if question.id not in answers and question.relevant(answers, ctx):
            return question
    return None


def asked(
    answers: Answers, ctx: Context, questions: tuple[Question, ...] = QUESTIONS
) -> list[Question]:
    """The relevant questions that have an answer, in order: the summary's rows."""
    return [q for q in questions if q.id in answers and q.relevant(answers, ctx)]


def example_date(question_id: str, answers: Answers, ctx: Context) -> str | None:
    """An example date for the prompt, inside what the question accepts (ISO), else None.

    A birth date: the 15th of last month (in the past, well within two years). A payment: the
    15th of this month, moved into the benefit year or the year before (what parse_text takes).
    """
    if question_id == "birth_date":
        last_month = ctx.today.replace(day=1) - dt.timedelta(days=1)
        return last_month.replace(day=15).isoformat()
    if question_id == "payment" and answers.get("benefit_year"):
        year = int(answers["benefit_year"])
        return ctx.today.replace(year=min(max(ctx.today.year, year - 1), year), day=15).isoformat()
    return None


def _labels(question: Question, options: tuple[str, ...], locale: str) -> list[dict[str, str]]:
    """The options' button labels, one mapping per language, `locale`'s first."""
    locales = [locale, *(other for other in available() if other != locale)]
    return [
        {v: render_macro("questions.j2", "option", loc, question.id, v) for v in options}
        for loc in locales
    ]


def parse_text(
    question: Question, text: str, answers: Answers, ctx: Context, *, locale: str = "en"
) -> Any:
    """The stored value for free text typed at `question`, or InvalidAnswer.

    At a choice question a typed button label (in `locale`, or another language) picks that
    option as pressing the button would; a year question also takes a typed year.
    """
    text = text.strip()
    if question.kind in ("choice", "years"):
        if question.bounds:  # a year question: the buttons or a typed year
            low, high = question.bounds(answers, ctx)
            offered = question.options(answers, ctx)
            try:
                year = parse_year(text)
            except InvalidAnswer:
                raise InvalidAnswer("not_a_year", low=low, high=high, years=offered) from None
            if not low <= year <= high:
                raise InvalidAnswer("year_out_of_range", low=low, high=high, years=offered)
            return str(year)
        if question.kind == "choice":
            options = question.options(answers, ctx)
            typed = to_ascii(text).strip()
            found = typed if typed.isdigit() and typed in options else None  # repair years
            found = found or parse_option(text, _labels(question, options, locale))
            if found is not None:
                return int(found) if question.id == "repair_years" else found
        raise InvalidAnswer("use_buttons")
    if question.kind == "number":
        value = parse_number(text)
        low, high = question.bounds(answers, ctx) if question.bounds else (0, 10**12)
        if not low <= value <= high:
            raise InvalidAnswer("number_out_of_range", low=low, high=high)
        return value
    day = parse_date(text)
    if question.kind == "stop_date":
        if day > ctx.today:
            raise InvalidAnswer("stop_in_future")
        return day.isoformat()
    if question.kind == "late_payment":  # the year before's premium, paid in it or the year before
        year = int(answers["benefit_year"]) - 1
        if not year - 1 <= day.year <= year:
            raise InvalidAnswer("payment_out_of_range", low=year - 1, high=year)
        return day.isoformat()
    if question.kind == "date":  # a birth date
        if day > ctx.today:
            raise InvalidAnswer("date_in_future")
        if day < ctx.today - dt.timedelta(days=2 * 366):
            raise InvalidAnswer("birth_too_early")
        return day.isoformat()
    year = int(answers["benefit_year"])
    if not year - 1 <= day.year <= year:
        raise InvalidAnswer("payment_out_of_range", low=year - 1, high=year)
    return day.isoformat()


def check_choice(question: Question, value: str, answers: Answers, ctx: Context) -> str:
    """A pressed option, checked against what the question offers now (forged or stale data)."""
    if value not in question.options(answers, ctx):
        raise InvalidAnswer("stale_button")
    return value


def to_profile(answers: Answers, ctx: Context) -> Profile:
    """The rules core's Profile from the survey answers."""
    year = int(answers["benefit_year"])
    kind = (
        answers.get("insurance")
        if answers.get("insurance") in ("resident", "employee")
        else "resident"
    )
    paid = set(paid_years(answers))
    group = answers.get("group")
    payment = answers.get("payment")
    coverage: dict[int, Any] = {y: kind if y in paid else "none" for y in range(FIRST_YEAR, year)}
    late = answers.get("late_year")
    if late not in (None, "on_time") and year - 1 in paid:
        coverage[year - 1] = {"kind": kind, "paid_on": late}
    stopped = answers.get("left_on")
    return Profile.model_validate(
        {
            "region": answers["region"],
            "benefit_year": year,
            "coverage": coverage,
            "payment_date": None if payment in (None, "period") else payment,
            "in_period": {"yes": True, "no": False}.get(answers.get("in_period", "")),
            "left_on": stopped,
            "continuous_years": {"under_2": 1, "2_plus": 2}.get(
                answers.get("continuous_years", "")
            ),
            "repair_years": int(answers.get("repair_years", 0)),
            "group": None if group in (None, "none") else group,
            "birth_date": answers.get("birth_date"),
            "zero_claim_years": [
                int(y) for y in answers.get("zero_claim_years", []) if int(y) in paid
            ],
            "incentive_used_years": [
                int(y)
                for y in answers.get("incentive_used_years", [])
                if int(y) in paid and y not in answers.get("zero_claim_years", [])
            ],
            "today": ctx.today,
        }
    )


def evaluate(answers: Answers, ctx: Context) -> Assessment:
    """Assess the answers (one assessment serves a question's relevance, options and keyboard)."""
    key = (json.dumps(answers, sort_keys=True, default=str), ctx.today, ctx.policies.version)
    found = _ASSESSED.get(key)
    if found is None:
        if len(_ASSESSED) >= 512:
            _ASSESSED.pop(next(iter(_ASSESSED)))
        found = _ASSESSED[key] = assess(to_profile(answers, ctx), ctx.policies)
    return found


# Recent assessments by their answers: the same answers are assessed several times per step.
_ASSESSED: dict[tuple[str, dt.date, str], Assessment] = {}


def parse_deep_link(payload: str | None, locales: tuple[str, ...]) -> tuple[str, str | None] | None:
    """`xizang-bo` -> (region, locale) from a /start payload; None when it is not one of ours."""
    region, _, locale = (payload or "").strip().partition("-")
    if region not in REGIONS:
        return None
    return region, locale if locale in locales else None
