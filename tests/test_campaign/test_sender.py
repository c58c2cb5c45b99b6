"""The reminder sender through a real aiogram Bot against the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from aiogram import Bot
from fakes.bot_api import Call, FakeBotAPI
from fakes.campaign_backends import Backend

from bot.app import create_dispatcher
from bot.campaign import CampaignStore, Reminder, run_reminders, setup_campaign
from bot.campaign.reminders import reminder_text
from bot.campaign.store import MemoryCampaignStore
from bot.settings import Settings
from bot.storage import SQLiteStorage

YESTERDAY = dt.date.today() - dt.timedelta(days=1)
FAR = dt.datetime.now(dt.UTC) + dt.timedelta(days=800)
PAYLOAD = {"benefit_year": 2027, "closes": "2026-12-31"}


def delivered(fake: FakeBotAPI, chat_id: int | None = None) -> list[str]:
    return [params["text"] for params in fake.sent_messages(chat_id)]


async def run_until(
    bot: Bot,
    store: CampaignStore,
    fake: FakeBotAPI,
    condition: Callable[[list[Call]], bool],
    *,
    rounds_after: float = 0.2,
    timeout: float = 10.0,
    **options: float,
) -> None:
    """Run the sender until `condition` holds, then a little longer, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_reminders(bot, store, stop=stop, interval=0.05, **options))
    try:
        await fake.wait_for(condition, timeout=timeout)
        await asyncio.sleep(rounds_after)  # more rounds, which must not send again
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_reminder_added_before_a_restart_is_sent_once(
    backend: Backend, bot: Bot, fake: FakeBotAPI
) -> None:
    store = await backend.open()
    await store.add_reminder(501, 501, "period_closing", YESTERDAY, "en", PAYLOAD)
    if backend.persistent:
        store = await backend.restart()

    await run_until(bot, store, fake, lambda calls: len(calls) >= 1)
    assert delivered(fake) == [
        "Reminder: the payment period for your 2027 medical insurance ends on "
        "December 31, 2026. Pay within it to avoid a longer waiting period."
    ]
    assert await store.due_reminders(FAR, 10) == []


async def test_a_reminder_not_yet_due_is_left_alone(
    backend: Backend, bot: Bot, fake: FakeBotAPI
) -> None:
    store = await backend.open()
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    await store.add_reminder(7, 7, "wait_ends", tomorrow, "en", {})
    stop = asyncio.Event()
    task = asyncio.create_task(run_reminders(bot, store, stop=stop, interval=0.05))
    await asyncio.sleep(0.2)  # a few rounds
    stop.set()
    await asyncio.wait_for(task, 5)
    assert fake.calls == []
    assert len(await store.due_reminders(FAR, 10)) == 1


def test_the_text_is_in_the_reminders_language_with_its_date() -> None:
    text = reminder_text(Reminder(7, 7, "wait_ends", dt.date(2027, 5, 1), "zh_Hans", {}))
    assert "2027年5月1日" in text
    english = reminder_text(Reminder(7, 7, "wait_ends", dt.date(2027, 5, 1), "en", {}))
    assert english == (
        "Reminder: your waiting period is over. Your medical insurance pays from today, "
        "May 1, 2027."
    )


async def test_a_blocked_user_loses_their_reminders_and_the_others_still_get_theirs(
    backend: Backend, bot: Bot, fake: FakeBotAPI
) -> None:
    store = await backend.open()
    blocked, other = 601, 602
    early = YESTERDAY - dt.timedelta(days=3)
    await store.add_reminder(blocked, blocked, "period_closing", early, "en", PAYLOAD)
    await store.add_reminder(blocked, blocked, "wait_ends", YESTERDAY, "en", {})
    await store.add_reminder(other, other, "wait_ends", YESTERDAY, "en", {})
    fake.fail_next("sendMessage", status=403)

    await run_until(bot, store, fake, lambda calls: bool(delivered(fake, other)))
    sends = [(int(c.params["chat_id"]), c.outcome) for c in fake.calls if c.method == "sendMessage"]
    assert sends == [(blocked, "error"), (other, "ok")]
    assert await store.due_reminders(FAR, 10) == []
    assert await store.forget(blocked) == 0


@pytest.mark.slow
async def test_flood_control_waits_and_sends_again(
    backend: Backend, bot: Bot, fake: FakeBotAPI
) -> None:
    store = await backend.open()
    await store.add_reminder(701, 701, "wait_ends", YESTERDAY, "en", {})
    fake.fail_next("sendMessage", status=429, retry_after=1)

    await run_until(bot, store, fake, lambda calls: bool(delivered(fake, 701)))
    first, second = (c for c in fake.calls if c.method == "sendMessage")
    assert (first.outcome, second.outcome) == ("error", "ok")
    assert second.received - first.received >= 1.0  # the retry_after was honoured
    assert len(delivered(fake, 701)) == 1


async def test_other_errors_are_logged_without_ids_and_retried_next_round(
    backend: Backend, bot: Bot, fake: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    store = await backend.open()
    await store.add_reminder(801_234, 801_234, "wait_ends", YESTERDAY, "en", {})
    fake.fail_next("sendMessage", status=500)

    with caplog.at_level(logging.DEBUG, logger="yibao"):
        await run_until(bot, store, fake, lambda calls: bool(delivered(fake, 801_234)))
    assert [c.outcome for c in fake.calls if c.method == "sendMessage"] == ["error", "ok"]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("yibao"))
    assert "TelegramServerError" in logged
    assert "801234" not in logged and "Reminder" not in logged


@pytest.mark.slow
async def test_no_second_holds_more_than_25_sends(bot: Bot, fake: FakeBotAPI) -> None:
    store = MemoryCampaignStore()
    for user in range(1, 61):
        await store.add_reminder(user, user, "wait_ends", YESTERDAY, "en", {})

    await run_until(bot, store, fake, lambda calls: len(calls) >= 60, rounds_after=0, rate=25)
    received = sorted(c.received for c in fake.calls if c.method == "sendMessage")
    assert len(received) == 60 and len(delivered(fake)) == 60
    # Any 26 consecutive sends span more than a second.
    assert all(later - first > 1.0 for first, later in zip(received, received[25:], strict=False))


async def test_the_dispatcher_starts_and_stops_the_sender(
    bot: Bot, fake: FakeBotAPI, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    storage = SQLiteStorage(tmp_path / "yibao.sqlite3")
    dispatcher = create_dispatcher(settings, storage)
    if "campaign" not in dispatcher.workflow_data:
        setup_campaign(dispatcher, settings, storage)
    campaign: CampaignStore = dispatcher["campaign"]
    campaign.bind(bot.id)  # as start-up does, before any update could add a reminder
    await campaign.add_reminder(901, 901, "wait_ends", YESTERDAY, "en", {})

    workflow = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    await dispatcher.emit_startup(bot=bot, **workflow)
    try:
        await fake.wait_for(lambda calls: bool(delivered(fake, 901)))
    finally:
        await dispatcher.emit_shutdown(bot=bot, **workflow)
    # The store was closed and reopens on use; the sent reminder is gone.
    assert await campaign.due_reminders(FAR, 10) == []
    await campaign.close()
