"""The survey as a person meets it: questions, bad input, back, edits, answers and reasons."""

from __future__ import annotations

import datetime as dt

import pytest
from aiogram.types import Location
from fakes.session import Person, make_person

THIS_YEAR = dt.date.today().year


@pytest.fixture
def person() -> Person:
    return make_person()


async def answer_xizang_two_breaks(person: Person, *, repair: str | None = "None") -> None:
    await person.start()
    await person.press("Xizang")
    await person.say("2027")
    await person.press("None")  # no insurance now
    await person.press("None of these")
    assert "Which years did you pay for?" in person.last.text
    await person.press("Done")  # 2025 and 2026 unpaid
    await person.press("Within the payment period")
    if repair:
        await person.press(repair)


async def test_xizang_two_break_years_gives_4_months_from_1_may(person: Person) -> None:
    await answer_xizang_two_breaks(person)
    assert "Your answers" in person.last.text and "Years paid: none" in person.last.text
    result = await person.press("Show my result")
    assert (
        "Waiting period (待遇等待期): 4 months. Your insurance pays from May 1, 2027."
        in result.text
    )
    assert "1 year: wait 3 months, from April 1, 2027" in result.text
    assert "132,000 yuan, 8,000 yuan below the usual 140,000 yuan" in result.text
    assert "What to do next" in result.text and "12393" in result.text
    why = await person.press("Why?")
    assert "[Xizang 一(三)]" in why.text and "Variable waiting period" in why.text
    assert "break years: -8,000 yuan" in why.text and "2032: 140,000 yuan" in why.text


async def test_repairing_the_useful_year_shortens_the_wait(person: Person) -> None:
    await answer_xizang_two_breaks(person, repair="1 year")
    result = await person.press("Show my result")
    assert "3 months. Your insurance pays from April 1, 2027." in result.text


async def test_an_exempt_newborn_is_not_asked_about_breaks(person: Person) -> None:
    await person.start()
    await person.press("Shanxi")
    await person.say("2027")
    await person.press("None")
    await person.press("Newborn")
    await person.say("2026-11-02" if THIS_YEAR >= 2026 else f"{THIS_YEAR}-01-01")
    assert "When is or was the premium" in person.last.text
    asked = "\n".join(person.texts)
    assert "Which years did you pay for?" not in asked


async def test_free_text_at_a_button_question_keeps_the_question(person: Person) -> None:
    await person.start()
    await person.press("Tianjin")
    before = person.last.text
    for junk in ("hello", "😀🙏", "x" * 4096, "2031", "20"):
        await person.say(junk)
        assert person.last.text == before, junk
    complaint = person.texts[-2]
    assert "year" in complaint.lower()


async def test_a_photo_or_location_gets_a_clear_reply(person: Person) -> None:
    await person.start()
    await person.send(location=Location(latitude=29.65, longitude=91.1))
    assert "I can only read text and buttons here." in person.texts[-2]
    assert "Where are you insured" in person.last.text


async def test_a_forged_or_stale_button_changes_nothing(person: Person) -> None:
    await person.start()
    await person.press("Chongqing")
    await person.press_data("p:region:mars")
    assert "earlier question" in person.texts[-2]
    assert "For which year" in person.last.text
    await person.press_data("p:repair_years:9")
    await person.press_data("n:whatif_repair")
    await person.press_data("garbage-data")
    assert "For which year" in person.last.text


async def test_dates_are_read_in_several_forms(person: Person) -> None:
    await person.start()
    await person.press("Tianjin")
    await person.say("2027")
    await person.press("Resident insurance")
    await person.press("None of these")
    await person.press("Done")  # all years paid
    assert "Was the premium for 2026 paid late" in person.last.text
    await person.press("No, on time")
    await person.say("not a date")
    assert "could not read that date" in person.texts[-2]
    await person.say("2025-01-01")
    assert "paid in 2026 or 2027" in person.texts[-2]
    await person.say("15.03.2027")
    assert "pay nothing for you" in person.last.text
    summary = await person.press("Done")
    assert "Payment: March 15, 2027" in summary.text
    result = await person.press("Show my result")
    assert "3 months. Your insurance pays from June 15, 2027." in result.text


async def test_back_returns_to_the_previous_question(person: Person) -> None:
    await person.start()
    await person.press("Xizang")
    await person.say("2027")
    await person.press("« Back")
    assert "For which year" in person.last.text
    await person.say("2026")
    assert "Which basic medical insurance" in person.last.text


async def test_an_answer_can_be_edited_from_the_summary(person: Person) -> None:
    await answer_xizang_two_breaks(person)
    await person.press("✎ Region")
    assert "Where are you insured" in person.last.text
    await person.press("Tianjin")
    assert "How many years would you pay for?" in person.last.text, "repair depends on the region"
    await person.press("None")
    assert "Your answers" in person.last.text and "Region: Tianjin" in person.last.text
    result = await person.press("Show my result")
    assert "(Tianjin)" in result.text
    assert "2,000 yuan below your region's original cap" in result.text
    assert " 0 yuan" not in result.text  # an unknown base never reads as a cap of zero


async def test_what_ifs_are_hypotheses_and_leave_the_answers_as_they_are(person: Person) -> None:
    await answer_xizang_two_breaks(person)
    await person.press("Show my result")
    repaired = await person.press("What if I repair one more year?")
    assert "only a hypothesis" in repaired.text
    assert "Then the wait would be 3 months, with benefits from April 1, 2027" in repaired.text
    assert "Your answer as it is: 4 months, from May 1, 2027" in repaired.text
    back = await person.press("« Back to my answer")
    assert "4 months. Your insurance pays from May 1, 2027." in back.text
    paid = await person.press("What if I had paid one more year?")
    assert "What if you had paid for 2026 too?" in paid.text
    assert "no waiting period: you would be covered from January 1, 2027" in paid.text
    assert "Your critical-illness cap would be 136,000 yuan" in paid.text
    back = await person.press("« Back to my answer")
    assert "4 months. Your insurance pays from May 1, 2027." in back.text
    summary = await person.press("Change my answers")
    assert "Years paid: none" in summary.text and "Years repaired: None" in summary.text


async def test_no_cover_this_year_is_said_plainly(person: Person) -> None:
    await person.start()
    await person.press("Xizang")
    await person.say("2027")
    await person.press("None")
    await person.press("None of these")
    await person.press("Done")
    await person.say("2027-10-20")
    # Xizang's text gives no payment period: the answer depends on the person's word.
    verb = "Will you pay" if dt.date(2027, 10, 20) > dt.date.today() else "Did you pay"
    assert f"{verb} within the payment period your area announced?" in person.last.text
    await person.press("No, outside it")
    await person.press("None")  # no repair
    result = await person.press("Show my result")
    assert "no cover in 2027" in result.text
    assert "pay for 2028 in the current payment period" in result.text
    assert "Remind me when my waiting period ends" not in person.buttons()


async def test_chongqing_answer_says_it_is_a_draft(person: Person) -> None:
    await person.start()
    await person.press("Chongqing")
    await person.say("2027")
    await person.press("Employee insurance")
    await person.press("None of these")
    await person.press("Done")  # paid 2025 and 2026
    await person.press("No, on time")
    await person.press("Within the payment period")
    await person.press("Done")  # no zero-claim years
    # The summary says what was paid, not the button's "No" (read alone, it says "not paid").
    assert "Last year's payment: Paid on time" in person.last.text
    result = await person.press("Show my result")
    assert "draft for comment" in result.text and "No waiting period" in result.text


async def test_xizang_medical_aid_path(person: Person) -> None:
    await answer_xizang_two_breaks(person)
    await person.press("Show my result")
    await person.press("Medical aid")
    await person.press("Minimum living allowance household")
    await person.press("Hospital stay")
    await person.say("20,000")
    aid = person.last.text
    assert "95% of your self-paid costs" in aid and "19,000 yuan" in aid and "五(五)1" in aid
    result = await person.press("Back to my result")
    assert "Waiting period (待遇等待期): 4 months" in result.text


async def test_help_about_and_forget(person: Person) -> None:
    assert "/forget" in (await person.say("/help")).text
    about = await person.say("/about")
    assert "藏医保〔2025〕31号" in about.text and "draft for comment" in about.text
    await answer_xizang_two_breaks(person)
    storage = person.dispatcher.storage
    assert storage.storage, "answers are kept during the survey"
    forgotten = await person.say("/forget")
    assert "erased" in forgotten.text
    assert not any(record.data or record.state for record in storage.storage.values())
    # The way on is a button (a web page has no command line to type /start in).
    assert person.buttons() == ["Start over"]
    again = await person.press("Start over")
    assert "Where are you insured" in again.text


def test_stored_answers_are_checked_by_pydantic() -> None:
    from bot.survey import InvalidAnswer, validate_answers

    validate_answers(
        {
            "region": "xizang",
            "benefit_year": "2027",
            "paid_years": ["2025"],
            "payment": "2027-03-01",
            "repair_years": 1,
        }
    )
    for bad in (
        {"region": "mars"},
        {"benefit_year": "1999"},
        {"payment": "soon"},
        {"paid_years": ["20x5"]},
        {"repair_years": -1},
        {"name": "Zhang San"},
    ):
        with pytest.raises(InvalidAnswer):
            validate_answers(bad)


async def _xizang_unpaid_paying_on(person: Person, paid_on: dt.date) -> str:
    """Xizang (its text gives no payment period), next year, 2 missed years, paid on a date;
    returns the in-period question as asked."""
    await person.start()
    await person.press("Xizang")
    await person.say(str(THIS_YEAR + 1))
    await person.press("None")
    await person.press("None of these")
    await person.press("Done")  # no year paid
    await person.say(paid_on.isoformat())
    return person.last.text


async def test_the_in_period_question_asks_in_the_future_for_a_payment_still_to_come(
    person: Person,
) -> None:
    today = dt.date.today()
    later = today + dt.timedelta(days=20)
    asked = await _xizang_unpaid_paying_on(person, later)
    assert "Will you pay within the payment period your area announced?" in asked
    assert "Did you pay" not in asked
    earlier = make_person(user_id=78)
    past = max(today - dt.timedelta(days=5), dt.date(THIS_YEAR, 1, 1))
    asked = await _xizang_unpaid_paying_on(earlier, past)
    assert "Did you pay within the payment period your area announced?" in asked


async def test_a_what_if_with_the_payment_period_unknown_shows_both_outcomes(
    person: Person,
) -> None:
    """Not knowing whether the payment fell in the period, the answer gives both outcomes; a
    what-if must too, or it reads as if only the later one held."""
    # Paid on 10 January of the benefit year: outside the period the wait runs from that day,
    # inside it from 1 January; the answer gives the later one and names the other.
    await _xizang_unpaid_paying_on(person, dt.date(THIS_YEAR + 1, 1, 10))
    await person.press("I am not sure")
    await person.press("None")  # no repair
    result = await person.press("Show my result")
    assert "If you paid within your area's payment period" in result.text
    paid = await person.press("What if I had paid one more year?")
    assert f"What if you had paid for {THIS_YEAR} too?" in paid.text
    then, _, as_is = paid.text.partition("Your answer as it is")
    # The hypothesis: paid outside the period, the fixed 3 months from the payment day; inside,
    # no wait at all (no break year left just before the benefit year).
    assert "Then the wait would be 3 months, with benefits from" in then
    assert "If you paid within your area's payment period: no waiting period" in then
    # The answer as it is, with its other outcome too (two break years: 4 months inside).
    assert "If you paid within your area's payment period: 4 months" in as_is


async def test_help_mid_survey_shows_the_question_again_below_it(person: Person) -> None:
    await person.start()
    await person.press("Xizang")
    asked = person.last.text
    await person.say("/help")
    texts = [m.text for m in list(person.session.messages.values())[-2:]]
    assert "/start" in texts[0]  # the help, with the commands
    assert texts[1] == asked  # then the question it interrupted, with its buttons
    assert "2027" in person.buttons()
    await person.say("2027")  # and the answer goes on from there
    assert "Which basic medical insurance" in person.last.text
