"""Campaign use: poster deep links, volunteer mode, answer cards and their check codes."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.session import Person, make_person

from bot.cards import card_text, explain_text
from bot.checkcode import InvalidCode, Keyring, decode, encode
from bot.render import render_macro
from bot.settings import Settings, parse_card_keys
from rules import Profile, assess, load_policies

VOLUNTEER = 77
CODE = re.compile(r"([0-9A-Z]{6}(?:-[0-9A-Z]{1,6})+)")


def volunteer_app(user_id: int = VOLUNTEER, language: str = "en") -> Person:
    settings = Settings(_env_file=None, volunteer_ids=[VOLUNTEER])
    return make_person(settings, user_id=user_id, language=language)


async def test_a_poster_link_opens_the_survey_in_its_region_and_language() -> None:
    person = volunteer_app(user_id=5, language="en")
    first = await person.say("/start xizang-bo")
    assert first.text == render_macro("questions.j2", "prompt", "bo", "benefit_year", {})
    await person.say("2027")
    assert person.last.text == render_macro("questions.j2", "prompt", "bo", "insurance", {})


async def test_an_unknown_link_payload_starts_normally() -> None:
    person = volunteer_app(user_id=6)
    await person.say("/start mars-xx")
    assert "Choose" in person.last.text or "choose" in person.last.text


async def test_volunteer_mode_is_refused_to_others() -> None:
    person = volunteer_app(user_id=8)
    reply = await person.say("/volunteer")
    assert reply.text == render_macro("messages.j2", "text", "en", "volunteers_only")


async def test_a_volunteer_serves_ten_people_with_one_tap_between_them() -> None:
    person = volunteer_app()
    await person.start()
    await person.say("/volunteer")
    await person.press("Tianjin")
    storage = person.dispatcher.storage
    for i in range(10):
        insurance = "None" if i % 2 else "Resident insurance"
        result = await person.answer_to_result("2027", insurance)
        expected = "4 months" if i % 2 else "No waiting period"
        assert expected in result and "(Tianjin)" in result
        assert "Next person »" in person.buttons()
        nxt = await person.press("Next person »")
        assert "For which year" in nxt.text, "the region is kept for the next person"
        data = next(iter(storage.storage.values())).data
        assert data["answers"] == {"region": "tianjin"}, "nothing of the previous person"
        assert data["volunteer"] is True and data["locale"] == "en"


async def test_a_card_holds_a_code_that_reproduces_the_answer() -> None:
    person = volunteer_app()
    await person.start()
    await person.press("Xizang")
    result = await person.answer_to_result("2027")
    card = await person.press("Answer card with check code")
    code = CODE.search(card.text).group(1)
    assert "4 months. Your insurance pays from May 1, 2027" in card.text
    explained = await person.say(f"/explain {code}")
    assert "This code is valid" in explained.text
    assert "4 months. Your insurance pays from May 1, 2027" in explained.text
    cap = "132,000 yuan, 8,000 yuan below the usual 140,000 yuan"
    assert cap in result and cap in explained.text
    bad = await person.say("/explain ZZZZZZ-ZZZZ")
    assert bad.text == render_macro("messages.j2", "text", "en", "bad_code")


def test_a_code_from_older_rules_says_what_differs(tmp_path: Path) -> None:
    overrides = tmp_path / "older.yaml"
    overrides.write_text(
        "xizang:\n  waiting.fixed_months: 4\n  cap.step: 5000\n  cap.penalty_step: 5000\n",
        encoding="utf-8",
    )
    older = load_policies(overrides)
    profile = Profile(region="xizang", benefit_year=2027, today=dt.date(2026, 11, 23))
    code = encode(profile, assess(profile, older))
    text = explain_text(code, load_policies(), "en")
    assert f"rules version {older.version}" in text and load_policies().version in text
    assert "Waiting period then: 5 months; now: 4 months." in text
    assert "Cap change then: -10,000 yuan; now: -8,000 yuan." in text


@pytest.mark.parametrize(
    "profile",
    [
        Profile(
            region="tianjin",
            benefit_year=2029,
            coverage={2025: "employee", 2026: "none", 2027: "resident", 2028: "resident"},
            payment_date=dt.date(2029, 2, 28),
            repair_years=2,
            zero_claim_years=[2027],
            incentive_used_years=[2028],
            today=dt.date(2029, 2, 1),
        ),
        Profile(
            region="shanxi",
            benefit_year=2026,
            group="newborn",
            birth_date=dt.date(2025, 12, 1),
            today=dt.date(2025, 12, 20),
        ),
        Profile(region="national", benefit_year=2039, today=dt.date(2038, 10, 1)),
    ],
)
def test_codes_round_trip_every_fact(profile: Profile) -> None:
    def facts(p: Profile) -> dict:
        # A year absent from coverage and a year marked "none" mean the same.
        return {**p.model_dump(), "coverage": {y: k for y, k in p.coverage.items() if k != "none"}}

    decoded = decode(encode(profile, assess(profile, load_policies())))
    assert facts(decoded.profile) == facts(profile)


@pytest.mark.parametrize("typo", ["", "hello", "040GVQ-67F43G", "040GVQ-67F43G-400000-20MF00"])
def test_mistyped_codes_are_refused(typo: str) -> None:
    with pytest.raises(InvalidCode):
        decode(typo)


def test_yibao_explain_prints_the_same_answer() -> None:
    key = secrets.token_urlsafe(32)  # as `yibao card-key` makes one
    keys = Keyring(tuple(parse_card_keys(key)))
    profile = Profile(region="xizang", benefit_year=2027, today=dt.date(2026, 11, 23))
    card = card_text(profile, assess(profile, load_policies()), "en", keys)
    code = CODE.search(card).group(1)
    yibao = Path(sys.executable).with_name("yibao")
    env = {**os.environ, "CARD_KEYS": key}
    done = subprocess.run(
        [str(yibao), "explain", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "This code is valid" in done.stdout and "May 1, 2027" in done.stdout
    wrong = subprocess.run(
        [str(yibao), "explain", "NOT-A-CODE"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert wrong.returncode == 2 and "check code" in wrong.stderr
