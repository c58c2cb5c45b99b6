"""One update's hold on one conversation: claimed once, isolated, read once, written once.

For each update of a person, the Telegram adapter (bot/handlers/conversation.py) needs three
things from the store: that this update was not handled before (the once-only record,
bot/storage/updates.py), that no other update of the same person is handled meanwhile (the
isolation lock), and the conversation's state. `Conversations.hold` gives all three; the
adapter saves the new state once, then sends.

On Redis, where round trips are what an update costs, the claim, the lock and the read go in
one pipelined round trip, the write in a second, the lock's release in a third (the
conversation key and its TTL are those aiogram's RedisStorage uses, so stored conversations
and `/forget` are unchanged). Elsewhere one process owns the store: an asyncio lock per
person, the SQLite (or memory) claim, one get_data and one set_data.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import RedisError

from bot.storage.updates import KEEP_SECONDS, claim_key, create_update_ledger

State = dict[str, Any]
LOCK_MS = 60_000  # a lock outlives the 45 s an update may take, and no more
# Redis: delete the lock only if it is still ours (it expired and another took it otherwise).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class StoreUnavailable(Exception):
    """The store could not claim an update or read its conversation: nothing was handled, and
    the update should come again (the webhook answers 500)."""


@asynccontextmanager
async def _reaching(what: str) -> AsyncIterator[None]:
    """Turn the store's own errors into StoreUnavailable (named by type: no data in them)."""
    try:
        yield
    except (RedisError, sqlite3.Error, OSError) as error:
        raise StoreUnavailable(f"{what}: {type(error).__name__}") from error


class Held:
    """The state of a conversation as read at the start of an update, and its one write."""

    def __init__(self, state: State, write: Callable[[State], Awaitable[None]]) -> None:
        self.state = state
        self._write = write
        self.saved = False

    async def save(self, state: State) -> None:
        """Write `state` (an empty one erases the conversation); once per update, and not at
        all when it did not change. RuntimeError on a second call."""
        if self.saved:
            raise RuntimeError("a conversation is written once per update")
        self.saved = True
        if state != self.state:
            await self._write(state)


class Conversations(ABC):
    """The claim of updates and the conversations of one store."""

    def __init__(self, storage: BaseStorage) -> None:
        self.storage = storage
        self.ledger = create_update_ledger(storage)

    async def claim(self, bot_id: int, update_id: int) -> bool:
        """True the first time an update is claimed (an update that holds no conversation: a
        group's, a member change); False for a redelivery. StoreUnavailable when the store
        cannot tell."""
        async with _reaching("claim"):
            return await self.ledger.claim(bot_id, update_id)

    @abstractmethod
    def hold(self, bot_id: int, update_id: int, key: StorageKey) -> Any:
        """An async context manager: claims the update, waits for the person's lock, reads the
        state; yields a Held, or None when the update was handled before (nothing is read).
        The lock is released on exit. Raises the store's error (nothing handled yet)."""


class _Locks:
    """asyncio locks by key, dropped when nobody holds or waits for them (aiogram's
    SimpleEventIsolation keeps one per person forever)."""

    def __init__(self) -> None:
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class LocalConversations(Conversations):
    """Memory or SQLite: one process owns the store, so an asyncio lock isolates a person."""

    def __init__(self, storage: BaseStorage) -> None:
        super().__init__(storage)
        self.locks = _Locks()

    @asynccontextmanager
    async def hold(
        self, bot_id: int, update_id: int, key: StorageKey
    ) -> AsyncIterator[Held | None]:
        async with self.locks.lock(key):
            async with _reaching("claim and read"):
                claimed = await self.ledger.claim(bot_id, update_id)
                state = await self.storage.get_data(key) if claimed else None
            if state is None:
                yield None
                return

            async def write(state: State) -> None:
                await self.storage.set_data(key, state)

            yield Held(state, write)


class RedisConversations(Conversations):
    """Redis, shared by several workers: claim, lock and read in one round trip."""

    storage: RedisStorage

    def __init__(self, storage: RedisStorage, *, lock_ms: int = LOCK_MS) -> None:
        super().__init__(storage)
        self.redis = storage.redis
        self.lock_ms = lock_ms

    def _load(self, raw: bytes | str | None) -> State:
        if raw is None:
            return {}
        text = raw.decode() if isinstance(raw, bytes) else raw
        loaded: State = self.storage.json_loads(text)
        return loaded

    @asynccontextmanager
    async def hold(
        self, bot_id: int, update_id: int, key: StorageKey
    ) -> AsyncIterator[Held | None]:
        builder = self.storage.key_builder
        data_key, lock_key = builder.build(key, "data"), builder.build(key, "lock")
        token = secrets.token_hex(8)
        locked = False
        async with _reaching("claim and read"), self.redis.pipeline(transaction=False) as pipe:
            pipe.set(claim_key(bot_id, update_id), 1, nx=True, ex=KEEP_SECONDS)
            pipe.set(lock_key, token, nx=True, px=self.lock_ms)
            pipe.get(data_key)
            claimed, locked, raw = await pipe.execute()
        try:
            if not claimed:
                yield None
                return
            pause = 0.002
            while not locked:
                # Another update of this person is being handled: what it read is stale.
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                async with (
                    _reaching("lock and read"),
                    self.redis.pipeline(transaction=False) as pipe,
                ):
                    pipe.set(lock_key, token, nx=True, px=self.lock_ms)
                    pipe.get(data_key)
                    locked, raw = await pipe.execute()

            async def write(state: State) -> None:
                if state:
                    text = self.storage.json_dumps(state)
                    await self.redis.set(data_key, text, ex=self.storage.data_ttl)
                else:
                    await self.redis.delete(data_key)

            yield Held(self._load(raw), write)
        finally:
            if locked:
                # redis-py types eval for its blocking and asyncio clients at once
                await self.redis.eval(_RELEASE, 1, lock_key, token)  # type: ignore[misc]


def create_conversations(storage: BaseStorage) -> Conversations:
    """The conversations of `storage` (Redis, SQLite or memory)."""
    if isinstance(storage, RedisStorage):
        return RedisConversations(storage)
    return LocalConversations(storage)
