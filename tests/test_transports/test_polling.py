"""Long polling against the fake Bot API's getUpdates."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from fakes.bot_api import Call, FakeBotAPI
from fakes.deployment import CARD_KEY
from fakes.updates import has_inline_keyboard

from bot.app import create_dispatcher
from bot.settings import SettingsError, load_settings
from bot.storage import SQLiteStorage
from bot.transports import polling
from bot.transports.polling import drain_on_shutdown


def dispatcher_for(tmp_path: Path) -> Dispatcher:
    """The app's dispatcher on a SQLite file in `tmp_path`."""
    return create_dispatcher(load_settings(), SQLiteStorage(tmp_path / "fsm.sqlite3"))


def sent(calls: list[Call]) -> bool:
    """Whether a sendMessage has been requested."""
    return any(call.method == "sendMessage" for call in calls)


async def test_polling_answers_start(clean_env: Path, fake: FakeBotAPI, bot: Bot) -> None:
    dispatcher = dispatcher_for(clean_env)
    fake.push_message("/start", chat_id=1001)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    await fake.wait_for(sent, timeout=10)
    await dispatcher.stop_polling()
    await asyncio.wait_for(polling, 10)
    assert any(has_inline_keyboard(params) for params in fake.sent_messages(1001))


async def test_stop_waits_for_updates_in_flight(
    clean_env: Path, fake: FakeBotAPI, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher = dispatcher_for(clean_env)
    drain_on_shutdown(dispatcher)
    fake.delay_next("sendMessage", 1.0)
    fake.push_message("/start", chat_id=1001)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
    )
    await fake.wait_for(sent, timeout=10)
    with caplog.at_level(logging.ERROR):
        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 10)
    delayed = [c for c in fake.calls if c.method == "sendMessage" and c.outcome == "delayed"]
    assert len(delayed) == 1 and delayed[0].result is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_rejected_token_is_a_settings_error(
    clean_env: Path, fake: FakeBotAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polling, "create_bot", lambda token, session=None: bot)
    fake.fail_next("deleteWebhook", status=401)
    with pytest.raises(SettingsError, match=r"^BOT_TOKEN"):
        await polling.run_polling(load_settings(bot_token="42:TEST", card_keys=CARD_KEY))
    assert not [call for call in fake.calls if call.method == "getUpdates"]
