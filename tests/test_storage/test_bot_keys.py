"""Keys that name the bot, and the adoption of data kept before them (Redis and SQLite).

The "before" stores are written as the previous release wrote them: FSM keys without a bot id
(`fsm:<chat>:<user>:default[:part]`), campaign keys under plain `yibao:`, and campaign tables
without a bot_id column (schema version 0).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import redis.asyncio
from aiogram.fsm.storage.base import StorageKey

from bot.app import SQLITE_FILE, create_storage, start_store
from bot.campaign.store import create_campaign_store
from bot.settings import Settings, SettingsError
from bot.storage.migrate import SCHEMA_VERSION

BOT = 42
USER = 3301
DAY = dt.date(2026, 9, 3)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
ANSWERS = {"q": "benefit_year", "answers": {"region": "tianjin"}, "locale": "en"}

# The tables as release 0 of the state file had them.
V0 = """
CREATE TABLE fsm (key TEXT PRIMARY KEY, user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL,
                  state TEXT, data TEXT);
CREATE INDEX fsm_user_id ON fsm (user_id);
CREATE TABLE campaign_counts (day TEXT NOT NULL, region TEXT NOT NULL, locale TEXT NOT NULL,
    outcome TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (day, region, locale, outcome)) WITHOUT ROWID;
CREATE TABLE campaign_reminders (user_id INTEGER NOT NULL, kind TEXT NOT NULL,
    chat_id INTEGER NOT NULL, due TEXT NOT NULL, send_at INTEGER NOT NULL,
    locale TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (user_id, kind));
CREATE INDEX campaign_reminders_send_at ON campaign_reminders (send_at);
"""


def key(bot_id: int) -> StorageKey:
    return StorageKey(bot_id=bot_id, chat_id=USER, user_id=USER)


async def check_adopted(settings: Settings) -> None:
    """The bot that starts first owns the old conversation, reminder and counters; another
    bot on the same store sees none of it."""
    storage = await start_store(settings, BOT)
    try:
        assert await storage.get_state(key(BOT)) == "Survey:asking"
        assert await storage.get_data(key(BOT)) == ANSWERS
        assert await storage.get_data(key(BOT + 1)) == {}
        campaign = create_campaign_store(storage)
        campaign.bind(BOT)
        [reminder] = await campaign.due_reminders(FAR, 10)
        assert (reminder.user_id, reminder.kind, reminder.due) == (USER, "wait_ends", DAY)
        assert [(r.region, r.outcome, r.count) for r in await campaign.counts(DAY, DAY)] == [
            ("tianjin", "wait_4", 3)
        ]
        campaign.bind(BOT + 1)
        assert await campaign.due_reminders(FAR, 10) == []
        assert await campaign.counts(DAY, DAY) == []
        await campaign.close()
    finally:
        await storage.close()
    # A second start (a restart, or the staging bot) moves nothing more.
    again = await start_store(settings, BOT + 1)
    try:
        assert await again.get_data(key(BOT + 1)) == {}
        assert await again.get_data(key(BOT)) == ANSWERS
    finally:
        await again.close()


async def test_a_state_file_of_the_previous_release_is_adopted_by_the_bot(tmp_path: Path) -> None:
    path = tmp_path / SQLITE_FILE
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(V0)
        conn.execute(
            "INSERT INTO fsm VALUES (?, ?, ?, ?, ?)",
            (
                f"fsm:{USER}:{USER}:default",
                USER,
                USER,
                "Survey:asking",
                '{"q": "benefit_year", "answers": {"region": "tianjin"}, "locale": "en"}',
            ),
        )
        conn.execute(
            "INSERT INTO campaign_counts VALUES (?, 'tianjin', 'en', 'wait_4', 3)",
            (DAY.isoformat(),),
        )
        conn.execute(
            "INSERT INTO campaign_reminders VALUES (?, 'wait_ends', ?, ?, 0, 'en', '{}')",
            (USER, USER, DAY.isoformat()),
        )
    await check_adopted(Settings(_env_file=None, data_dir=tmp_path))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT key FROM fsm").fetchall() == [
            (f"fsm:{BOT}:{USER}:{USER}:default",)
        ]


async def test_a_redis_database_of_the_previous_release_is_adopted_by_the_bot(
    redis_url: str, redis_client: redis.asyncio.Redis
) -> None:
    await redis_client.set(f"fsm:{USER}:{USER}:default:state", "Survey:asking")
    await redis_client.set(
        f"fsm:{USER}:{USER}:default:data",
        '{"q": "benefit_year", "answers": {"region": "tianjin"}, "locale": "en"}',
    )
    await redis_client.hset(f"yibao:stats:{DAY.isoformat()}", "tianjin|en|wait_4", 3)
    await redis_client.zadd("yibao:stats:days", {DAY.isoformat(): DAY.toordinal()})
    await redis_client.hset(
        f"yibao:reminder:{USER}:wait_ends",
        mapping={
            "user_id": USER,
            "chat_id": USER,
            "kind": "wait_ends",
            "due": DAY.isoformat(),
            "locale": "en",
            "payload": "{}",
        },
    )
    await redis_client.zadd("yibao:reminders", {f"{USER}:wait_ends": 0})
    await check_adopted(Settings(_env_file=None, redis_url=redis_url))
    left = sorted(k.decode() for k in await redis_client.keys("*"))
    assert all(k.startswith((f"fsm:{BOT}:", f"yibao:{BOT}:")) for k in left), left


async def test_an_unreachable_redis_stops_start_up_naming_redis_url() -> None:
    settings = Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(SettingsError, match=r"^REDIS_URL: "):
        await start_store(settings, BOT)


async def test_a_new_state_file_starts_at_the_current_schema(tmp_path: Path) -> None:
    storage = create_storage(Settings(_env_file=None, data_dir=tmp_path))
    await storage.set_state(key(BOT), "Survey:asking")
    await storage.close()
    with closing(sqlite3.connect(tmp_path / SQLITE_FILE)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT key FROM fsm").fetchall() == [
            (f"fsm:{BOT}:{USER}:{USER}:default",)
        ]
