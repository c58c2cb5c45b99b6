"""Fixtures for the transports: clean settings, a fake Bot API and a bot talking to it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from fakes.bot_api import FakeBotAPI

from bot.app import create_bot
from bot.settings import Settings
from bot.transports.session import ApiSession

SETTINGS_ENV = [name.upper() for name in Settings.model_fields]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No deployment settings in the environment and no `.env` in the working directory."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """A bot whose requests go to the fake."""
    session = ApiSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = create_bot("42:TEST", session=session)
    yield bot
    await bot.session.close()


def start_update(update_id: int = 1, chat_id: int = 1001) -> dict[str, Any]:
    """A Telegram Update carrying `/start` from a private chat, as Telegram sends it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10 + update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Dolkar"},
            "from": {
                "id": chat_id,
                "is_bot": False,
                "first_name": "Dolkar",
                "language_code": "en",
            },
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def has_inline_keyboard(params: dict[str, Any]) -> bool:
    """Whether sent message parameters carry inline buttons."""
    markup = params.get("reply_markup")
    return isinstance(markup, dict) and bool(markup.get("inline_keyboard"))
