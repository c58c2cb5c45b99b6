"""What is kept, for how long, and who can read the file it is kept in."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
import time
from contextlib import closing
from pathlib import Path

import redis.asyncio
from aiogram.fsm.storage.base import StorageKey

from bot.app import SQLITE_FILE, create_storage
from bot.campaign.store import create_campaign_store
from bot.settings import Settings
from bot.storage import SQLiteStorage, forget_user

BOT = 42
MARKER = "Zhuoma-Marker-7731"  # stands for anything a person's answers could hold
DAY = 86_400


def key(user: int) -> StorageKey:
    return StorageKey(bot_id=BOT, chat_id=user, user_id=user)


def every_byte(folder: Path) -> bytes:
    """The state file and its -wal and -shm files, as anyone reading the disk would see them."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_conversation_untouched_for_the_ttl_is_deleted_and_unreadable(
    tmp_path: Path,
) -> None:
    storage = SQLiteStorage(tmp_path / SQLITE_FILE, ttl_days=60)
    await storage.set_data(key(1), {"note": MARKER})
    await storage.set_data(key(2), {"note": "recent"})
    # Person 2 answers again 59 days later; person 1 never comes back.
    later = time.time() + 59 * DAY
    with storage.connection() as conn:
        conn.execute("UPDATE fsm SET at = ? WHERE user_id = 2", (int(later),))
    assert storage.sweep(now=later + 2 * DAY) == 1
    assert await storage.get_data(key(1)) == {}
    assert await storage.get_data(key(2)) == {"note": "recent"}
    await storage.close()
    assert MARKER.encode() not in every_byte(tmp_path)


async def test_a_conversation_changed_within_the_ttl_stays(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / SQLITE_FILE, ttl_days=60)
    await storage.set_data(key(1), {"note": MARKER})
    assert storage.sweep(now=time.time() + 59 * DAY) == 0
    assert await storage.get_data(key(1)) == {"note": MARKER}
    await storage.close()


async def test_the_state_file_and_its_log_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    storage = create_storage(Settings(_env_file=None, data_dir=data))
    await storage.set_data(key(1), {"note": MARKER})
    files = sorted(data.iterdir())
    assert {p.name for p in files} >= {SQLITE_FILE, f"{SQLITE_FILE}-wal"}
    assert all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}
    assert mode(data) == 0o700
    await storage.close()


async def test_a_state_file_left_world_readable_is_made_private_when_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / SQLITE_FILE
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    os.chmod(path, 0o644)
    storage = SQLiteStorage(path)
    await storage.set_state(key(1), "Survey:asking")
    assert mode(path) == 0o600
    await storage.close()


async def test_forget_leaves_no_reminder_or_conversation_in_any_byte_of_the_file(
    tmp_path: Path,
) -> None:
    storage = SQLiteStorage(tmp_path / SQLITE_FILE)
    campaign = create_campaign_store(storage)
    campaign.bind(BOT)
    user = 987_654_321
    await storage.set_data(key(user), {"note": MARKER})
    await campaign.add_reminder(user, user, "wait_ends", dt.date(2027, 5, 1), "en", {"m": MARKER})
    # The person's /forget: the campaign store's connection deletes its rows too.
    assert await campaign.forget(user) == 1
    assert await forget_user(storage, user) == 1
    # Both connections still open, as in the running bot: the file and log are clean already.
    raw = every_byte(tmp_path)
    assert MARKER.encode() not in raw
    assert str(user).encode() not in raw
    await campaign.close()
    await storage.close()


async def test_redis_conversations_expire_after_the_ttl(
    redis_url: str, redis_client: redis.asyncio.Redis
) -> None:
    storage = create_storage(Settings(_env_file=None, redis_url=redis_url, state_ttl_days=30))
    await storage.set_state(key(1), "Survey:asking")
    await storage.set_data(key(1), {"note": MARKER})
    keys = [k async for k in redis_client.scan_iter(match=f"fsm:{BOT}:*")]
    assert keys
    for name in keys:
        ttl = await redis_client.ttl(name)
        assert 29 * DAY < ttl <= 30 * DAY, (name, ttl)
    await storage.close()
