"""The campaign tools inside a conversation: counted answers, /stats, reminders, /forget."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fakes.session import Person, make_person

from bot.settings import Settings

ADMIN = 42


def sqlite_person(tmp_path: Path, user_id: int) -> Person:
    settings = Settings(_env_file=None, admin_ids=[ADMIN], data_dir=tmp_path)
    return make_person(settings, memory=False, user_id=user_id)  # SQLite, like `run`


async def tianjin_two_breaks(person: Person) -> str:
    await person.start()
    await person.press("Tianjin")
    await person.say(str(dt.date.today().year + 1))
    await person.press("None")
    await person.press("None of these")
    await person.press("Done")
    await person.press("Within the payment period")
    await person.press("None")
    return (await person.press("Show my result")).text


async def test_an_answer_is_counted_once_and_admins_see_the_figures(tmp_path: Path) -> None:
    person = sqlite_person(tmp_path, ADMIN)
    await tianjin_two_breaks(person)
    await person.press("Why?")
    await person.press("Back to my result")  # shown again: not a new answer
    campaign = person.dispatcher["campaign"]
    today = dt.date.today()
    rows = {row.outcome: row.count for row in await campaign.counts(today, today)}
    assert rows["answers"] == 1 and rows["wait_4"] == 1 and rows["cap_down"] == 1
    stats = await person.say("/stats")
    assert "Answers: 1" in stats.text
    other = sqlite_person(tmp_path / "other", 7)
    refused = await other.say("/stats")
    assert "Answers" not in refused.text


async def test_a_reminder_is_kept_until_forget(tmp_path: Path) -> None:
    person = sqlite_person(tmp_path, 501)
    result = await tianjin_two_breaks(person)
    assert "Remind me when my waiting period ends" in person.buttons()
    confirmation = await person.press("Remind me when my waiting period ends")
    start = dt.date(dt.date.today().year + 1, 5, 1)
    assert "I will remind you" in confirmation.text and "pays from May 1" in result
    campaign = person.dispatcher["campaign"]
    due = await campaign.due_reminders(
        dt.datetime.combine(start, dt.time(23, 59), tzinfo=dt.UTC), 10
    )
    assert [(r.user_id, r.kind, r.due) for r in due] == [(501, "wait_ends", start)]
    await person.say("/forget")
    assert await campaign.due_reminders(dt.datetime(2100, 1, 1, tzinfo=dt.UTC), 10) == []
