"""Whether the FSM store can serve: checked once at start-up and by every /healthz probe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import cast

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import RedisError

from bot.storage.migrate import adopt_legacy
from bot.storage.sqlite import SQLiteStorage, StateFileError

# Below the 1 s a Kubernetes probe waits by default, so a hung Redis reads as 503, not a timeout.
PROBE_TIMEOUT = 0.8

__all__ = ["PROBE_TIMEOUT", "StateFileError", "open_store", "probe_store", "verify_store"]


def verify_store(storage: BaseStorage) -> None:
    """At start-up: a SQLite state file must be a sound database (StateFileError otherwise)."""
    if isinstance(storage, SQLiteStorage):
        storage.verify()


async def open_store(storage: BaseStorage, bot_id: int) -> None:
    """Before the first update: refuse a damaged state file, then let `bot_id` adopt the data
    kept before keys named the bot (bot/storage/migrate.py).

    Raises StateFileError (the file is left untouched), sqlite3.Error or RedisError.
    """
    verify_store(storage)  # before anything opens, and so creates or upgrades, the file
    await adopt_legacy(storage, bot_id)


async def probe_store(storage: BaseStorage) -> str | None:
    """None when the store can serve, else a short plain reason that carries no secrets."""
    if isinstance(storage, SQLiteStorage):
        return storage.probe()
    if isinstance(storage, RedisStorage):
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                # redis types each command for its blocking and asyncio clients at once.
                await cast(Awaitable[bool], storage.redis.ping())
        except TimeoutError:
            return "redis does not answer"
        except (RedisError, OSError):
            return "redis is unreachable"
    return None
