"""Typing works as people type: digits of any script, 万 amounts, dates, and option labels."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from aiogram.fsm.storage.base import StorageKey
from fakes.session import Person, make_person

from bot.parsing import (
    InvalidAnswer,
    normalize_label,
    parse_date,
    parse_number,
    parse_option,
    parse_year,
    to_ascii,
)
from bot.render import render_macro
from bot.survey import BY_ID, Context, example_date, parse_text
from rules import load_policies

TODAY = dt.date.today()
THIS_YEAR = TODAY.year
POLICIES = load_policies()


def ctx(today: dt.date = TODAY) -> Context:
    return Context(today=today, policies=POLICIES)


# ---------------------------------------------------------------------------------------
# The parsers


def test_digits_of_any_script_become_ascii() -> None:
    assert to_ascii("༢༠༢༧") == to_ascii("２０２７") == "2027"
    assert to_ascii("１５．０３．２０２７") == "15.03.2027"
    assert to_ascii("２０２７／３／１５　") == "2027/3/15 "
    assert to_ascii("山西 ༡") == "山西 1"


@pytest.mark.parametrize("text", ["2027", "༢༠༢༧", "２０２７", "2027年", " 2027 年 ", "སྤྱི་ལོ་༢༠༢༧"])
def test_years(text: str) -> None:
    assert parse_year(text) == 2027


@pytest.mark.parametrize("text", ["", "27", "20277", "year 2027", "2027-03", "二〇二七"])
def test_not_years(text: str) -> None:
    with pytest.raises(InvalidAnswer) as error:
        parse_year(text)
    assert error.value.reason == "not_a_year"


@pytest.mark.parametrize(
    "text",
    [
        "2027-03-15",
        "15.03.2027",
        "2027/3/15",
        "15/03/2027",
        "2027.03.15",
        "１５．０３．２０２７",
        "２０２７－０３－１５",
        "２０２７／３／１５",
        "2027年3月15日",
        "２０２７年３月１５日",
        "2027 年 3 月 15 号",
        "༢༠༢༧-༠༣-༡༥",
        "༡༥.༠༣.༢༠༢༧",
    ],
)
def test_dates(text: str) -> None:
    assert parse_date(text) == dt.date(2027, 3, 15)


@pytest.mark.parametrize("text", ["", "2027-02-30", "15.03.27", "March 15", "2027年13月1日"])
def test_not_dates(text: str) -> None:
    with pytest.raises(InvalidAnswer) as error:
        parse_date(text)
    assert error.value.reason == "not_a_date"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12000", 12000),
        ("12,000", 12000),
        ("12 000 元", 12000),
        ("¥12,000", 12000),
        ("１２，０００", 12000),
        ("༡༢༠༠༠", 12000),
        ("སྒོར་མོ་ ༡༢༠༠༠", 12000),
        ("2万", 20000),
        ("２万", 20000),
        ("2.5万", 25000),
        ("２．５万元", 25000),
        ("1万2千", 12000),
        ("1万2000", 12000),
        ("3千", 3000),
        ("1.5千", 1500),
        ("0", 0),
    ],
)
def test_numbers(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text", ["", "abc", "12.5", "12.000", "2.00005万", "1万2", "2千3万", "万", "1" * 13]
)
def test_not_numbers(text: str) -> None:
    with pytest.raises(InvalidAnswer) as error:
        parse_number(text)
    assert error.value.reason == "not_a_number"


def test_labels_compare_without_case_width_space_or_punctuation() -> None:
    assert normalize_label(" ＳＨＡＮＸＩ! ") == normalize_label("Shanxi") == "shanxi"
    assert normalize_label("ཁྲུང་ཆིང་།") == normalize_label("ཁྲུང་ཆིང") == "ཁྲུང་ཆིང"
    assert normalize_label("1 年") == normalize_label("1年")


def test_an_option_by_its_label() -> None:
    labels = [
        {"newborn": "Newborn (under 90 days)", "infant": "Baby under one year"},
        {"newborn": "新生儿（出生 90 天内）", "infant": "不满一周岁的婴儿"},
    ]
    assert parse_option("newborn (under 90 days)", labels) == "newborn"
    assert parse_option("Newborn", labels) == "newborn"  # without the explanation in brackets
    assert parse_option("新生儿", labels) == "newborn"  # the other language
    assert parse_option("baby", labels) is None
    assert parse_option("   ", labels) is None


# ---------------------------------------------------------------------------------------
# parse_text: options, years, examples


@pytest.mark.parametrize(
    ("locale", "typed", "option"),
    [
        ("en", "shanxi", "shanxi"),
        ("en", "  Shanxi. ", "shanxi"),
        ("en", "ｓｈａｎｘｉ", "shanxi"),
        ("zh_Hans", "山西", "shanxi"),
        ("zh_Hans", "山西。", "shanxi"),
        ("bo", "བོད་ལྗོངས", "xizang"),
        ("en", "another region", "national"),
        ("en", "西藏", "xizang"),  # a Chinese name, typed in the English interface
    ],
)
def test_a_region_typed_by_its_label(locale: str, typed: str, option: str) -> None:
    question = BY_ID["region"]
    assert parse_text(question, typed, {}, ctx(), locale=locale) == option
    label = render_macro("questions.j2", "option", locale, "region", option)
    assert parse_text(question, label, {}, ctx(), locale=locale) == option


def test_each_choice_option_by_its_label_in_each_language() -> None:
    answers = {"region": "xizang", "benefit_year": str(THIS_YEAR + 1)}
    for qid in ("region", "insurance", "group", "aid_class", "aid_expense"):
        question = BY_ID[qid]
        for option in question.options(answers, ctx()):
            for locale in ("en", "zh_Hans", "bo"):
                label = render_macro("questions.j2", "option", locale, qid, option)
                value = parse_text(question, f" {label.upper()} ", answers, ctx(), locale=locale)
                assert value == option, (qid, option, locale, label)


def test_repair_years_by_label_or_number_are_stored_as_pressed() -> None:
    question = BY_ID["repair_years"]
    answers = {
        "region": "xizang",
        "benefit_year": "2027",
        "insurance": "none",
        "group": "none",
        "paid_years": [],
        "payment": "period",
    }
    today = ctx(dt.date(2026, 11, 23))
    assert question.options(answers, today) == ("0", "1")
    assert parse_text(question, "1 year", answers, today) == 1
    assert parse_text(question, "༡", answers, today, locale="bo") == 1
    assert parse_text(question, "无", answers, today, locale="zh_Hans") == 0
    with pytest.raises(InvalidAnswer) as error:
        parse_text(question, "2 years", answers, today)  # not offered
    assert error.value.reason == "use_buttons"


@pytest.mark.parametrize("text", ["hello", "Shanxi province", "2027", ""])
def test_anything_else_at_a_choice_still_asks_for_the_buttons(text: str) -> None:
    with pytest.raises(InvalidAnswer) as error:
        parse_text(BY_ID["region"], text, {}, ctx(), locale="en")
    assert error.value.reason == "use_buttons"


@pytest.mark.parametrize("text", ["༢༠༢༧", "２０２７", "2027年"])
def test_a_benefit_year_in_any_digits(text: str) -> None:
    today = ctx(dt.date(2026, 11, 29))
    assert parse_text(BY_ID["benefit_year"], text, {}, today) == "2027"


def test_a_year_error_lists_only_the_years_offered() -> None:
    today = ctx(dt.date(2026, 11, 29))
    question = BY_ID["benefit_year"]
    for text, reason in (("2031", "year_out_of_range"), ("soon", "not_a_year")):
        with pytest.raises(InvalidAnswer) as error:
            parse_text(question, text, {}, today)
        assert error.value.reason == reason
        assert error.value.values["years"] == ("2026", "2027")
        reply = render_macro("questions.j2", "invalid", "en", reason, error.value.values)
        assert "2026 or 2027" in reply and "2025" not in reply, reply


@pytest.mark.parametrize(
    "today",
    [dt.date(2026, 1, 1), dt.date(2026, 11, 29), dt.date(2026, 12, 31), dt.date(2028, 2, 29)],
)
def test_example_dates_are_accepted_by_their_question(today: dt.date) -> None:
    here = ctx(today)
    birth = example_date("birth_date", {}, here)
    assert birth is not None
    assert parse_text(BY_ID["birth_date"], birth, {}, here) == birth
    for year in {2025, today.year, today.year + 1}:
        answers = {"benefit_year": str(year)}
        payment = example_date("payment", answers, here)
        assert payment is not None
        assert parse_text(BY_ID["payment"], payment, answers, here) == payment
    assert example_date("region", {}, here) is None


# ---------------------------------------------------------------------------------------
# Through the real Dispatcher


@pytest.fixture
def person() -> Person:
    return make_person()


def prompt(locale: str, qid: str, answers: dict[str, str] | None = None) -> str:
    return render_macro("questions.j2", "prompt", locale, qid, answers or {})


@pytest.mark.parametrize(
    ("client", "language", "locale", "typed", "region"),
    [
        ("en", "English", "en", "  shanxi ", "shanxi"),
        ("zh-hans", "中文", "zh_Hans", "天津", "tianjin"),
        ("bo", "བོད་ཡིག", "bo", "བོད་ལྗོངས", "xizang"),
    ],
)
async def test_a_region_typed_by_its_label_is_as_pressing_it(
    client: str, language: str, locale: str, typed: str, region: str
) -> None:
    person = make_person(language=client)
    await person.start(language)
    assert person.last.text == prompt(locale, "region")
    await person.say(typed)
    assert person.last.text == prompt(locale, "benefit_year"), person.texts[-2:]
    await person.say("༢༠༢༧" if locale == "bo" else "２０２７")
    assert person.last.text == prompt(locale, "insurance")
    storage = person.dispatcher.fsm.storage
    key = StorageKey(bot_id=person.bot.id, chat_id=person.chat.id, user_id=person.user.id)
    assert (await storage.get_data(key))["answers"] == {"region": region, "benefit_year": "2027"}


async def test_a_survey_typed_instead_of_pressed_ends_where_pressing_does() -> None:
    pressed, typed = make_person(user_id=1), make_person(user_id=2)
    await pressed.start()
    await typed.start()
    for label in ("Xizang", "2027", "None", "None of these"):
        if label == "2027":
            await pressed.say(label)
            await typed.say("２０２７年")
        else:
            await pressed.press(label)
            await typed.say(f" {label.lower()}. ")
        assert typed.last.text == pressed.last.text, label
    for person in (pressed, typed):
        await person.press("Done")
        await person.press("Within the payment period")
    await pressed.press("None")
    await typed.say("NONE")
    assert "Your answers" in typed.last.text
    assert typed.last.text == pressed.last.text


async def test_the_year_error_lists_the_offered_years(person: Person) -> None:
    await person.start()
    await person.press("Tianjin")
    await person.say(str(THIS_YEAR + 5))
    complaint = person.texts[-2]
    assert f"{THIS_YEAR} or {THIS_YEAR + 1}" in complaint
    assert str(THIS_YEAR - 1) not in complaint and str(THIS_YEAR + 5) not in complaint


def _example(text: str) -> str:
    match = re.search(r"for example (\d{4}-\d{2}-\d{2})", text)
    assert match, text
    return match[1]


async def test_the_prompts_show_an_example_the_question_accepts(person: Person) -> None:
    await person.start()
    await person.press("Shanxi")
    await person.say(str(THIS_YEAR + 1))
    await person.press("None")
    await person.press("Newborn")
    example = _example(person.last.text)
    day = dt.date.fromisoformat(example)
    assert TODAY - dt.timedelta(days=2 * 366) <= day <= TODAY
    assert day.strftime("%d.%m.%Y") in person.last.text
    await person.say(example)
    assert "When is or was the premium" in person.last.text, person.texts[-2:]
    example = _example(person.last.text)
    assert int(example[:4]) in (THIS_YEAR, THIS_YEAR + 1)
    await person.say(example)
    assert "When is or was the premium" not in person.last.text, person.texts[-2:]
