"""Erase everything the FSM storage keeps about one user."""

from __future__ import annotations

import re

from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from bot.storage.sqlite import SQLiteStorage

# Only records are erased: a "lock" key may be held by the very handler calling us, and
# deleting it would make that handler's lock release fail; locks expire on their own.
_RECORD_PARTS = ("state", "data")


async def forget_user(storage: BaseStorage, user_id: int) -> int:
    """Delete every state/data record of user_id from storage and return how many went."""
    if isinstance(storage, SQLiteStorage):
        return await storage.forget_user(user_id)
    if isinstance(storage, RedisStorage):
        return await _forget_redis(storage, user_id)
    if isinstance(storage, MemoryStorage):
        keys = [key for key in storage.storage if key.user_id == user_id]
        for key in keys:
            del storage.storage[key]
        return len(keys)
    msg = f"forget_user does not support {type(storage).__name__}"
    raise TypeError(msg)


def _redis_user_id(key: str, builder: DefaultKeyBuilder) -> str | None:
    """Return the user_id field of a key built by builder, or None if it is not a record."""
    parts = key.split(builder.separator)
    if parts[0] != builder.prefix or parts[-1] not in _RECORD_PARTS:
        return None
    # Counted from the end because bot id, business connection id and thread id are optional
    # at the front; the tail is always [user_id, destiny?, part] (destinies hold no separator).
    index = -3 if builder.with_destiny else -2
    return parts[index] if len(parts) >= 2 - index else None


async def _forget_redis(storage: RedisStorage, user_id: int) -> int:
    """Scan the keyspace for the user's records and delete them."""
    builder = storage.key_builder
    if not isinstance(builder, DefaultKeyBuilder) or builder.separator in builder.prefix:
        msg = f"forget_user cannot parse keys built by {builder!r}"
        raise TypeError(msg)
    sep = builder.separator
    # The glob only narrows the scan; _redis_user_id decides, so ids sharing digits are safe.
    pattern = _glob_escape(f"{builder.prefix}{sep}") + f"*{_glob_escape(f'{sep}{user_id}{sep}')}*"
    wanted = str(user_id)
    doomed: list[bytes | str] = []
    async for raw in storage.redis.scan_iter(match=pattern, count=1000):
        key = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        if _redis_user_id(key, builder) == wanted:
            doomed.append(raw)
    deleted = 0
    for start in range(0, len(doomed), 500):
        deleted += await storage.redis.delete(*doomed[start : start + 500])
    return deleted


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
