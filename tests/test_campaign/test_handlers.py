"""/stats for admins only, and the reminder opt-in, through a real Dispatcher."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from fakes.session import Person, RecordingSession

from bot.app import create_dispatcher, create_storage
from bot.campaign import CampaignStore, Remind, reminder_due, reminder_options, setup_campaign
from bot.campaign.store import send_time
from bot.settings import Settings
from bot.survey import Context, evaluate
from rules import load_policies

ADMIN = 1
CITIZEN = 77
NEXT_YEAR = str(dt.date.today().year + 1)
ANSWERS = {
    "region": "tianjin",
    "benefit_year": NEXT_YEAR,
    "insurance": "none",
    "group": "none",
    "paid_years": [],
    "payment": "period",
}


@dataclass
class App:
    dispatcher: Dispatcher
    bot: Bot
    session: RecordingSession
    campaign: CampaignStore

    def person(self, user_id: int) -> Person:
        return Person(self.dispatcher, self.bot, self.session, user_id=user_id)


@pytest.fixture(params=["memory", "sqlite"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[App]:
    settings = Settings(_env_file=None, admin_ids=[ADMIN], data_dir=tmp_path)
    storage = create_storage(settings, memory=request.param == "memory")
    dispatcher = create_dispatcher(settings, storage)  # sets up the campaign tools too
    session = RecordingSession()
    yield App(dispatcher, Bot("1:TEST", session=session), session, dispatcher["campaign"])
    await dispatcher["campaign"].close()
    await storage.close()


async def test_stats_is_refused_to_everyone_but_admins(app: App) -> None:
    today = dt.date.today()
    await app.campaign.record_answer(today, "tianjin", "en", ["wait_4", "cap_down", "answers"])

    refused = await app.person(CITIZEN).say("/stats")
    assert refused.text == "Sorry, I don't know that command. Send /help to see what I can do."

    shown = await app.person(ADMIN).say("/stats")
    assert shown.text.startswith("Today, ")
    assert shown.text.count("Answers: 1") == 2  # today, and the campaign so far
    assert "wait of 4 months: 1" in shown.text and "cap falls: 1" in shown.text
    assert "By region: Tianjin 1" in shown.text and "By language: English 1" in shown.text


async def test_setting_up_twice_adds_nothing(app: App) -> None:
    routers = len(app.dispatcher.sub_routers)
    setup_campaign(app.dispatcher, Settings(_env_file=None), app.dispatcher.storage)
    assert len(app.dispatcher.sub_routers) == routers
    assert app.dispatcher.sub_routers[0].name == "campaign"


async def _with_answers(app: App, person: Person, answers: dict[str, object]) -> None:
    state = app.dispatcher.fsm.get_context(app.bot, chat_id=person.chat.id, user_id=person.user.id)
    await state.set_data({"locale": "en", "mode": "result", "answers": answers})


async def test_pressing_remind_stores_one_reminder_and_confirms_with_the_date(app: App) -> None:
    person = app.person(CITIZEN)
    await _with_answers(app, person, ANSWERS)
    await person.say("/stats")  # any message to press the button under
    today = dt.date.today()
    assessment = evaluate(ANSWERS, Context(today=today, policies=load_policies()))
    due = reminder_due("wait_ends", assessment, today)

    confirmed = await person.press_data(Remind(kind="wait_ends").pack())
    assert confirmed.text.startswith("Done: I will remind you on ")
    assert str(due.year) in confirmed.text and "/forget" in confirmed.text
    await person.press_data(Remind(kind="wait_ends").pack())  # twice is still one

    (reminder,) = await app.campaign.due_reminders(send_time(due), 10)
    assert (reminder.user_id, reminder.chat_id, reminder.kind, reminder.due) == (
        CITIZEN,
        CITIZEN,
        "wait_ends",
        due,
    )
    assert reminder.locale == "en" and reminder.payload == {"benefit_year": int(NEXT_YEAR)}

    if "period_closing" in reminder_options(assessment, today):
        await person.press_data(Remind(kind="period_closing").pack())
        closing = reminder_due("period_closing", assessment, today)
        assert "the payment period ends on December 31" in person.last.text
        kinds = {r.kind for r in await app.campaign.due_reminders(send_time(due), 10)}
        assert kinds == {"wait_ends", "period_closing"}
        assert closing < due


async def test_remind_without_a_fitting_answer_stores_nothing(app: App) -> None:
    person = app.person(CITIZEN)
    await person.say("/stats")
    await person.press_data(Remind(kind="wait_ends").pack())
    assert person.last.text.startswith("This reminder does not fit your current answer.")

    exempt = {**ANSWERS, "group": "newborn", "birth_date": dt.date.today().isoformat()}
    await _with_answers(app, person, exempt)
    await person.press_data(Remind(kind="wait_ends").pack())
    assert person.last.text.startswith("This reminder does not fit your current answer.")
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=800)
    assert await app.campaign.due_reminders(far, 10) == []
