"""Scripted walks per region and language through the real Dispatcher: what a citizen is asked,
what the answer says first, what to do next, and that a what-if never changes their facts.

The walks press buttons by their data (the same in every language) and read the answers in the
person's language.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from fakes.session import Person, make_person

from bot.keyboards import Lang, Nav, Pick

TODAY = dt.date.today()
NEXT = TODAY.year + 1
LOCALES = ("en", "zh_Hans", "bo")
REGIONS = ("xizang", "shanxi", "chongqing", "tianjin", "national")
# A lone 0 as an amount: what an unknown regional cap used to look like ("Change: 0 yuan").
ZERO_AMOUNT = re.compile(r"(?<![\d.,/-])0(?![\d.,/-])")


def buttons(person: Person) -> list[str]:
    """The callback data of the last message's buttons."""
    markup = person.last.reply_markup
    rows = markup.inline_keyboard if markup else []
    return [b.callback_data or "" for row in rows for b in row]


def question(person: Person) -> str | None:
    """The id of the question the last message asks (from its buttons' data), if any."""
    for data in buttons(person):
        if data.startswith("p:"):
            return data.split(":")[1]
    return None


async def data(person: Person) -> dict[str, Any]:
    key = StorageKey(bot_id=person.bot.id, chat_id=person.chat.id, user_id=person.user.id)
    return await person.dispatcher.storage.get_data(key)


async def pick(person: Person, q: str, v: object) -> None:
    assert question(person) == q, (q, person.last.text)
    await person.press_data(Pick(q=q, v=str(v)).pack())


async def nav(person: Person, action: str) -> None:
    """Press the last message's `action` button (Back and Done name their question), or send
    the press by hand when that message has none."""
    shown = [d for d in buttons(person) if d.split(":")[:2] == ["n", action]]
    await person.press_data(shown[0] if shown else Nav(a=action).pack())


async def begin(person: Person, locale: str, region: str) -> None:
    await person.say("/start")
    await person.press_data(Lang(v=locale).pack())
    await pick(person, "region", region)
    await pick(person, "benefit_year", NEXT)


async def to_summary(person: Person) -> None:
    """The first option of every question left, Done for years, until the summary."""
    for _ in range(12):
        q = question(person)
        if q is None:
            return
        if q in ("paid_years", "zero_claim_years", "incentive_used_years"):
            await nav(person, "done")
        else:
            first = next(d for d in buttons(person) if d.startswith(f"p:{q}:"))
            await person.press_data(first)


async def nothing_paid(person: Person, locale: str, region: str) -> str:
    """No insurance now, none of the groups, no year paid, paid in the period: the answer."""
    await begin(person, locale, region)
    await pick(person, "insurance", "none")
    await pick(person, "group", "none")
    await nav(person, "done")
    await pick(person, "payment", "period")
    await to_summary(person)
    await nav(person, "result")
    return person.last.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("region", REGIONS)
async def test_every_answer_says_what_to_do_next_and_never_shows_a_cap_of_zero(
    region: str, locale: str
) -> None:
    person = make_person()
    text = await nothing_paid(person, locale, region)
    assert "12393" in text, text  # the national medical-security hotline, in every answer
    assert not ZERO_AMOUNT.search(text), text
    assert len(text) < 1200, len(text)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("region", REGIONS)
async def test_what_ifs_leave_the_facts_as_they_are(region: str, locale: str) -> None:
    person = make_person()
    answer = await nothing_paid(person, locale, region)
    facts = (await data(person))["answers"]
    for action in ("whatif_repair", "whatif_paid"):
        await nav(person, action)
        hypothesis = person.last.text
        assert hypothesis != answer and "12393" not in hypothesis
        assert [Nav(a="result").pack()] == buttons(person), "only « Back to my answer"
        assert (await data(person))["answers"] == facts
        await nav(person, "result")
        assert person.last.text == answer
    await nav(person, "edit")
    assert (await data(person))["answers"] == facts


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_questions_the_answer_depends_on_are_asked_when_needed(locale: str) -> None:
    # Xizang does not say its payment period: a typed day of payment needs the person's word,
    # and a job change with last year insured needs the day the old insurance stopped.
    person = make_person()
    await begin(person, locale, "xizang")
    await pick(person, "insurance", "employee")
    await pick(person, "group", "job_change")
    await nav(person, "done")  # employee insurance: every year marked paid
    await pick(person, "late_year", "on_time")
    await person.say((TODAY + dt.timedelta(days=50)).isoformat())
    await pick(person, "in_period", "no")
    assert (await data(person))["q"] == "left_on"
    await person.say((TODAY - dt.timedelta(days=10)).isoformat())  # a gap under 3 months
    await to_summary(person)
    await nav(person, "result")
    assert (await data(person))["mode"] == "result"
    assert "12393" in person.last.text

    # Uninsured the years before: the gap is settled by the facts, so no day is asked.
    person = make_person()
    await begin(person, locale, "xizang")
    await pick(person, "insurance", "none")
    await pick(person, "group", "job_change")
    await nav(person, "done")
    await person.say(f"{NEXT}-03-15")
    await pick(person, "in_period", "no")
    assert (await data(person))["q"] != "left_on"


async def test_a_region_whose_text_gives_the_period_is_not_asked_about_it() -> None:
    person = make_person()
    await begin(person, "en", "tianjin")
    await pick(person, "insurance", "resident")
    await pick(person, "group", "none")
    await nav(person, "done")
    await pick(person, "late_year", "on_time")
    await person.say(f"{NEXT}-03-15")
    assert question(person) != "in_period"
    asked = "\n".join(person.texts)
    assert "payment period your area announced?" not in asked


async def test_a_baby_is_asked_the_day_of_payment_and_nothing_before_birth() -> None:
    person = make_person()
    await begin(person, "en", "shanxi")
    await pick(person, "insurance", "none")
    await pick(person, "group", "newborn")
    born = max(TODAY - dt.timedelta(days=20), dt.date(TODAY.year, 1, 1))  # this year
    await person.say(born.isoformat())
    assert question(person) == "payment"
    assert Pick(q="payment", v="period").pack() not in buttons(person)  # the day decides
    await person.say(TODAY.isoformat())
    await to_summary(person)
    asked = "\n".join(person.texts)
    assert "Which years did you pay for?" not in asked
    await nav(person, "result")
    assert "No waiting period" in person.last.text
    assert Nav(a="whatif_paid").pack() not in buttons(person)


NAMES = {
    ("tianjin", "zh_Hans"): ("天津", "中文"),
    ("xizang", "bo"): ("བོད་ལྗོངས", "བོད་ཡིག"),
    ("shanxi", "en"): ("Shanxi", "English"),
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("region", REGIONS)
async def test_a_deep_link_greets_with_region_and_language(region: str, locale: str) -> None:
    person = make_person(language="en")
    await person.say(f"/start {region}-{locale}")
    greeting = next(iter(person.session.messages.values()))
    assert [Nav(a="change_region").pack(), Nav(a="language").pack()] == [
        b.callback_data for row in greeting.reply_markup.inline_keyboard for b in row
    ]
    assert question(person) == "benefit_year"
    assert (await data(person))["answers"] == {"region": region}
    for name in NAMES.get((region, locale), ()):
        assert name in greeting.text, greeting.text


async def test_the_deep_link_greeting_lets_both_change() -> None:
    person = make_person(language="en")
    await person.say("/start tianjin-zh_Hans")
    greeting = next(m for m in person.session.messages.values() if "天津" in (m.text or ""))
    assert "中文" in greeting.text
    assert question(person) == "benefit_year"
    await person.press_data(Nav(a="change_region").pack(), greeting)
    assert question(person) == "region"
    await person.press_data(Nav(a="language").pack(), greeting)
    assert any(d.startswith("l:") for d in buttons(person))


async def test_the_first_aid_question_has_back_to_the_answer() -> None:
    person = make_person()
    answer = await nothing_paid(person, "en", "xizang")
    await nav(person, "aid")
    assert question(person) == "aid_class"
    assert Nav(a="back", q="aid_class").pack() in buttons(person)
    await nav(person, "back")
    assert person.last.text == answer
