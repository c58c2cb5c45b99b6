"""Campaign stores on every backend, and a real Bot against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from fakes.bot_api import FakeBotAPI

from bot.app import SQLITE_FILE
from bot.campaign import CampaignStore, create_campaign_store
from bot.storage import SQLiteStorage
from bot.transports.session import ApiSession


class Backend:
    """Opens campaign stores on one FSM backend; reopening simulates a restart."""

    def __init__(self, name: str, tmp_path: Path, redis_url: str | None) -> None:
        self.name = name
        self.path = tmp_path / SQLITE_FILE
        self.redis_url = redis_url
        self.persistent = name != "memory"
        self._memory = MemoryStorage()
        self._open: list[tuple[BaseStorage, CampaignStore]] = []

    def storage(self) -> BaseStorage:
        if self.name == "sqlite":
            return SQLiteStorage(self.path)
        if self.name == "redis":
            assert self.redis_url
            return RedisStorage.from_url(
                self.redis_url, key_builder=DefaultKeyBuilder(with_destiny=True)
            )
        return self._memory

    async def open(self) -> CampaignStore:
        storage = self.storage()
        store = create_campaign_store(storage)
        self._open.append((storage, store))
        return store

    async def restart(self) -> CampaignStore:
        """Close everything opened so far and open a fresh store on the same data."""
        await self.close()
        return await self.open()

    async def close(self) -> None:
        for storage, store in self._open:
            await store.close()
            await storage.close()
        self._open.clear()


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
