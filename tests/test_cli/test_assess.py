"""`yibao assess` as a user runs it: JSON on stdin, JSON on stdout, exit 2 on bad input."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot import assess as assess_cli
from bot.assess import InputError, run_assess, to_json
from rules import PolicySet, Profile, assess, load_policies

YIBAO = Path(sys.executable).with_name("yibao")
TODAY = dt.date(2026, 11, 23)
# One of each kind of answer: breaks and a repair, an exemption, a payment outside an unknown
# period, a newborn's funding, a draft, employee insurance, aid and side questions.
MIXED = [
    {"region": "xizang", "benefit_year": 2027, "coverage": {"2025": "none", "2026": "none"}},
    {"region": "shanxi", "benefit_year": 2028, "repair_years": 2, "zero_claim_years": [2025]},
    {"region": "xizang", "benefit_year": 2027, "group": "newborn", "birth_date": "2026-10-05"},
    {"region": "chongqing", "benefit_year": 2027, "payment_date": "2027-02-01"},
    {"region": "tianjin", "benefit_year": 2029, "group": "job_change", "left_on": "2028-06-30"},
    {"region": "national", "benefit_year": 2026, "in_period": False},
    {"region": "xizang", "benefit_year": 2027, "scheme": "employee", "payment_date": "2027-01-05"},
    {"region": "xizang", "benefit_year": 2027, "aid": {"class": [3, 4], "self_paid": 20000}},
    {"region": "xizang", "benefit_year": 2027, "side": {"fraud_amounts": [1000, 6000]}},
]
SPEC_KEYS = {
    "waiting": {
        "break_years",
        "fixed_months",
        "variable_months",
        "repaired_months",
        "total_months",
        "benefit_start",
        "exempt",
    },
    "repair": {"useful_years", "cost_per_year", "options"},
    "cap": {"step", "continuity", "zero_claim", "penalty", "net_change", "ceiling", "base", "cap"},
}


def run(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, "assess", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("region", ["xizang", "shanxi", "chongqing", "tianjin", "national"])
def test_every_region_prints_the_spec_output_keys(region: str) -> None:
    given = {
        "region": region,
        "benefit_year": 2027,
        "coverage": {"2025": "none", "2026": "none"},
        "payment_date": "2026-11-10",
        "repair_years": 0,
        "group": None,
        "zero_claim_years": [],
        "incentive_used_years": [],
        "today": "2026-11-23",
    }
    done = run(json.dumps(given))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["region"] == region and result["benefit_year"] == 2027
    for section, keys in SPEC_KEYS.items():
        assert keys <= set(result[section]), f"{section} lacks {keys - set(result[section])}"
    assert result["waiting"]["total_months"] == 4
    assert result["repair"]["options"][0] == {
        "years": 1,
        "total_months": 3,
        "benefit_start": "2027-04-01",
        "no_cover_this_year": False,
        "cost": None,
    }
    assert result["steps"] and all({"rule", "cite", "text"} <= set(s) for s in result["steps"])
    assert result["draft"] == (region == "chongqing")


def test_an_array_gives_an_array_in_the_same_order() -> None:
    done = run(
        json.dumps(
            [
                {"region": "tianjin", "benefit_year": 2026},
                {"region": "xizang", "benefit_year": 2029},
            ]
        )
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [r["region"] for r in results] == ["tianjin", "xizang"]
    assert [r["waiting"]["total_months"] for r in results] == [3, 6]


def test_step_texts_are_in_english_by_default() -> None:
    done = run('{"region": "xizang", "benefit_year": 2027}', "--locale", "en")
    assert "Benefits start 4 months after 1 January" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("given", "field"),
    [
        ('{"region": "mars", "benefit_year": 2027}', "region:"),
        ('{"region": "xizang", "benefit_year": 2024}', "benefit_year:"),
        (
            '{"region": "xizang", "benefit_year": 2027, "payment_date": "10.11.2026x"}',
            "payment_date:",
        ),
        ('{"region": "xizang", "benefit_year": 2027, "repair_years": -1}', "repair_years:"),
        (
            '{"region": "xizang", "benefit_year": 2027, "coverage": {"2025": "paid"}}',
            "coverage.2025:",
        ),
        ('{"region": "xizang", "benefit_year": 2027, "coverage": {"2031": "none"}}', "coverage:"),
        ('{"region": "xizang", "benefit_year": 2027, "name": "Zhang San"}', "name:"),
        (
            '[{"region": "xizang", "benefit_year": 2027}, {"region": "tianjin"}]',
            "[1].benefit_year:",
        ),
        ('{"region": "tianjin", "benefit_year": 2027, "aid": {"class": 1}}', "aid:"),
        ('{"region": "shanxi", "benefit_year": 2027, "scheme": "employee"}', "scheme:"),
        (
            '{"region": "xizang", "benefit_year": 2027, "payment_period": "02-30/13-45"}',
            "payment_period:",
        ),
        (
            '{"region": "xizang", "benefit_year": 2027, "coverage": {"2026": {"kind": "none"}}}',
            "coverage.2026.kind:",
        ),
        ('{"region": "xizang", "benefit_year": 2027, "left_on": "2029-01-01"}', "left_on:"),
        ("not json", "input:"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(given: str, field: str) -> None:
    done = run(given)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_override_file_is_named(tmp_path: Path) -> None:
    overrides = tmp_path / "o.yaml"
    overrides.write_text("tianjin:\n  cap.base: many\n", encoding="utf-8")
    done = run('{"region": "tianjin", "benefit_year": 2027}', "--overrides", str(overrides))
    assert done.returncode == 2 and "cap.base" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("locale", ["en", "zh_Hans", "bo"])
def test_the_output_is_what_the_json_module_writes(locale: str) -> None:
    # Two spaces of indent, non-ASCII as it is; an array's items each as a single answer is.
    policies = load_policies()
    array = run_assess(json.dumps(MIXED), policies, TODAY, locale)
    singles = [json.loads(run_assess(json.dumps(one), policies, TODAY, locale)) for one in MIXED]
    assert array == json.dumps(singles, ensure_ascii=False, indent=2)
    for one, single in zip(MIXED, singles, strict=True):
        text = run_assess(json.dumps(one), policies, TODAY, locale)
        assert text == json.dumps(single, ensure_ascii=False, indent=2)
    assert run_assess("[]", policies, TODAY) == "[]"


def test_to_json_is_the_printed_object() -> None:
    policies = load_policies()
    for given in MIXED[:7]:
        profile = Profile.model_validate({**given, "today": TODAY.isoformat()})
        printed = json.loads(run_assess(json.dumps(given), policies, TODAY))
        assert to_json(assess(profile, policies), "en") == printed


def test_kept_step_texts_are_the_texts_of_the_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # Texts kept between answers (by step and by rule and values) give every answer exactly
    # the text it would get alone, in each language.
    policies = load_policies()
    given = json.dumps(MIXED * 2)
    kept = {loc: run_assess(given, policies, TODAY, loc) for loc in ("en", "zh_Hans", "bo")}
    monkeypatch.setattr(assess_cli, "TEXT_CACHE_SIZE", 0)
    assess_cli.clear_text_cache()
    for locale, text in kept.items():
        assert run_assess(given, policies, TODAY, locale) == text


def test_employee_insurance_and_aid_are_answered_where_the_policy_encodes_them() -> None:
    policies = load_policies()
    employee = {"region": "shanxi", "benefit_year": 2027, "scheme": "employee"}
    aid = {"region": "shanxi", "benefit_year": 2027, "aid": {"class": 1, "self_paid": 1000}}
    with pytest.raises(InputError, match="employee-insurance waiting rules are encoded for xiz"):
        run_assess(json.dumps(employee), policies, TODAY)
    with pytest.raises(InputError, match="medical-aid rules are encoded for xizang only"):
        run_assess(json.dumps(aid), policies, TODAY)
    shanxi = policies["shanxi"]
    changed = PolicySet(
        {
            **policies,
            "shanxi": shanxi.model_copy(
                update={
                    "aid_policy": "xizang-aid",
                    "parameters": {
                        **shanxi.parameters,
                        "flexible.wait_months": policies["xizang"].parameters[
                            "flexible.wait_months"
                        ],
                        "flexible.gap_months": policies["xizang"].parameters["flexible.gap_months"],
                    },
                }
            ),
        }
    )
    answer = json.loads(run_assess(json.dumps(aid), changed, TODAY))
    assert answer["aid"]["aid_class"] == 1 and answer["aid"]["aid"] == 1000
    answer = json.loads(run_assess(json.dumps(employee), changed, TODAY))
    assert answer["waiting"]["scheme"] == "employee" and answer["waiting"]["total_months"] == 3
