"""Campaign stores opened on one FSM backend (memory, a SQLite file or a real Redis)."""

from __future__ import annotations

from pathlib import Path

from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from bot.app import SQLITE_FILE
from bot.campaign import CampaignStore, create_campaign_store
from bot.storage import SQLiteStorage


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
