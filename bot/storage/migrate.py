"""Keys that name the bot: the schema upgrade and the adoption of data kept before it.

Since version 1 every record is filed under the id of the bot it belongs to, so two bots (a
staging bot beside the real one) can share one Redis database or one state file and still keep
separate conversations, reminders, counters and processed updates:

- FSM keys: `fsm:<bot_id>:<chat_id>:<user_id>:<destiny>[:<part>]` (Redis and SQLite `fsm.key`);
- campaign keys in Redis: `yibao:<bot_id>:stats:…`, `yibao:<bot_id>:reminder…`;
- campaign rows in SQLite: a `bot_id` column in `campaign_counts` and `campaign_reminders`;
- processed updates: `yibao:<bot_id>:update:<update_id>` (Redis), table `updates` (SQLite).

Data written before (keys without a bot id) is *adopted* by the first bot that starts on the
store after the upgrade (`adopt_legacy`, run by `yibao webhook` and `yibao run`): upgrade and
start the production bot first when a staging bot shares its store.
"""

from __future__ import annotations

import logging
import sqlite3

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

log = logging.getLogger("yibao.storage")

SCHEMA_VERSION = 2  # 1: bot ids in keys and campaign rows; 2: fsm.at, for expiry
LEGACY_BOT = 0  # the bot id given to rows kept before bot ids, until a bot adopts them
_FSM_LEGACY_PARTS = 4  # fsm:<chat>:<user>:<destiny>, as SQLite keys had it before version 1
_REDIS_LEGACY_PARTS = 5  # fsm:<chat>:<user>:<destiny>:<part> in Redis
REDIS_PREFIX = "yibao:"
_CAMPAIGN_LEGACY = ("stats:", "reminder:", "reminders")


def bot_keys(bot_id: int) -> str:
    """`yibao:<bot_id>:`, where a bot's own Redis keys (other than FSM keys) start."""
    return f"{REDIS_PREFIX}{bot_id}:"


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def upgrade_sqlite(conn: sqlite3.Connection) -> None:
    """Bring a state file's tables to SCHEMA_VERSION, in one transaction.

    Version 0 campaign tables are rebuilt with a `bot_id` column (LEGACY_BOT for their rows,
    until `adopt_legacy_sqlite`); version 1 `fsm` rows get `at` (seconds since the epoch of
    the last write; the upgrade's time for rows already there); a new file just records the
    version. Raises sqlite3.Error.
    """
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    with conn:
        tables = _tables(conn)
        if "fsm" in tables and "at" not in {
            row[1] for row in conn.execute("PRAGMA table_info(fsm)")
        }:
            # Rows kept before expiry count from the upgrade, not from 1970.
            conn.execute("ALTER TABLE fsm ADD COLUMN at INTEGER NOT NULL DEFAULT 0")
            conn.execute("UPDATE fsm SET at = CAST(strftime('%s', 'now') AS INTEGER)")
        if version >= 1:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if "campaign_counts" in tables:
            conn.execute("ALTER TABLE campaign_counts RENAME TO campaign_counts_v0")
            conn.execute(
                "CREATE TABLE campaign_counts (bot_id INTEGER NOT NULL, day TEXT NOT NULL, "
                "region TEXT NOT NULL, locale TEXT NOT NULL, outcome TEXT NOT NULL, "
                "count INTEGER NOT NULL, PRIMARY KEY (bot_id, day, region, locale, outcome)) "
                "WITHOUT ROWID"
            )
            conn.execute(
                "INSERT INTO campaign_counts SELECT ?, day, region, locale, outcome, count "
                "FROM campaign_counts_v0",
                (LEGACY_BOT,),
            )
            conn.execute("DROP TABLE campaign_counts_v0")
        if "campaign_reminders" in tables:
            conn.execute("DROP INDEX IF EXISTS campaign_reminders_send_at")
            conn.execute("ALTER TABLE campaign_reminders RENAME TO campaign_reminders_v0")
            conn.execute(
                "CREATE TABLE campaign_reminders (bot_id INTEGER NOT NULL, "
                "user_id INTEGER NOT NULL, kind TEXT NOT NULL, chat_id INTEGER NOT NULL, "
                "due TEXT NOT NULL, send_at INTEGER NOT NULL, locale TEXT NOT NULL, "
                "payload TEXT NOT NULL, PRIMARY KEY (bot_id, user_id, kind))"
            )
            conn.execute(
                "INSERT INTO campaign_reminders SELECT ?, user_id, kind, chat_id, due, send_at, "
                "locale, payload FROM campaign_reminders_v0",
                (LEGACY_BOT,),
            )
            conn.execute("DROP TABLE campaign_reminders_v0")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def adopt_legacy_sqlite(conn: sqlite3.Connection, bot_id: int) -> int:
    """File the rows kept before bot ids under `bot_id`; return how many moved.

    A legacy FSM row whose new key is already taken (the bot wrote it since) is dropped:
    the newer conversation wins.
    """
    moved = 0
    with conn:
        tables = _tables(conn)
        if "fsm" in tables:
            rows = conn.execute("SELECT key FROM fsm WHERE key LIKE 'fsm:%'").fetchall()
            for (key,) in rows:
                parts = key.split(":")
                if len(parts) != _FSM_LEGACY_PARTS:
                    continue
                new = ":".join([parts[0], str(bot_id), *parts[1:]])
                moved += conn.execute(
                    "UPDATE OR IGNORE fsm SET key = ? WHERE key = ?", (new, key)
                ).rowcount
                conn.execute("DELETE FROM fsm WHERE key = ?", (key,))
        for table in ("campaign_counts", "campaign_reminders"):
            if table in tables:
                moved += conn.execute(
                    f"UPDATE OR IGNORE {table} SET bot_id = ? WHERE bot_id = ?",
                    (bot_id, LEGACY_BOT),
                ).rowcount
                conn.execute(f"DELETE FROM {table} WHERE bot_id = ?", (LEGACY_BOT,))
    return moved


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def adopt_legacy_redis(redis: Redis, bot_id: int) -> int:
    """Rename the keys kept before bot ids so they carry `bot_id`; return how many moved.

    RENAMENX: a key the bot has written since is newer and is kept; the legacy one is deleted.
    """
    moved = 0
    async for raw in redis.scan_iter(match="fsm:*", count=1000):
        key = _text(raw)
        parts = key.split(":")
        if len(parts) != _REDIS_LEGACY_PARTS or parts[-1] == "lock":
            continue
        new = ":".join([parts[0], str(bot_id), *parts[1:]])
        if await redis.renamenx(key, new):
            moved += 1
        else:
            await redis.delete(key)
    for legacy in _CAMPAIGN_LEGACY:
        pattern = f"{REDIS_PREFIX}{legacy}" + ("*" if legacy.endswith(":") else "")
        async for raw in redis.scan_iter(match=pattern, count=1000):
            key = _text(raw)
            new = bot_keys(bot_id) + key.removeprefix(REDIS_PREFIX)
            if await redis.renamenx(key, new):
                moved += 1
            else:
                await redis.delete(key)
    return moved


async def adopt_legacy(storage: BaseStorage, bot_id: int) -> int:
    """Give `bot_id` the data its store kept before bot ids (SQLite or Redis; else nothing).

    Logs how many records moved (no contents). Raises sqlite3.Error or redis errors.
    """
    from bot.storage.sqlite import SQLiteStorage

    if isinstance(storage, SQLiteStorage):
        moved = adopt_legacy_sqlite(storage.connection(), bot_id)
        storage.forget_cached()
    elif isinstance(storage, RedisStorage):
        moved = await adopt_legacy_redis(storage.redis, bot_id)
    else:
        return 0
    if moved:
        log.info("%d record(s) kept before bot ids now belong to bot %d", moved, bot_id)
    return moved
