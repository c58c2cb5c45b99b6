"""`yibao assess`: the machine-readable contract of the rules core, JSON in and JSON out."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.render import render_macro
from rules import Assessment, PolicySet, Profile, assess
from rules.aid import AidProfile, assess_aid
from rules.models import describe_error
from rules.side_rules import SideQuestions, answer_side_rules


class InputError(ValueError):
    """Input that cannot be assessed; the message names the field and the problem."""


def parse_profile(raw: dict[str, Any], today: dt.date, prefix: str = "") -> Profile:
    """A validated Profile from one decoded JSON object."""
    if raw.get("today") is None:
        raw = {**raw, "today": today.isoformat()}
    try:
        return Profile.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe_error(error, "input", prefix)) from None


def _steps_json(
    steps: list[Any],
    dumped: list[dict[str, Any]],
    locale: str,
    macro: str = "step",
    template: str = "steps.j2",
) -> None:
    """Give each dumped step its text (`template`'s `macro`), placed after its rule and clause."""
    for step, out in zip(steps, dumped, strict=True):
        text = render_macro(template, macro, locale, step)
        rest = {k: v for k, v in out.items() if k not in ("rule", "cite")}
        out.clear()
        out.update(rule=step.rule, cite=step.cite, text=text, **rest)


@cache
def _assessment_json() -> TypeAdapter[Assessment]:
    return TypeAdapter(Assessment)


def to_json(assessment: Assessment, locale: str) -> dict[str, Any]:
    """The assessment as the contract's JSON object, each step with its text."""
    data = _assessment_json().dump_python(assessment, mode="json")
    _steps_json(assessment.steps, data["steps"], locale)
    return data


def _validate(model: Any, raw: Any, prefix: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe_error(error, "input", prefix)) from None


class Request:
    """One validated input object: the profile, and the optional aid and side questions."""

    def __init__(self, raw: Any, today: dt.date, prefix: str = "") -> None:
        if not isinstance(raw, dict):
            raise InputError(f"{prefix}input: expected a JSON object")
        raw = dict(raw)
        aid, side = raw.pop("aid", None), raw.pop("side", None)
        self.profile = parse_profile(raw, today, prefix)
        if self.profile.scheme == "employee" and self.profile.region != "xizang":
            raise InputError(
                f"{prefix}scheme: employee-insurance waiting rules are encoded for xizang only"
            )
        if aid is not None and self.profile.region != "xizang":
            raise InputError(f"{prefix}aid: medical-aid rules are encoded for xizang only")
        self.aid = None if aid is None else _validate(AidProfile, aid, f"{prefix}aid.")
        self.side = None if side is None else _validate(SideQuestions, side, f"{prefix}side.")

    def answer(self, policies: PolicySet, locale: str) -> dict[str, Any]:
        data = to_json(assess(self.profile, policies), locale)
        if self.aid is not None:
            result = assess_aid(self.aid, policies["xizang-aid"], self.profile.benefit_year)
            data["aid"] = result.model_dump(mode="json")
            _steps_json(result.steps, data["aid"]["steps"], locale, "aid_step", "aid_steps.j2")
        if self.side is not None:
            policy = policies[self.profile.region]
            answers = answer_side_rules(self.side, policy, dt.date(self.profile.benefit_year, 1, 1))
            data["side"] = [a.model_dump(mode="json") for a in answers]
            for answer, out in zip(answers, data["side"], strict=True):
                out["text"] = render_macro("steps.j2", "side", locale, answer)
        return data


def run_assess(text: str, policies: PolicySet, today: dt.date, locale: str = "en") -> str:
    """Assess the JSON object or array in `text`; raises InputError on bad input."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"input: not valid JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(raw, list):
        requests = [Request(item, today, f"[{i}].") for i, item in enumerate(raw)]
        result: Any = [r.answer(policies, locale) for r in requests]
    else:
        result = Request(raw, today).answer(policies, locale)
    return json.dumps(result, ensure_ascii=False, indent=2)
