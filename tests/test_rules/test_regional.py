"""Region differences are policy data: turning a feature on or off in a policy changes the answer.

Each test changes one region's policy (a deployment's override file, or a policy with one side
rule added or taken away) and checks that the rules follow the data, whatever the region's name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rules import REGIONS, Assessment, PolicyError, PolicySet, Profile, assess, load_policies
from rules.breaks import History
from rules.policy import POLICY_DIR, SideRule, load_policy

TODAY = dt.date(2026, 11, 23)
PACKAGED = load_policies()


def _overridden(tmp_path: Path, text: str) -> PolicySet:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policies(path)


def _with_side_rule(region: str, rule_id: str, rule: SideRule | None) -> PolicySet:
    """The packaged policies with one side rule of `region` set (or removed, for None)."""
    policy = PACKAGED[region]
    side_rules = {k: v for k, v in policy.side_rules.items() if k != rule_id}
    if rule is not None:
        side_rules[rule_id] = rule
    return PolicySet({**PACKAGED, region: policy.model_copy(update={"side_rules": side_rules})})


def _rules(result: Assessment) -> list[str]:
    return [step.rule for step in result.steps]


def test_every_region_has_one_enrolment_policy_and_only_regions_have_one() -> None:
    enrolment = {policy.id for policy in PACKAGED.values() if policy.enrolment}
    assert enrolment == set(REGIONS)
    for policy in PACKAGED.values():
        if policy.aid_policy is not None:
            assert PACKAGED[policy.aid_policy].enrolment is False


def test_the_aid_policy_of_a_region_is_named_by_its_policy() -> None:
    assert {r: PACKAGED[r].aid_policy for r in REGIONS} == {
        "xizang": "xizang-aid",
        "shanxi": None,
        "chongqing": None,
        "tianjin": None,
        "national": None,
    }


def test_an_aid_policy_cannot_name_an_aid_policy(tmp_path: Path) -> None:
    text = (POLICY_DIR / "xizang-aid.yaml").read_text(encoding="utf-8")
    path = tmp_path / "xizang-aid.yaml"
    path.write_text(text.replace("base_clause:", "aid_policy: xizang-aid\nbase_clause:", 1))
    with pytest.raises(PolicyError, match="only a region's enrolment policy names an aid policy"):
        load_policy(path)


def test_employee_waiting_rules_come_from_the_flexible_parameters(tmp_path: Path) -> None:
    profile = Profile(
        region="shanxi",
        benefit_year=2027,
        scheme="employee",
        payment_date=dt.date(2027, 3, 10),
        today=TODAY,
    )
    assert not PACKAGED["shanxi"].employee_waiting
    with pytest.raises(ValueError, match="shanxi gives no waiting rule for employee insurance"):
        assess(profile, PACKAGED)
    policies = _overridden(
        tmp_path, "shanxi:\n  flexible.wait_months: 2\n  flexible.gap_months: 3\n"
    )
    assert policies["shanxi"].employee_waiting
    waiting = assess(profile, policies).waiting
    assert waiting.scheme == "employee" and waiting.total_months == 2
    assert waiting.benefit_start == dt.date(2027, 5, 10)


def test_a_feature_needs_all_its_parameters(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"shanxi\.flexible\.wait_months: needs flexible\.gap"):
        _overridden(tmp_path, "shanxi:\n  flexible.wait_months: 2\n")


def test_the_outpatient_rise_comes_from_its_parameters(tmp_path: Path) -> None:
    profile = Profile(
        region="shanxi",
        benefit_year=2028,
        coverage={2025: "resident", 2026: "resident", 2027: "resident"},
        today=TODAY,
    )
    assert assess(profile, PACKAGED).outpatient is None
    policies = _overridden(
        tmp_path, "shanxi:\n  outpatient.rise: 500\n  outpatient.after_years: 3\n"
    )
    result = assess(profile, policies)
    assert result.outpatient is not None
    assert (result.outpatient.continuous_years, result.outpatient.rise) == (3, 500)
    assert "outpatient.rise" in _rules(result)


def test_newborn_funding_follows_the_side_rule_not_the_region() -> None:
    newborn = {"group": "newborn", "birth_date": dt.date(2026, 10, 5), "today": TODAY}
    xizang = Profile(region="xizang", benefit_year=2027, **newborn)
    assert assess(xizang, PACKAGED).newborn is not None
    without = _with_side_rule("xizang", "newborn_funding", None)
    result = assess(xizang, without)
    assert result.newborn is None and "xizang.newborn_funding" not in _rules(result)

    rule = SideRule(clause="一(四)", groups=["newborn"])
    shanxi = Profile(region="shanxi", benefit_year=2027, **newborn)
    assert assess(shanxi, PACKAGED).newborn is None
    result = assess(shanxi, _with_side_rule("shanxi", "newborn_funding", rule))
    assert result.newborn is not None and result.newborn.funded_years == [2027]
    step = next(s for s in result.steps if s.rule == "shanxi.newborn_funding")
    assert step.cite == "shanxi 一(四)"
    # The rule speaks to newborns only.
    other = shanxi.model_copy(update={"group": "infant"})
    assert assess(other, _with_side_rule("shanxi", "newborn_funding", rule)).newborn is None


def test_off_period_enrolment_follows_the_side_rule_not_the_region() -> None:
    late = {"benefit_year": 2027, "payment_date": dt.date(2027, 3, 1), "today": TODAY}
    xizang = Profile(region="xizang", in_period=False, **late)
    assert "xizang.off_period_enrolment" in _rules(assess(xizang, PACKAGED))
    without = _with_side_rule("xizang", "off_period_enrolment", None)
    assert "xizang.off_period_enrolment" not in _rules(assess(xizang, without))

    tianjin = Profile(region="tianjin", **late)
    assert not any(r.endswith("off_period_enrolment") for r in _rules(assess(tianjin, PACKAGED)))
    with_rule = _with_side_rule("tianjin", "off_period_enrolment", SideRule(clause="一(三)"))
    assert "tianjin.off_period_enrolment" in _rules(assess(tianjin, with_rule))
    # Paid in the period, nothing to say.
    in_period = tianjin.model_copy(update={"payment_date": dt.date(2026, 10, 1)})
    assert "tianjin.off_period_enrolment" not in _rules(assess(in_period, with_rule))


def test_the_individual_part_only_speaks_to_its_groups() -> None:
    rule = PACKAGED["chongqing"].side_rules["individual_part_only"]
    assert set(rule.groups) == {"job_change", "veteran"}
    base = {"region": "chongqing", "benefit_year": 2027, "today": TODAY}
    for group, said in (("veteran", True), ("student", False), (None, False)):
        result = assess(Profile(group=group, **base), PACKAGED)
        assert ("price.individual_part_only" in _rules(result)) is said, group
    everyone = _with_side_rule(
        "chongqing", "individual_part_only", rule.model_copy(update={"groups": []})
    )
    assert "price.individual_part_only" in _rules(assess(Profile(**base), everyone))


@pytest.mark.parametrize(
    ("coverage", "birth", "run", "every"),
    [
        ({}, None, [2025, 2026, 2027], [2025, 2026, 2027]),
        ({2025: "resident", 2027: "employee"}, None, [], [2026]),
        ({2025: "resident", 2026: "resident"}, None, [2027], [2027]),
        ({2024: "none", 2026: "resident"}, None, [2027], [2025, 2027]),
        ({}, dt.date(2026, 5, 1), [2027], [2027]),
        ({}, dt.date(2028, 1, 2), [], []),
    ],
)
def test_break_years_are_the_run_just_before_the_benefit_year(
    coverage: dict[int, str], birth: dt.date | None, run: list[int], every: list[int]
) -> None:
    profile = Profile.model_validate(
        {
            "region": "xizang",
            "benefit_year": 2028,
            "coverage": coverage,
            "birth_date": birth,
            "today": TODAY,
        }
    )
    history = History(profile)
    assert history.break_year_list == run and history.all_break_years == every
