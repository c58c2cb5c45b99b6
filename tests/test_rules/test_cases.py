"""Every case file under cases/ run through the `yibao assess` JSON contract."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.assess import parse_profile, run_assess
from bot.render import render_macro
from rules import assess, load_policies

CASES = Path(__file__).parent / "cases"
# Every clause rules.md asks the core to answer, each exercised by at least one case.
REQUIRED_CLAUSES = {
    "xizang 一(一)",
    "xizang 一(二)",
    "xizang 一(三)",
    "xizang 一(四)",
    "shanxi 一(一)",
    "shanxi 一(二)",
    "shanxi 一(三)",
    "shanxi 一(四)",
    "chongqing 一(一)",
    "chongqing 一(二)",
    "chongqing 一(三)",
    "chongqing 二(四)",
    "chongqing 二(五)",
    "tianjin 一(一)",
    "tianjin 一(二)",
    "tianjin 一(三)",
    "tianjin 一(四)",
    "tianjin 三(七)",
    "xizang-aid 三(一)",
    "xizang-aid 四(三)",
    "xizang-aid 五(五)1",
    "xizang-aid 五(五)2",
    "xizang-aid 六(六)",
    "xizang-aid 六(七)1",
    "xizang-aid 六(七)2",
    "national 国办发〔2024〕38号",
}


def _plain(value: Any) -> Any:
    """YAML values as the JSON output spells them."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            params.append(
                pytest.param(
                    path.stem, data.get("defaults", {}), case, id=f"{path.stem}: {case['name']}"
                )
            )
    return params


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _check(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        for key, value in expected.items():
            _check(_at(actual, str(key)), value, f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def _cites(result: dict[str, Any]) -> set[str]:
    steps = [*result["steps"], *result.get("aid", {}).get("steps", [])]
    return {s["cite"] for s in [*steps, *result.get("side", []), *result["side_rules"]]}


@pytest.fixture(scope="module")
def policies():
    return load_policies()


@pytest.mark.parametrize(("document", "defaults", "case"), _cases())
def test_case(document: str, defaults: dict[str, Any], case: dict[str, Any], policies) -> None:
    given = _plain({**defaults, **case["input"]})
    result = json.loads(run_assess(json.dumps(given), policies, dt.date(2026, 11, 23)))
    for path, expected in _plain(case.get("expect", {})).items():
        _check(_at(result, path), expected, path)
    rules = [s["rule"] for s in [*result["steps"], *result.get("aid", {}).get("steps", [])]]
    for rule in case.get("rules", []):
        assert rule in rules, f"step {rule} missing; steps: {rules}"
    for rule in case.get("absent", []):
        assert rule not in rules, f"step {rule} should not be there"
    steps = {s["rule"]: s for s in [*result["steps"], *result.get("aid", {}).get("steps", [])]}
    for rule in case.get("flagged", []):
        assert steps[rule]["interpretation"] is True, f"step {rule} is not flagged as a reading"
    for rule in case.get("unflagged", []):
        assert steps[rule]["interpretation"] is False, f"step {rule} is flagged, the text says it"
    for cite in case.get("cites", []):
        assert cite in _cites(result), f"{cite} not cited; cited: {sorted(_cites(result))}"
    assert all(s["text"] and s["text"] != s["rule"] for s in result["steps"]), "a step has no text"


def test_case_files_cover_every_clause() -> None:
    cited = {c for *_, case in (p.values for p in _cases()) for c in case.get("cites", [])}
    assert cited >= REQUIRED_CLAUSES, f"clauses without a case: {sorted(REQUIRED_CLAUSES - cited)}"


def test_there_are_at_least_80_cases_across_every_region() -> None:
    params = _cases()
    assert len(params) >= 80
    regions = {
        case["input"].get("region", defaults.get("region"))
        for _, defaults, case in (p.values for p in params)
    }
    assert regions == {"xizang", "shanxi", "chongqing", "tianjin", "national"}


def test_every_official_example_names_its_publisher_date_and_title() -> None:
    data = yaml.safe_load((CASES / "official.yaml").read_text(encoding="utf-8"))
    assert len(data["cases"]) >= 10
    for case in data["cases"]:
        source = case.get("source") or {}
        assert source.get("publisher") and source.get("title"), case["name"]
        assert "date" in source, case["name"]


def test_a_kept_reward_is_flagged_as_an_official_reading_with_its_source(policies) -> None:
    given = {
        "region": "xizang",
        "benefit_year": 2033,
        "coverage": {str(y): "resident" for y in range(2025, 2031)} | {"2031": "none"},
    }
    result = json.loads(run_assess(json.dumps(given), policies, dt.date(2026, 11, 23)))
    kept = next(s for s in result["steps"] if s["rule"] == "cap.continuity_kept")
    assert kept["interpretation"] is True
    assert "2025年11月12日" in kept["source"]
    assert result["cap"]["continuity_kept_steps"] == 2
    restarts = next(s for s in result["steps"] if s["rule"] == "cap.continuity_restarts")
    assert restarts["interpretation"] is False  # 连续参保缴费年数重新计算 is the text's own


# Official bodies whose published readings the rules follow where a text is silent (rules.md:
# "follow the reading, cite it (who, when, where)"). Written out here, not read from the data.
OFFICIAL_READERS = (
    "国家医疗保障局，国务院政策例行吹风会（2024年8月1日）",
    "西藏自治区医疗保障局新闻发布会（2025年11月12日）",
    "阜新市医疗保障局",
    "中共中央 国务院关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接的意见（2020年12月16日）",
)
# The documents the rules read: a reading of one of them is ours, never "official" on its own
# word (the national guideline's silence was once cited as an official reading of itself).
READ_DOCUMENTS = ("国办发〔2024〕38号", "藏医保发", "晋医保发", "渝医保发", "津医保发")


def test_only_an_official_bodys_reading_carries_a_source(policies) -> None:
    """Every case's steps: a step with a source is flagged, and its source is an official
    body's published reading, not the document the rules are reading."""
    sources: set[str] = set()
    for param in _cases():
        _, defaults, case = param.values
        given = _plain({**defaults, **case["input"]})
        result = json.loads(run_assess(json.dumps(given), policies, dt.date(2026, 11, 23)))
        for step in [*result["steps"], *result.get("aid", {}).get("steps", [])]:
            source = step.get("source")
            if not source:
                continue
            sources.add(source)
            assert step["interpretation"] is True, step
            assert source.startswith(OFFICIAL_READERS), step
            assert not any(document in source for document in READ_DOCUMENTS), step
    assert len(sources) >= 3  # the national briefing, Xizang's bureau, Fuxin's example at least


def test_the_guidelines_silence_on_a_newborns_age_is_our_reading_not_an_official_one(
    policies,
) -> None:
    """national: the guideline exempts newborns without an age; the 90 days are ours."""
    given = {
        "region": "national",
        "benefit_year": 2027,
        "group": "newborn",
        "birth_date": "2026-12-01",
        "payment_date": "2026-12-20",
    }
    result = json.loads(run_assess(json.dumps(given), policies, dt.date(2026, 11, 23)))
    exempt = next(s for s in result["steps"] if s["rule"] == "waiting.exempt")
    assert "within 90 days of birth" in exempt["text"]
    assert exempt["interpretation"] is True  # flagged: the 90 days are not the guideline's
    assert exempt.get("source") is None  # and not called anyone else's reading either
    # The reasons' line for it (the sentence, the clause, whose reading it is).
    profile = parse_profile(given, dt.date(2026, 11, 23))
    step = next(s for s in assess(profile, policies).steps if s.rule == "waiting.exempt")
    line = render_macro("steps.j2", "line", "en", step)
    assert "our reading; the text is silent" in line
    assert "official reading" not in line
