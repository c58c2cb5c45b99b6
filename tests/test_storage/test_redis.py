"""forget_user and round trips against a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from bot.storage import forget_user


class Survey(StatesGroup):
    """A small questionnaire."""

    age = State()


def key(
    user_id: int, chat_id: int, destiny: str = "default", thread_id: int | None = None
) -> StorageKey:
    """Build a storage key."""
    return StorageKey(
        bot_id=1, chat_id=chat_id, user_id=user_id, destiny=destiny, thread_id=thread_id
    )


@pytest.fixture
async def storage(redis_client: redis.asyncio.Redis) -> AsyncIterator[RedisStorage]:
    """Yield a RedisStorage sharing the test's client."""
    yield RedisStorage(redis_client, key_builder=DefaultKeyBuilder(with_destiny=True))


async def scan(client: redis.asyncio.Redis) -> set[str]:
    """Return every key in the database."""
    return {k.decode() async for k in client.scan_iter(match="*")}


async def test_round_trip(storage: RedisStorage) -> None:
    await storage.set_state(key(42, 42), Survey.age)
    await storage.update_data(key(42, 42), {"age": 67})
    assert await storage.get_state(key(42, 42)) == "Survey:age"
    assert await storage.get_data(key(42, 42)) == {"age": 67}
    assert await storage.get_state(key(42, 42, "other")) is None
    assert await scan(storage.redis) == {"fsm:42:42:default:state", "fsm:42:42:default:data"}


async def test_forget_user_redis(storage: RedisStorage, redis_client: redis.asyncio.Redis) -> None:
    mine = [key(42, 42), key(42, 42, "other"), key(42, -100500, thread_id=7)]
    # Neighbours share digits with 42, or put 42 in the chat or thread position.
    theirs = [key(420, 420), key(4242, 42), key(142, -42), key(7, -100500, thread_id=42)]
    for k in mine + theirs:
        await storage.set_state(k, Survey.age)
        await storage.set_data(k, {"u": k.user_id})
    await redis_client.set("fsm:42:42:default:lock", "token")

    assert await forget_user(storage, 42) == 2 * len(mine)

    left = await scan(redis_client)
    assert left - {"fsm:42:42:default:lock"} == {
        storage.key_builder.build(k, part) for k in theirs for part in ("state", "data")
    }
    assert "fsm:42:42:default:lock" in left  # an in-flight handler's lock is left alone
    for k in theirs:
        assert await storage.get_data(k) == {"u": k.user_id}
    assert await forget_user(storage, 42) == 0


async def test_forget_user_redis_default_builder(redis_client: redis.asyncio.Redis) -> None:
    storage = RedisStorage(redis_client)
    await storage.set_state(key(42, 42), Survey.age)
    await storage.set_data(key(420, 42), {"x": 1})
    assert await forget_user(storage, 42) == 1
    assert await scan(redis_client) == {"fsm:42:420:data"}


async def test_forget_user_memory() -> None:
    storage = MemoryStorage()
    await storage.set_state(key(42, 42), Survey.age)
    await storage.set_data(key(42, -1, "other"), {"x": 1})
    await storage.set_data(key(420, 42), {"y": 2})
    assert await forget_user(storage, 42) == 2
    assert [k.user_id for k in storage.storage] == [420]
    assert await storage.get_data(key(420, 42)) == {"y": 2}
