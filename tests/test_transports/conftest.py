"""Fixtures for the transports: clean settings, a fake Bot API and a bot talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

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
