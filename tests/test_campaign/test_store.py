"""The campaign store on memory, SQLite and a real Redis: counters, reminders, erasure."""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import redis.asyncio
from fakes.campaign_backends import Backend

from bot.campaign import CampaignStore, Row
from bot.campaign.store import (
    MemoryCampaignStore,
    RedisCampaignStore,
    SQLiteCampaignStore,
    send_time,
)

DAY = dt.date(2026, 9, 1)
USER = 987_654_321
OTHER = 123_456_789


async def test_counters_add_up_by_day_region_locale_and_outcome(store: CampaignStore) -> None:
    await store.record_answer(DAY, "tianjin", "en", ["wait_4", "cap_down", "answers"])
    await store.record_answer(DAY, "tianjin", "en", ["wait_4", "answers"])
    await store.record_answer(DAY, "tianjin", "zh_Hans", ["exempt", "answers"])
    await store.record_answer(DAY + dt.timedelta(days=1), "xizang", "bo", ["no_cover", "answers"])
    await store.record_answer(DAY + dt.timedelta(days=9), "national", "en", ["no_wait", "answers"])

    assert await store.counts(DAY, DAY + dt.timedelta(days=1)) == [
        Row(DAY, "tianjin", "en", "answers", 2),
        Row(DAY, "tianjin", "en", "cap_down", 1),
        Row(DAY, "tianjin", "en", "wait_4", 2),
        Row(DAY, "tianjin", "zh_Hans", "answers", 1),
        Row(DAY, "tianjin", "zh_Hans", "exempt", 1),
        Row(DAY + dt.timedelta(days=1), "xizang", "bo", "answers", 1),
        Row(DAY + dt.timedelta(days=1), "xizang", "bo", "no_cover", 1),
    ]
    # Both ends are included; days outside are not.
    later = await store.counts(DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=9))
    assert {(row.day, row.outcome) for row in later} == {
        (DAY + dt.timedelta(days=1), "answers"),
        (DAY + dt.timedelta(days=1), "no_cover"),
        (DAY + dt.timedelta(days=9), "answers"),
        (DAY + dt.timedelta(days=9), "no_wait"),
    }
    assert await store.counts(DAY - dt.timedelta(days=30), DAY - dt.timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("region", "locale", "outcomes"),
    [
        ("Zhang San", "en", ["answers"]),
        ("tianjin", "xx", ["answers"]),
        ("tianjin", "en", ["13800138000"]),
        ("tianjin", "en", ["wait_4 Zhang San"]),
    ],
)
async def test_counters_take_only_known_codes(
    store: CampaignStore, region: str, locale: str, outcomes: list[str]
) -> None:
    with pytest.raises(ValueError):
        await store.record_answer(DAY, region, locale, outcomes)
    assert await store.counts(DAY, DAY) == []


async def test_reminders_come_due_at_their_send_time_oldest_first(store: CampaignStore) -> None:
    await store.add_reminder(USER, USER, "wait_ends", DAY + dt.timedelta(days=2), "en", {"a": 1})
    await store.add_reminder(OTHER, -OTHER, "period_closing", DAY, "bo", {"closes": "2026-12-31"})

    moment = send_time(DAY)
    assert await store.due_reminders(moment - dt.timedelta(seconds=1), 10) == []
    (first,) = await store.due_reminders(moment, 10)
    assert (first.user_id, first.chat_id, first.kind, first.due, first.locale, first.payload) == (
        OTHER,
        -OTHER,
        "period_closing",
        DAY,
        "bo",
        {"closes": "2026-12-31"},
    )
    both = await store.due_reminders(send_time(DAY + dt.timedelta(days=5)), 10)
    assert [(r.user_id, r.kind) for r in both] == [(OTHER, "period_closing"), (USER, "wait_ends")]
    assert len(await store.due_reminders(send_time(DAY + dt.timedelta(days=5)), 1)) == 1


async def test_a_second_opt_in_replaces_the_first(store: CampaignStore) -> None:
    await store.add_reminder(USER, USER, "wait_ends", DAY, "en", {})
    await store.add_reminder(USER, USER, "wait_ends", DAY + dt.timedelta(days=1), "bo", {})
    (only,) = await store.due_reminders(send_time(DAY + dt.timedelta(days=9)), 10)
    assert (only.due, only.locale) == (DAY + dt.timedelta(days=1), "bo")


async def test_mark_sent_drops_it_unless_replaced_meanwhile(store: CampaignStore) -> None:
    later = send_time(DAY + dt.timedelta(days=9))
    await store.add_reminder(USER, USER, "wait_ends", DAY, "en", {})
    (sent,) = await store.due_reminders(later, 10)
    await store.mark_sent(sent)
    assert await store.due_reminders(later, 10) == []

    await store.add_reminder(USER, USER, "period_closing", DAY, "en", {})
    (stale,) = await store.due_reminders(later, 10)
    await store.add_reminder(USER, USER, "period_closing", DAY + dt.timedelta(days=1), "en", {})
    await store.mark_sent(stale)
    assert [r.due for r in await store.due_reminders(later, 10)] == [DAY + dt.timedelta(days=1)]


async def test_forget_cancels_every_reminder_of_the_user(store: CampaignStore) -> None:
    await store.add_reminder(USER, USER, "wait_ends", DAY, "en", {})
    await store.add_reminder(USER, -100500, "period_closing", DAY, "en", {})
    await store.add_reminder(OTHER, OTHER, "wait_ends", DAY, "en", {})

    assert await store.forget(USER) == 2
    assert await store.forget(USER) == 0
    remaining = await store.due_reminders(send_time(DAY), 10)
    assert [r.user_id for r in remaining] == [OTHER]


async def test_an_unknown_kind_is_refused(store: CampaignStore) -> None:
    with pytest.raises(ValueError):
        await store.add_reminder(USER, USER, "birthday", DAY, "en", {})  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["sqlite", "redis"], indirect=True)  # memory forgets by design
async def test_reminders_survive_a_restart(backend: Backend) -> None:
    store = await backend.open()
    await store.add_reminder(USER, USER, "wait_ends", DAY, "zh_Hans", {"benefit_year": 2027})
    await store.record_answer(DAY, "shanxi", "en", ["no_wait", "answers"])

    reopened = await backend.restart()
    (reminder,) = await reopened.due_reminders(send_time(DAY), 10)
    assert (reminder.user_id, reminder.due, reminder.payload) == (USER, DAY, {"benefit_year": 2027})
    assert len(await reopened.counts(DAY, DAY)) == 2


async def test_the_store_follows_the_fsm_storage(backend: Backend) -> None:
    store = await backend.open()
    expected = {
        "memory": MemoryCampaignStore,
        "sqlite": SQLiteCampaignStore,
        "redis": RedisCampaignStore,
    }
    assert type(store) is expected[backend.name]


def _everything_sqlite(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(path)) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [name for (name,) in found]
        return {table: conn.execute(f"SELECT * FROM {table}").fetchall() for table in tables}


async def test_sqlite_stats_hold_no_user_id_and_forget_leaves_none(tmp_path: Path) -> None:
    backend = Backend("sqlite", tmp_path, None)
    store = await backend.open()
    try:
        await store.record_answer(DAY, "tianjin", "en", ["wait_4", "answers"])
        await store.add_reminder(USER, USER, "wait_ends", DAY, "en", {"benefit_year": 2027})
        with closing(sqlite3.connect(backend.path)) as conn:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(campaign_counts)")]
        assert columns == ["bot_id", "day", "region", "locale", "outcome", "count"]
        tables = _everything_sqlite(backend.path)
        assert str(USER) not in repr(tables["campaign_counts"])
        assert str(USER) in repr(tables["campaign_reminders"])  # only to know where to send

        assert await store.forget(USER) == 1
        assert str(USER) not in repr(_everything_sqlite(backend.path))
    finally:
        await backend.close()


async def test_redis_stats_hold_no_user_id_and_forget_leaves_none(
    redis_client: redis.asyncio.Redis,
) -> None:
    store = RedisCampaignStore(redis_client)
    await store.record_answer(DAY, "tianjin", "en", ["wait_4", "answers"])
    await store.add_reminder(USER, USER, "wait_ends", DAY, "en", {"benefit_year": 2027})
    # Some conversation state of the same user, which is not the campaign's to touch.
    await redis_client.set(f"fsm:{USER}:x", "1")

    async def dump(pattern: str) -> str:
        parts = []
        async for key in redis_client.scan_iter(match=pattern):
            kind = (await redis_client.type(key)).decode()
            value = {
                "hash": redis_client.hgetall,
                "zset": lambda k: redis_client.zrange(k, 0, -1, withscores=True),
            }.get(kind, redis_client.get)(key)
            parts.append(f"{key!r}={await value!r}")
        return "\n".join(parts)

    stats = await dump("yibao:*stats*")
    assert "tianjin|en|wait_4" in stats and str(USER) not in stats
    assert str(USER) in await dump("yibao:*reminder*")

    assert await store.forget(USER) == 1
    assert str(USER) not in await dump("yibao:*")
    assert await redis_client.exists(f"fsm:{USER}:x")
