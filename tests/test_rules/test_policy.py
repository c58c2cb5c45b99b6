"""Loading policy files: validation messages, and a deployment's overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rules import PolicyError, Profile, assess, load_policies
from rules.policy import POLICY_DIR, load_policy

TODAY = dt.date(2026, 11, 23)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (POLICY_DIR / "tianjin.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "tianjin.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_every_packaged_policy_loads_with_dated_cited_values() -> None:
    policies = load_policies()
    assert set(policies) == {"xizang", "shanxi", "chongqing", "tianjin", "national", "xizang-aid"}
    for policy in policies.values():
        for name, parameter in policy.parameters.items():
            assert (
                parameter.clause
                or parameter.source
                or all(v.value is None for v in parameter.values)
            ), f"{policy.id}.{name} has no reference"
            assert parameter.values, f"{policy.id}.{name} has no dated value"


def test_a_value_of_the_wrong_type_names_file_key_and_why(tmp_path: Path) -> None:
    path = _broken(tmp_path, "value: 1000}]", "value: lots}]")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    message = str(error.value)
    assert str(path) in message and "cap.step" in message and "lots" in message


def test_an_unknown_parameter_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "  cap.step:", "  cap.stepp:")
    with pytest.raises(PolicyError, match=r"parameters.*unknown parameter 'cap.stepp'"):
        load_policy(path)


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    path = _broken(tmp_path, "base_clause: 一(四)\n", "")
    with pytest.raises(PolicyError, match="base_clause: Field required"):
        load_policy(path)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"x\.yaml: cannot be read"):
        load_policy(path)


def test_overrides_set_the_tianjin_base_cap_and_a_repair_price(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(
        "tianjin:\n  cap.base: 400000\n"
        "  repair.contribution:\n    - {from: 2027-01-01, value: 420, source: 2027 notice}\n",
        encoding="utf-8",
    )
    policies = load_policies(overrides)
    profile = Profile(
        region="tianjin",
        benefit_year=2028,
        repair_years=2,
        payment_date=dt.date(2027, 10, 1),
        today=TODAY,
    )
    result = assess(profile, policies)
    assert result.cap.base == 400000 and result.cap.ceiling == 80000
    assert result.cap.cap == 400000 - 3 * 1000
    assert result.repair.cost_per_year == 420 and result.repair.requested_cost == 840
    assert result.rules_version != load_policies().version
    # The packaged data is untouched.
    assert assess(profile, load_policies()).cap.base is None


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("mars:\n  cap.base: 1\n", "mars: unknown policy"),
        ("tianjin:\n  cap.base: -5\n", "tianjin.cap.base"),
        ("tianjin:\n  cap.nope: 5\n", "unknown parameter"),
    ],
)
def test_bad_overrides_name_the_key(tmp_path: Path, content: str, match: str) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError, match=match):
        load_policies(overrides)


def test_an_override_cannot_blank_a_value_the_engine_needs(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("xizang:\n  waiting.fixed_months: null\n", encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policies(overrides)
    message = str(error.value)
    assert str(overrides) in message and "waiting.fixed_months" in message and "null" in message


@pytest.mark.parametrize("period", ["02-30/13-45", "9-1/12-31", "13-01/12-31", "09-01/09-01"])
def test_a_payment_period_that_names_no_real_day_is_refused(tmp_path: Path, period: str) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(f'xizang:\n  payment_period: "{period}"\n', encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policies(overrides)
    assert "payment_period" in str(error.value) and str(overrides) in str(error.value)


def test_a_period_running_into_the_benefit_year_ends_in_it() -> None:
    from rules.policy import period_bounds

    assert period_bounds("10-15/02-28", 2026) == (dt.date(2025, 10, 15), dt.date(2026, 2, 28))
    assert period_bounds("09-01/02-29", 2025) == (dt.date(2024, 9, 1), dt.date(2025, 2, 28))


def test_every_interpretation_says_why() -> None:
    for policy in load_policies().values():
        for name, parameter in policy.parameters.items():
            if parameter.interpretation:
                assert parameter.reason, f"{policy.id}.{name} is a reading with no reason"
        for group, rule in policy.exempt_groups.items():
            if rule.interpretation:
                assert rule.reason, f"{policy.id} exempt group {group} has no reason"
        for rule_id, rule in policy.side_rules.items():
            if rule.interpretation:
                assert rule.reason, f"{policy.id} side rule {rule_id} has no reason"
