"""Campaign stores on every backend, and a real Bot against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from fakes.bot_api import FakeBotAPI
from fakes.campaign_backends import Backend

from bot.campaign import CampaignStore
from bot.transports.session import ApiSession


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each backend in turn; Redis is a real server, emptied first."""
    url = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        with redis.Redis.from_url(url) as client:
            client.flushdb()
    backend = Backend(request.param, tmp_path, url)
    yield backend
    await backend.close()


@pytest.fixture
async def store(backend: Backend) -> CampaignStore:
    """A campaign store on the backend under test."""
    return await backend.open()


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """A real aiogram Bot talking HTTP to the fake server."""
    bot = Bot("42:TEST", session=ApiSession(api=TelegramAPIServer.from_base(fake.base_url)))
    try:
        yield bot
    finally:
        await bot.session.close()
