"""`yibao assess`: the machine-readable contract of the rules core, JSON in and JSON out.

The output is JSON as `json.dumps(result, ensure_ascii=False, indent=2)` writes it, written by
pydantic from the rules core's own dataclasses. A batch repeats itself: of 2,000 generated
answers' 25,000 steps, 1,600 are distinct, and the rules core shares some step objects between
answers outright. So the text of each distinct step (its rule and values, in a language) and its
written JSON are kept (at most TEXT_CACHE_SIZE of each; 0 keeps none), and an answer's steps
are written from them into the answer's JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, NotRequired, get_type_hints

import pydantic_core
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic reads typing's own only from Python 3.12

from bot.render import render_macro
from rules import REGIONS, Assessment, Policy, PolicySet, Profile, Step, assess
from rules.aid import AidProfile, assess_aid
from rules.models import describe_error
from rules.side_rules import SideQuestions, answer_side_rules

TEXT_CACHE_SIZE = 16384
_ASSESSMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Assessment))


class _TextStep(TypedDict):
    """A step as the contract writes it: rule, clause and text first, then the rest."""

    rule: str
    cite: str
    text: str
    params: dict[str, Any]
    interpretation: bool
    since: dt.date | None
    checked: dt.date | None
    source: str | None


class _Kept:
    """Step texts, by language, template, rule and values; steps' JSON at an indentation, by
    the same and the rest of the step, and by step object (kept with it, so that its id is not
    reused meanwhile). Each table holds at most TEXT_CACHE_SIZE entries."""

    def __init__(self) -> None:
        self.texts: dict[tuple[str, ...], str] = {}
        self.written: dict[tuple[Any, ...], bytes] = {}
        self.by_step: dict[tuple[int, str, int], tuple[Step, bytes]] = {}

    @staticmethod
    def keep(table: dict[Any, Any], key: Any, value: Any) -> None:
        if TEXT_CACHE_SIZE:
            if len(table) >= TEXT_CACHE_SIZE:
                table.clear()
            table[key] = value

    def clear(self) -> None:
        self.texts.clear()
        self.written.clear()
        self.by_step.clear()


_KEPT = _Kept()


def clear_text_cache() -> None:
    """Forget the kept step texts and JSON (benchmarks start each round cold)."""
    _KEPT.clear()


@cache
def _writers() -> tuple[TypeAdapter[Any], TypeAdapter[list[Any]], TypeAdapter[_TextStep]]:
    """The writers of one answer, of a list of them, and of one step. An answer is an
    Assessment's fields in order with its steps' texts, then the aid and side answers when
    asked (built on first use)."""
    hints = get_type_hints(Assessment)
    fields: dict[str, Any] = {f.name: hints[f.name] for f in dataclasses.fields(Assessment)}
    fields["steps"] = list[_TextStep]
    fields["aid"] = NotRequired[dict[str, Any]]
    fields["side"] = NotRequired[list[dict[str, Any]]]
    # Made from Assessment's fields, so that they are listed once (in rules/models.py).
    answer: Any = TypedDict("answer", fields)  # type: ignore[misc]
    return TypeAdapter(answer), TypeAdapter(list[answer]), TypeAdapter(_TextStep)


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


def step_text(step: Step, locale: str, macro: str = "step", template: str = "steps.j2") -> str:
    """The step's sentence in `locale` (`template`'s `macro`, which reads its rule and values)."""
    key = (locale, template, macro, step.rule, repr(step.params))
    text = _KEPT.texts.get(key)
    if text is None:
        text = render_macro(template, macro, locale, step)
        _KEPT.keep(_KEPT.texts, key, text)
    return text


def _text_step(
    step: Step, locale: str, macro: str = "step", template: str = "steps.j2"
) -> _TextStep:
    """The step as the contract's object, with its text."""
    return {
        "rule": step.rule,
        "cite": step.cite,
        "text": step_text(step, locale, macro, template),
        "params": step.params,
        "interpretation": step.interpretation,
        "since": step.since,
        "checked": step.checked,
        "source": step.source,
    }


def _steps_json(
    steps: list[Step], locale: str, macro: str = "step", template: str = "steps.j2"
) -> list[_TextStep]:
    """Each step as the contract's object: its rule, clause and text, then the rest of it."""
    return [_text_step(step, locale, macro, template) for step in steps]


def _step_written(step: Step, locale: str, depth: int) -> bytes:
    """The step's JSON as an item of an array `depth` levels deep (indented by 2 * depth)."""
    by_step = _KEPT.by_step.get((id(step), locale, depth))
    if by_step is not None and by_step[0] is step:
        return by_step[1]
    key: tuple[Any, ...] = (locale, depth, step.rule, step.cite, repr(step.params))
    key += (step.interpretation, step.since, step.checked, step.source)
    written = _KEPT.written.get(key)
    if written is None:
        pad = b" " * (2 * depth)
        one = _writers()[2].dump_json(_text_step(step, locale), indent=2)
        written = pad + one.replace(b"\n", b"\n" + pad)
        _KEPT.keep(_KEPT.written, key, written)
    _KEPT.keep(_KEPT.by_step, (id(step), locale, depth), (step, written))
    return written


def _answer(assessment: Assessment, locale: str) -> dict[str, Any]:
    """The assessment as the contract's object, each step with its text; its parts stay the
    rules core's dataclasses and dates (pydantic writes them as JSON)."""
    data = {name: getattr(assessment, name) for name in _ASSESSMENT_FIELDS}
    data["steps"] = _steps_json(assessment.steps, locale)
    return data


def to_json(assessment: Assessment, locale: str) -> dict[str, Any]:
    """The assessment as the contract's JSON object (JSON types only), each step with its text."""
    result: dict[str, Any] = pydantic_core.to_jsonable_python(_answer(assessment, locale))
    return result


def _validate(model: Any, raw: Any, prefix: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe_error(error, "input", prefix)) from None


def _regions(policies: Mapping[str, Policy], has: Callable[[Policy], object]) -> str:
    """The regions whose policy has a feature, for a message: "xizang", or "no region"."""
    found = [region for region in REGIONS if region in policies and has(policies[region])]
    return ", ".join(found) or "no region"


class Request:
    """One validated input object: the profile, and the optional aid and side questions.

    Whether a region answers employee insurance or medical aid is its policy's (rules.policy:
    `Policy.employee_waiting`, `Policy.aid_policy`).
    """

    def __init__(
        self, raw: Any, today: dt.date, policies: Mapping[str, Policy], prefix: str = ""
    ) -> None:
        if not isinstance(raw, dict):
            raise InputError(f"{prefix}input: expected a JSON object")
        raw = dict(raw)
        aid, side = raw.pop("aid", None), raw.pop("side", None)
        self.profile = parse_profile(raw, today, prefix)
        policy = policies[self.profile.region]
        if self.profile.scheme == "employee" and not policy.employee_waiting:
            encoded = _regions(policies, lambda p: p.employee_waiting)
            raise InputError(
                f"{prefix}scheme: employee-insurance waiting rules are encoded for {encoded} only"
            )
        self.aid_policy = policy.aid_policy
        if aid is not None and self.aid_policy is None:
            encoded = _regions(policies, lambda p: p.aid_policy)
            raise InputError(f"{prefix}aid: medical-aid rules are encoded for {encoded} only")
        self.aid = None if aid is None else _validate(AidProfile, aid, f"{prefix}aid.")
        self.side = None if side is None else _validate(SideQuestions, side, f"{prefix}side.")

    def extra(self, policies: PolicySet, locale: str) -> dict[str, Any]:
        """The aid and side answers asked for (`aid`, `side`), each with its texts."""
        extra: dict[str, Any] = {}
        if self.aid is not None and self.aid_policy is not None:
            result = assess_aid(self.aid, policies[self.aid_policy], self.profile.benefit_year)
            extra["aid"] = result.model_dump(mode="json")
            extra["aid"]["steps"] = _steps_json(result.steps, locale, "aid_step", "aid_steps.j2")
        if self.side is not None:
            policy = policies[self.profile.region]
            answers = answer_side_rules(self.side, policy, dt.date(self.profile.benefit_year, 1, 1))
            extra["side"] = [a.model_dump(mode="json") for a in answers]
            for answer, out in zip(answers, extra["side"], strict=True):
                out["text"] = render_macro("steps.j2", "side", locale, answer)
        return extra

    def written(self, policies: PolicySet, locale: str, item: bool) -> bytes:
        """The answer's JSON: the whole output, or (`item`) an item of the output's array,
        indented as one and without the array's brackets."""
        assessment = assess(self.profile, policies)
        data = {name: getattr(assessment, name) for name in _ASSESSMENT_FIELDS}
        extra = self.extra(policies, locale)
        one, many, _ = _writers()
        if extra or not assessment.steps:  # the steps are not last: written with the rest
            data["steps"] = _steps_json(assessment.steps, locale)
            data.update(extra)
            return many.dump_json([data], indent=2)[2:-2] if item else one.dump_json(data, indent=2)
        # The steps are the last key: written from the kept steps' JSON where the answer ends.
        data["steps"] = []
        depth = 1 if item else 0
        written = many.dump_json([data], indent=2)[2:-2] if item else one.dump_json(data, indent=2)
        end = b"\n" + b" " * (2 * depth) + b"}"
        steps = b",\n".join(_step_written(step, locale, depth + 2) for step in assessment.steps)
        head = written[: -len(b"[]" + end)]
        return head + b"[\n" + steps + b"\n" + b" " * (2 * depth + 2) + b"]" + end


def run_assess(text: str, policies: PolicySet, today: dt.date, locale: str = "en") -> str:
    """Assess the JSON object or array in `text`; raises InputError on bad input (every object
    is checked before any is answered).

    The output is JSON indented by two spaces, non-ASCII characters as they are (as
    `json.dumps(..., ensure_ascii=False, indent=2)` writes it). An array's answers are written
    one by one, so that none is kept once written.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"input: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(raw, list):
        return Request(raw, today, policies).written(policies, locale, item=False).decode()
    requests = [Request(item, today, policies, f"[{i}].") for i, item in enumerate(raw)]
    if not requests:
        return "[]"
    items = (r.written(policies, locale, item=True) for r in requests)
    return (b"[\n" + b",\n".join(items) + b"\n]").decode()
