"""Processed updates, per bot: a redelivered update is recognised and changes nothing.

Telegram redelivers an update until the webhook answers 200 (or getUpdates confirms it), and
keeps an unconfirmed update for at most 24 hours, so an update id is remembered for
KEEP_SECONDS. An update id is a counter Telegram gives the bot, not a person's data.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from bot.storage.migrate import bot_keys
from bot.storage.sqlite import SQLiteStorage

KEEP_SECONDS = 48 * 3600  # twice Telegram's 24 hours
PRUNE_EVERY = 500  # SQLite: drop expired rows once per this many claims
MEMORY_KEPT = 10_000


def claim_key(bot_id: int, update_id: int) -> str:
    """The Redis key of an update's claim: `yibao:<bot_id>:update:<update_id>`."""
    return f"{bot_keys(bot_id)}update:{update_id}"


class UpdateLedger(ABC):
    """Claims of update ids: the first claim of (bot_id, update_id) wins, later ones lose."""

    @abstractmethod
    async def claim(self, bot_id: int, update_id: int) -> bool:
        """True the first time `update_id` of `bot_id` is claimed, False on a redelivery.

        Atomic: of two workers handed the same update, exactly one gets True. Raises the
        store's error (sqlite3.Error, redis.RedisError) when it cannot tell; the update is
        then not handled, and Telegram delivers it again.
        """


class MemoryUpdateLedger(UpdateLedger):
    """For `yibao chat` and tests on MemoryStorage: the last MEMORY_KEPT ids per process."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()

    async def claim(self, bot_id: int, update_id: int) -> bool:
        key = (bot_id, update_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > MEMORY_KEPT:
            self._seen.popitem(last=False)
        return True


class SQLiteUpdateLedger(UpdateLedger):
    """Table `updates` of the state file, through the FSM storage's connection."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self.storage = storage
        self._claims = 0

    async def claim(self, bot_id: int, update_id: int) -> bool:
        now = int(time.time())
        with self.storage.connection() as conn:
            new = conn.execute(
                "INSERT OR IGNORE INTO updates (bot_id, update_id, at) VALUES (?, ?, ?)",
                (bot_id, update_id, now),
            ).rowcount
            self._claims += 1
            if self._claims % PRUNE_EVERY == 0:
                conn.execute("DELETE FROM updates WHERE at < ?", (now - KEEP_SECONDS,))
        return new == 1


class RedisUpdateLedger(UpdateLedger):
    """Keys `yibao:<bot_id>:update:<update_id>` that expire after KEEP_SECONDS."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def claim(self, bot_id: int, update_id: int) -> bool:
        return bool(await self.redis.set(claim_key(bot_id, update_id), 1, nx=True, ex=KEEP_SECONDS))


def create_update_ledger(storage: BaseStorage) -> UpdateLedger:
    """The ledger kept where `storage` keeps the conversations. Raises TypeError for others."""
    if isinstance(storage, SQLiteStorage):
        return SQLiteUpdateLedger(storage)
    if isinstance(storage, RedisStorage):
        return RedisUpdateLedger(storage.redis)
    if isinstance(storage, MemoryStorage):
        return MemoryUpdateLedger()
    msg = f"no update ledger for {type(storage).__name__}"
    raise TypeError(msg)
