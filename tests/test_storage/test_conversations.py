"""A store that cannot answer: the claim (with or without a conversation) says so as
StoreUnavailable, which the webhook answers with 500 so that Telegram brings the update back.
On Redis, the conversations' own connections never hand one person another's reply, and close
with the store."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import ResponseError

from bot.storage.conversations import (
    RedisConversations,
    StoreUnavailable,
    create_conversations,
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_redis_makes_every_claim_unavailable() -> None:
    storage = RedisStorage.from_url(f"redis://127.0.0.1:{_closed_port()}/0")
    conversations = create_conversations(storage)
    try:
        # An update with no conversation (a group's, a member change) ...
        with pytest.raises(StoreUnavailable):
            await conversations.claim(42, 1)
        # ... and a person's message or press.
        key = StorageKey(bot_id=42, chat_id=7, user_id=7)
        with pytest.raises(StoreUnavailable):
            async with conversations.hold(42, 2, key):
                pass
    finally:
        await storage.close()


async def _clients(redis_client: Any) -> int:
    return len(await redis_client.client_list())


async def test_an_error_reply_mid_round_trip_leaves_nothing_for_the_next_person(
    redis_url: str, redis_client: Any
) -> None:
    """The conversation's round trips share connections: a reply left unread after an error
    would be read as the next person's conversation."""
    storage = RedisStorage.from_url(redis_url)
    conversations = create_conversations(storage)
    assert isinstance(conversations, RedisConversations)
    first, second = (StorageKey(bot_id=42, chat_id=n, user_id=n) for n in (71, 72))
    await storage.set_data(first, {"who": "first"})
    await storage.set_data(second, {"who": "second"})
    await redis_client.set("not-a-number", "x")
    try:
        first_key = storage.key_builder.build(first, "data")
        with pytest.raises(ResponseError):  # INCR fails; GET's reply is still on the wire
            await conversations.wire.send(("INCR", "not-a-number"), ("GET", first_key))
        async with conversations.hold(42, 901, second) as held:
            assert held is not None
            assert held.state == {"who": "second"}
    finally:
        await storage.close()


async def test_closing_the_store_closes_the_conversations_connections(
    redis_url: str, redis_client: Any
) -> None:
    before = await _clients(redis_client)
    storage = RedisStorage.from_url(redis_url)
    conversations = create_conversations(storage)
    key = StorageKey(bot_id=42, chat_id=73, user_id=73)
    async with conversations.hold(42, 902, key) as held:
        assert held is not None
        await held.save({"step": 1})
    assert await _clients(redis_client) > before
    await storage.close()
    for _ in range(100):  # the server notices a closed connection a moment later
        if await _clients(redis_client) == before:
            break
        await asyncio.sleep(0.01)
    assert await _clients(redis_client) == before


async def _lock_released(redis_client: Any, lock_key: str) -> bool:
    """Whether the lock is gone within a second (the release is sent, not waited for)."""
    for _ in range(100):
        if not await redis_client.exists(lock_key):
            return True
        await asyncio.sleep(0.01)
    return False


async def _hold_twice_and_check(redis_url: str, redis_client: Any) -> RedisConversations:
    storage = RedisStorage.from_url(redis_url)
    conversations = create_conversations(storage)
    assert isinstance(conversations, RedisConversations)
    key = StorageKey(bot_id=42, chat_id=74, user_id=74)
    lock_key = storage.key_builder.build(key, "lock")
    try:
        for update_id, step in ((903, 1), (904, 2)):
            async with conversations.hold(42, update_id, key) as held:
                assert held is not None
                assert held.state == ({} if step == 1 else {"step": 1})
                assert await redis_client.exists(lock_key)  # held while the update is handled
                await held.save({"step": step})
            assert await _lock_released(redis_client, lock_key)
        # The released lock's skipped replies left nothing on the connections: reads agree.
        async with conversations.hold(42, 905, key) as held:
            assert held is not None and held.state == {"step": 2}
    finally:
        await storage.close()
    return conversations


async def test_a_lock_is_released_without_waiting_for_a_reply(
    redis_url: str, redis_client: Any
) -> None:
    conversations = await _hold_twice_and_check(redis_url, redis_client)
    assert conversations.wire.skips is True  # released with CLIENT REPLY SKIP


async def test_a_server_without_client_reply_still_has_its_locks_released(
    tmp_path: Any,
) -> None:
    """A server (or a proxy) that refuses CLIENT: the release falls back to a round trip."""
    import redis.asyncio
    from fakes.redis_server import start_redis_server

    process, url = start_redis_server(tmp_path, ["--rename-command", "CLIENT", ""])
    client = redis.asyncio.Redis.from_url(url)
    try:
        conversations = await _hold_twice_and_check(url, client)
        assert conversations.wire.skips is False
    finally:
        await client.aclose()
        process.terminate()
        process.wait(timeout=10)
