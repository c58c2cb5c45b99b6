"""What every rule reads: a policy's values on one day, and the explained steps of one answer.

A policy's values, citations and constants, and the steps that follow from them alone, are the
same for every answer in a benefit year, so each policy keeps them per day (`PolicyDay`, read
once). This is a cache of policy data only: nothing that depends on a person is kept here (the
cap's results, which do, are kept by rules.cap_memo).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from rules.breaks import History
from rules.dates import year_end
from rules.models import Profile, SideRuleRef, Step
from rules.policy import Policy

T = TypeVar("T")
# (cite, interpretation, since, checked, source) of a parameter's value on one day.
Ref = tuple[str, bool, dt.date | None, dt.date, str | None]


class PolicyDay:
    """A policy on one day (1 January of a year): its parameter values by name (None where the
    document gives none), the citation of each, whether the document is in force for the whole
    year (`within`), the constants that rules build from the values (`constants`), and the
    steps that depend on nothing else (`shared_steps`, see Context.shared)."""

    __slots__ = (
        "_constants",
        "cites",
        "day",
        "policy",
        "readings",
        "refs",
        "shared_steps",
        "side_rules",
        "values",
        "within",
    )

    def __init__(self, policy: Policy, day: dt.date) -> None:
        self.policy = policy
        self.day = day
        self.values: dict[str, Any] = {name: policy.get(name, day) for name in policy.parameters}
        self.refs: dict[str, Ref] = {}
        self.cites: dict[str, str] = {}
        self.readings: dict[tuple[str, str], tuple[str, bool, str | None]] = {}
        self.side_rules: list[SideRuleRef] | None = None
        self.shared_steps: dict[Callable[[Context], None], tuple[Step, ...]] = {}
        self.within = policy.valid_on(day) and policy.valid_on(year_end(day.year))
        self._constants: dict[Callable[[PolicyDay], Any], Any] = {}

    def constants(self, build: Callable[[PolicyDay], T]) -> T:
        """What `build` makes of this day's values, made once (e.g. rules.cap.CapConstants)."""
        found = self._constants.get(build)
        if found is None:
            found = self._constants[build] = build(self)
        return cast(T, found)

    def ref(self, parameter: str) -> Ref:
        """(cite, interpretation, since, checked, source) of a parameter's value on this day;
        `source` only for an official reading (an interpretation an official body made), which
        names who reads it so; our own readings have none."""
        found = self.refs.get(parameter)
        if found is None:
            policy = self.policy
            spec = policy.parameters.get(parameter)
            value = spec.at(self.day) if spec else None
            reading = bool(spec and spec.interpretation)
            found = self.refs[parameter] = (
                policy.cite(parameter),
                reading,
                value.since if value else None,
                (value.checked if value else None)
                or (spec.checked if spec else None)
                or policy.checked,
                spec.source if spec and reading and spec.official else None,
            )
        return found

    def cite(self, rule: str) -> str:
        """`document-id clause` of a rule (see Policy.cite)."""
        found = self.cites.get(rule)
        if found is None:
            found = self.cites[rule] = self.policy.cite(rule)
        return found

    def reading(self, rule: str, reading: str) -> tuple[str, bool, str | None]:
        """(cite, found, source) of one of the policy's readings (where the text is silent),
        for a step of `rule`; the rule's own citation when the reading names no clause; `source`
        only when the reading is an official body's."""
        key = (rule, reading)
        found = self.readings.get(key)
        if found is None:
            given = self.policy.readings.get(reading)
            cite = f"{self.policy.id} {given.clause}" if given and given.clause else None
            found = self.readings[key] = (
                cite or self.cite(rule),
                given is not None,
                given.source if given and given.official else None,
            )
        return found


# One PolicyDay per policy and day. The policy is kept in the entry so that its id cannot be
# reused by another object while the entry lives.
_BY_POLICY: dict[int, tuple[Policy, dict[dt.date, PolicyDay]]] = {}


def policy_day(policy: Policy, day: dt.date) -> PolicyDay:
    """The policy on `day`, made once per policy object and day."""
    entry = _BY_POLICY.get(id(policy))
    if entry is None or entry[0] is not policy:
        entry = _BY_POLICY[id(policy)] = (policy, {})
    found = entry[1].get(day)
    if found is None:
        found = entry[1][day] = PolicyDay(policy, day)
    return found


def policy_days() -> Iterator[PolicyDay]:
    """Every policy day made so far."""
    for _, days in _BY_POLICY.values():
        yield from days.values()


def values_on(policy: Policy, day: dt.date) -> dict[str, Any]:
    """Every parameter's value on `day` (None where the document gives none), kept per policy."""
    return policy_day(policy, day).values


class Context:
    """One answer in the making: the policy, the person, the day values are read on (1 January
    of the benefit year), the person's cover (`history`) and the steps explained so far.

    With `explain` False no step is written (the figures are the same).
    """

    __slots__ = ("day", "explain", "history", "on", "policy", "profile", "steps", "values")

    def __init__(self, policy: Policy, profile: Profile, explain: bool = True) -> None:
        self.policy = policy
        self.profile = profile
        self.explain = explain
        self.day = dt.date(profile.benefit_year, 1, 1)
        self.steps: list[Step] = []
        self.on = policy_day(policy, self.day)
        self.values = self.on.values
        self.history = History(profile)

    def value(self, name: str, day: dt.date | None = None) -> Any:
        """A parameter's value on the benefit year's 1 January, or on `day`; None if not given."""
        values = self.values if day is None or day == self.day else values_on(self.policy, day)
        return values.get(name)

    def step(
        self,
        rule: str,
        cite: str | None = None,
        params: dict[str, Any] | None = None,
        *,
        interpretation: bool = False,
        since: dt.date | None = None,
        checked: dt.date | None = None,
    ) -> None:
        """A step of `rule` with the values it used (`params`), cited at `cite` (default: the
        rule's own citation)."""
        if self.explain:
            self.steps.append(
                Step(
                    rule,
                    cite or self.on.cite(rule),
                    {} if params is None else params,
                    interpretation,
                    since,
                    checked,
                )
            )

    def shared(self, write: Callable[[Context], None]) -> None:
        """The steps `write` adds when they depend on the policy day alone (no fact of the
        person's): written once per day, then the same (read-only) steps in every answer."""
        if self.explain:
            found = self.on.shared_steps.get(write)
            if found is None:
                first = len(self.steps)
                write(self)
                self.on.shared_steps[write] = tuple(self.steps[first:])
            else:
                self.steps.extend(found)

    def reading(
        self,
        rule: str,
        reading: str,
        params: dict[str, Any] | None = None,
        *,
        flag: bool = True,
    ) -> None:
        """A step resting on one of the policy's readings where the text is silent; `flag`
        False when, for these facts, the reading changes nothing."""
        if self.explain:
            cite, found, source = self.on.reading(rule, reading)
            flagged = found and flag
            self.steps.append(
                Step(
                    rule,
                    cite,
                    {} if params is None else params,
                    flagged,
                    source=source if flagged else None,
                )
            )

    def cited(
        self,
        rule: str,
        parameter: str,
        params: dict[str, Any] | None = None,
        *,
        interpretation: bool = False,
    ) -> None:
        """A step whose clause, and interpretation flag, come from one parameter."""
        if self.explain:
            on = self.on
            cite, reading, since, checked, source = on.refs.get(parameter) or on.ref(parameter)
            self.steps.append(
                Step(
                    rule,
                    cite,
                    {} if params is None else params,
                    interpretation or reading,
                    since,
                    checked,
                    source,
                )
            )
