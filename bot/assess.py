"""`yibao assess`: the machine-readable contract of the rules core, JSON in and JSON out."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import ValidationError

from bot.render import render_macro
from rules import Assessment, PolicySet, Profile, assess


class InputError(ValueError):
    """Input that cannot be assessed; the message names the field and the problem."""


def describe(error: ValidationError, prefix: str = "") -> str:
    """One line naming the first invalid field and what is wrong with it."""
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    field = ".".join(str(part) for part in first["loc"])
    if not field and ": " in message:
        field, message = message.split(": ", 1)
    return f"{prefix}{field or 'input'}: {message}"


def parse_profile(raw: Any, today: dt.date, prefix: str = "") -> Profile:
    """A validated Profile from one decoded JSON object."""
    if not isinstance(raw, dict):
        raise InputError(f"{prefix}input: expected a JSON object")
    if raw.get("today") is None:
        raw = {**raw, "today": today.isoformat()}
    try:
        return Profile.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe(error, prefix)) from None


def to_json(assessment: Assessment, locale: str) -> dict[str, Any]:
    """The assessment as the contract's JSON object, each step with its text."""
    data = assessment.model_dump(mode="json")
    for step, out in zip(assessment.steps, data["steps"], strict=True):
        text = render_macro("steps.j2", "step", locale, step)
        data_step = {"rule": out["rule"], "cite": out["cite"], "text": text}
        data_step.update({k: v for k, v in out.items() if k not in data_step})
        out.clear()
        out.update(data_step)
    return data


def run_assess(text: str, policies: PolicySet, today: dt.date, locale: str = "en") -> str:
    """Assess the JSON object or array in `text`; raises InputError on bad input."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"input: not valid JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(raw, list):
        profiles = [parse_profile(item, today, f"[{i}].") for i, item in enumerate(raw)]
        result: Any = [to_json(assess(p, policies), locale) for p in profiles]
    else:
        result = to_json(assess(parse_profile(raw, today), policies), locale)
    return json.dumps(result, ensure_ascii=False, indent=2)
