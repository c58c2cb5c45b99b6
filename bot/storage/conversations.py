"""One update's hold on one conversation: claimed once, isolated, read once, written once.

For each update of a person, the Telegram adapter (bot/handlers/conversation.py) needs three
things from the store: that this update was not handled before (the once-only record,
bot/storage/updates.py), that no other update of the same person is handled meanwhile (the
isolation lock), and the conversation's state. `Conversations.hold` gives all three; the
adapter saves the new state once, then sends.

On Redis, where round trips are what an update costs, the claim, the lock and the read go in
one pipelined round trip, the write in a second, the lock's release in a third (the
conversation key and its TTL are those aiogram's RedisStorage uses, so stored conversations
and `/forget` are unchanged). These three go straight over redis-py's connections (`_Wire`),
not through its client: the client's per-command machinery (the pool's check that a connection
has nothing left to read, retries, events, metrics) cost about as much Python again as the
round trip itself, and it is what kept a Redis worker's CPU per update far above SQLite's.
Elsewhere one process owns the store: an asyncio lock per person, the SQLite (or memory)
claim, one get_data and one set_data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import secrets
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import hiredis
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

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


class _Wire:
    """Round trips on connections of a redis-py client's own pool, without the client.

    A connection is taken from the pool once (`get_available_connection`, which makes one when
    none is free) and kept here between round trips, so the pool still counts it as in use:
    closing the client (RedisStorage.close) disconnects it with the others. redis-py's
    Connection disconnects itself when a send or a read fails or is cancelled, and `send`
    disconnects it on an error reply too, so a connection kept here never has a reply left
    unread; a disconnected one connects again on its next send.
    """

    def __init__(self, redis: Redis) -> None:
        self.pool = redis.connection_pool
        self.idle: list[AbstractConnection] = []
        self.skips: bool | None = None  # whether the server honours CLIENT REPLY SKIP

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AbstractConnection]:
        """A kept connection (or a new one from the pool), kept again afterwards; disconnected
        first when anything went wrong, so that no reply is left on it for the next user."""
        connection = self.idle.pop() if self.idle else self.pool.get_available_connection()
        try:
            yield connection
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        finally:
            self.idle.append(connection)

    async def send(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send `commands` at once and return their replies in order (one round trip). Raises
        redis-py's errors: ConnectionError, TimeoutError, ResponseError for an error reply."""
        async with self._connection() as connection:
            packed = b"".join(_pack(*command) for command in commands)
            await connection.send_packed_command(packed, check_health=False)
            return [await connection.read_response() for _ in commands]

    async def post(self, command: tuple[Any, ...]) -> None:
        """Send one command whose reply nobody reads (a lock's release) without waiting for
        it: CLIENT REPLY SKIP goes before it, so Redis sends no reply and the worker spends one
        write on it, not a round trip (a reply read costs the event loop a wake-up and a read,
        most of what a round trip costs). Redis still runs it in order. Where the server does
        not honour CLIENT REPLY (a proxy that refuses it), a plain round trip. Raises what
        `send` raises."""
        if self.skips is None:
            self.skips = await self._probe()
        if not self.skips:
            await self.send(command)
            return
        async with self._connection() as connection:
            await connection.send_packed_command(_SKIP_REPLY + _pack(*command), check_health=False)

    async def _probe(self) -> bool:
        """Whether the server skips a reply on CLIENT REPLY SKIP, asked once: SKIP, ECHO 1,
        ECHO 2 answer 2 alone where it does; otherwise every reply is read up to 2's."""
        async with self._connection() as connection:
            await connection.send_packed_command(_SKIP_REPLY + _PROBE, check_health=False)
            replies = [await _reply(connection)]
            while replies[-1] not in _PROBE_LAST:
                replies.append(await _reply(connection))
        return len(replies) == 1


def _pack(*command: Any) -> bytes:
    """One command in RESP, packed by hiredis (in C; redis-py's asyncio connection packs in
    Python). (hiredis's stubs type the command as a one-element tuple.)"""
    return hiredis.pack_command(command)


_SKIP_REPLY = _pack("CLIENT", "REPLY", "SKIP")
_PROBE = _pack("ECHO", "1") + _pack("ECHO", "2")
_PROBE_LAST = (b"2", "2")  # as bytes, or as text with decode_responses


async def _reply(connection: AbstractConnection) -> Any:
    """The next reply, an error reply as its exception (the connection stays in step)."""
    try:
        return await connection.read_response()
    except ResponseError as error:
        return error


def _seconds(ttl: int | dt.timedelta | None) -> list[Any]:
    """SET's expiry arguments for aiogram's data_ttl (none when it is None)."""
    if ttl is None:
        return []
    return ["EX", int(ttl.total_seconds()) if isinstance(ttl, dt.timedelta) else ttl]


class RedisConversations(Conversations):
    """Redis, shared by several workers: claim, lock and read in one round trip."""

    storage: RedisStorage

    def __init__(self, storage: RedisStorage, *, lock_ms: int = LOCK_MS) -> None:
        super().__init__(storage)
        self.wire = _Wire(storage.redis)
        self.lock_ms = lock_ms
        # A lock's token: this process's random name and a count, unique across workers
        # without a random draw per update.
        self.name = secrets.token_hex(8)
        self.count = itertools.count()

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
        token = f"{self.name}:{next(self.count)}"
        take_lock = ("SET", lock_key, token, "NX", "PX", self.lock_ms)
        async with _reaching("claim and read"):
            claimed, locked, raw = await self.wire.send(
                ("SET", claim_key(bot_id, update_id), 1, "NX", "EX", KEEP_SECONDS),
                take_lock,
                ("GET", data_key),
            )
        # SET ... NX replies OK when it set the key and nothing (None) when the key was there.
        try:
            if claimed is None:
                yield None
                return
            pause = 0.002
            while locked is None:
                # Another update of this person is being handled: what it read is stale.
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                async with _reaching("lock and read"):
                    locked, raw = await self.wire.send(take_lock, ("GET", data_key))

            async def write(state: State) -> None:
                if state:
                    text = self.storage.json_dumps(state)
                    await self.wire.send(("SET", data_key, text, *_seconds(self.storage.data_ttl)))
                else:
                    await self.wire.send(("DEL", data_key))

            yield Held(self._load(raw), write)
        finally:
            if locked is not None:
                await self.wire.post(("EVAL", _RELEASE, 1, lock_key, token))


def create_conversations(storage: BaseStorage) -> Conversations:
    """The conversations of `storage` (Redis, SQLite or memory)."""
    if isinstance(storage, RedisStorage):
        return RedisConversations(storage)
    return LocalConversations(storage)
