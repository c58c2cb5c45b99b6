"""The campaign figures count a person once a day, and volunteer rights hold only while given."""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

from fakes.session import Person, make_person

from bot.app import SQLITE_FILE
from bot.settings import Settings

VOLUNTEER = 60_606_061
PERSON = 70_707_071


def app(tmp_path: Path, user_id: int, **settings: object) -> Person:
    config = Settings(_env_file=None, data_dir=tmp_path, **settings)
    return make_person(config, memory=False, user_id=user_id)  # SQLite, as `yibao run` keeps it


async def to_result(person: Person, *, region: str | None = "Tianjin") -> str:
    if region:
        await person.press(region)
    return await person.answer_to_result(str(dt.date.today().year + 1))


async def answers_today(person: Person) -> int:
    today = dt.date.today()
    rows = await person.dispatcher["campaign"].counts(today, today)
    return sum(row.count for row in rows if row.outcome == "answers")


async def test_changing_answers_and_looking_again_counts_one_person_once(tmp_path: Path) -> None:
    person = app(tmp_path, PERSON)
    await person.start()
    await to_result(person)
    for _ in range(20):
        await person.press("Change my answers")
        assert "Show my result" in person.buttons()
        await person.press("Show my result")
    assert await answers_today(person) == 1


async def test_the_day_tags_hold_no_user_id(tmp_path: Path) -> None:
    person = app(tmp_path, PERSON)
    await person.start()
    await to_result(person)
    with closing(sqlite3.connect(tmp_path / SQLITE_FILE)) as conn:
        tags = conn.execute("SELECT day, tag FROM campaign_seen").fetchall()
    assert len(tags) == 1
    assert str(PERSON) not in repr(tags)
    campaign = person.dispatcher["campaign"]
    today = dt.date.today()
    # A new day, a new key: the same person's tags cannot be linked across days.
    assert campaign.tag(f"{PERSON}:", today) != campaign.tag(
        f"{PERSON}:", today.replace(day=1) - dt.timedelta(days=1)
    )


async def test_each_person_a_volunteer_serves_counts_once(tmp_path: Path) -> None:
    volunteer = app(tmp_path, VOLUNTEER, volunteer_ids=[VOLUNTEER])
    await volunteer.start()
    await volunteer.say("/volunteer")
    await to_result(volunteer)
    await volunteer.press("Why?")
    await volunteer.press("Back to my result")  # the same person looking again
    for _ in range(2):
        await volunteer.press("Next person »")
        await to_result(volunteer, region=None)  # the region is kept for the next person
    assert await answers_today(volunteer) == 3


async def test_a_volunteer_removed_from_the_setting_loses_the_mode_at_the_next_press(
    tmp_path: Path,
) -> None:
    before = app(tmp_path, VOLUNTEER, volunteer_ids=[VOLUNTEER])
    await before.start()
    await before.say("/volunteer")
    await to_result(before)
    assert "Next person »" in before.buttons()
    result = before.last
    [next_person] = [
        b.callback_data
        for row in result.reply_markup.inline_keyboard
        for b in row
        if b.text == "Next person »"
    ]
    # The deployer removes them from VOLUNTEER_IDS and restarts; the state file stays.
    after = app(tmp_path, VOLUNTEER, volunteer_ids=[])
    refused = await after.press_data(next_person, result)
    assert "For which year" not in refused.text  # no new person's survey
    await after.press("Change my answers")
    result = await after.press("Show my result")
    assert "Next person »" not in after.buttons()
    assert "Change my answers" in after.buttons() and result.text
