"""The campaign store: anonymous counters and opt-in reminders, beside the FSM state."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from bot.i18n import LOCALES
from bot.storage import SQLiteStorage
from bot.storage.migrate import bot_keys
from bot.storage.sqlite import connect, scrub
from rules import REGIONS

Kind = Literal["period_closing", "wait_ends"]
KINDS: tuple[Kind, ...] = get_args(Kind)
# China has one time zone and no daylight saving, so a fixed offset needs no tz database.
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
SEND_TIME = dt.time(10, 0)  # mid-morning of the due day, not midnight
# KEYS: the day's tags, the day's counters, the days counted; ARGV: the tag, the tags' expiry,
# the day (ISO and ordinal), then counter field and increment pairs.
_COUNT_ANSWER = """
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if added == 1 then
  for i = 5, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
end
return added
"""
SEEN_SECONDS = 2 * 86_400  # a day's tags outlive the day by a day at most (time zones)
_OUTCOME = re.compile(r"exempt|no_wait|no_cover|cap_up|cap_down|answers|wait_\d{1,2}")


class Row(NamedTuple):
    """One counter: how many answers of a day, region and language had an outcome."""

    day: dt.date
    region: str
    locale: str
    outcome: str
    # Shadows tuple.count(), which nothing calls on a Row; the name is the table's column.
    count: int  # type: ignore[assignment]


@dataclass(frozen=True)
class Reminder:
    """One reminder a person asked for; `due` is the day it is sent."""

    user_id: int
    chat_id: int
    kind: Kind
    due: dt.date
    locale: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def send_at(self) -> dt.datetime:
        """When it goes out: SEND_TIME China time on the due day."""
        return send_time(self.due)


def send_time(due: dt.date) -> dt.datetime:
    """The moment a reminder due on `due` is sent."""
    return dt.datetime.combine(due, SEND_TIME, tzinfo=CHINA)


def _epoch(moment: dt.datetime) -> int:
    # A naive datetime is local time, as datetime.timestamp() reads it.
    return int(moment.timestamp())


def _check_counter(region: str, locale: str, outcomes: list[str]) -> None:
    """Refuse anything but known codes, so no free text can reach the counters."""
    if region not in REGIONS or locale not in LOCALES:
        raise ValueError("unknown region or locale")
    if not all(_OUTCOME.fullmatch(outcome) for outcome in outcomes):
        raise ValueError("unknown outcome kind")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown reminder kind {kind!r}")


class CampaignStore(ABC):
    """Counters by day × region × language × outcome, and reminders by user and kind.

    Everything is filed under `bot_id` (bot/storage/migrate.py): a staging bot sharing the
    store neither counts nor sends the real bot's. `bind` sets it before the first update.
    """

    bot_id: int = 0

    _secret: bytes | None = None

    def bind(self, bot_id: int) -> None:
        """File what follows under `bot_id` (the running bot's id)."""
        self.bot_id = bot_id

    def set_secret(self, secret: bytes) -> None:
        """The secret the day keys of `first_today` come from (see there); never stored."""
        self._secret = secret

    def tag(self, person: str, day: dt.date) -> str:
        """A keyed hash of `person` (a user id, and a volunteer's survey) under `day`'s key:
        equal within a day, unlinkable across days, unreadable without the secret, which lives
        in memory only."""
        if self._secret is None:
            self._secret = os.urandom(32)
        day_key = hmac.digest(self._secret, day.isoformat().encode(), "sha256")
        return hmac.digest(day_key, person.encode(), "sha256")[:16].hex()

    async def first_today(self, person: str, day: dt.date) -> bool:
        """True the first time `person` gets an answer on `day`, so an answer counts once per
        person per day; what is kept is the day's tags (`tag`), not who. Tags of earlier
        days are deleted."""
        return await self._add_tag(day, self.tag(person, day))

    async def count_answer(
        self, person: str, day: dt.date, region: str, locale: str, outcomes: list[str]
    ) -> bool:
        """Count an answer given on `day` unless `person` had one counted that day already
        (first_today, then record_answer, in one step); True when it was counted."""
        if not await self.first_today(person, day):
            return False
        await self.record_answer(day, region, locale, outcomes)
        return True

    @abstractmethod
    async def _add_tag(self, day: dt.date, tag: str) -> bool:
        """Keep `tag` for `day` (dropping earlier days' tags); True if it was new."""

    @abstractmethod
    async def record_answer(
        self, day: dt.date, region: str, locale: str, outcomes: list[str]
    ) -> None:
        """Add one to the counter of each outcome of an answer given on `day`."""

    @abstractmethod
    async def counts(self, since: dt.date, until: dt.date) -> list[Row]:
        """The counters of the days from `since` to `until` (both included), sorted."""

    @abstractmethod
    async def add_reminder(
        self,
        user_id: int,
        chat_id: int,
        kind: Kind,
        due: dt.date,
        locale: str,
        payload: dict[str, Any],
    ) -> None:
        """Keep a reminder; a person has at most one of each kind, the latest wins."""

    @abstractmethod
    async def due_reminders(self, now: dt.datetime, limit: int) -> list[Reminder]:
        """Up to `limit` reminders whose send time has come, the oldest first."""

    @abstractmethod
    async def mark_sent(self, reminder: Reminder) -> None:
        """Drop a sent reminder (unless it was replaced by a newer one meanwhile)."""

    @abstractmethod
    async def forget(self, user_id: int) -> int:
        """Cancel every reminder of `user_id`; return how many there were."""

    async def close(self) -> None:  # noqa: B027 - most stores hold nothing of their own
        """Release what the store opened itself."""


class MemoryCampaignStore(CampaignStore):
    """For MemoryStorage: gone when the process ends, like the conversations."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[dt.date, str, str, str]] = Counter()
        self._reminders: dict[tuple[int, str], Reminder] = {}
        self._tags: tuple[dt.date, set[str]] = (dt.date.min, set())

    async def _add_tag(self, day: dt.date, tag: str) -> bool:
        if self._tags[0] != day:
            self._tags = (day, set())
        if tag in self._tags[1]:
            return False
        self._tags[1].add(tag)
        return True

    async def record_answer(
        self, day: dt.date, region: str, locale: str, outcomes: list[str]
    ) -> None:
        _check_counter(region, locale, outcomes)
        for outcome in outcomes:
            self._counts[day, region, locale, outcome] += 1

    async def counts(self, since: dt.date, until: dt.date) -> list[Row]:
        return sorted(Row(*key, n) for key, n in self._counts.items() if since <= key[0] <= until)

    async def add_reminder(
        self,
        user_id: int,
        chat_id: int,
        kind: Kind,
        due: dt.date,
        locale: str,
        payload: dict[str, Any],
    ) -> None:
        _check_kind(kind)
        # A JSON round trip, so payloads behave as in the persistent stores.
        payload = json.loads(json.dumps(payload))
        self._reminders[user_id, kind] = Reminder(user_id, chat_id, kind, due, locale, payload)

    async def due_reminders(self, now: dt.datetime, limit: int) -> list[Reminder]:
        cutoff = _epoch(now)
        due = [r for r in self._reminders.values() if _epoch(r.send_at) <= cutoff]
        due.sort(key=lambda r: (r.due, r.user_id, r.kind))
        return due[:limit]

    async def mark_sent(self, reminder: Reminder) -> None:
        key = (reminder.user_id, reminder.kind)
        current = self._reminders.get(key)
        if current is not None and current.due == reminder.due:
            del self._reminders[key]

    async def forget(self, user_id: int) -> int:
        keys = [key for key in self._reminders if key[0] == user_id]
        for key in keys:
            del self._reminders[key]
        return len(keys)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign_counts (
    bot_id  INTEGER NOT NULL,
    day     TEXT NOT NULL,
    region  TEXT NOT NULL,
    locale  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (bot_id, day, region, locale, outcome)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS campaign_reminders (
    bot_id  INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    due     TEXT NOT NULL,
    send_at INTEGER NOT NULL,
    locale  TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (bot_id, user_id, kind)
);
CREATE INDEX IF NOT EXISTS campaign_reminders_send_at ON campaign_reminders (send_at);
CREATE TABLE IF NOT EXISTS campaign_seen (
    bot_id  INTEGER NOT NULL,
    day     TEXT NOT NULL,
    tag     TEXT NOT NULL,
    PRIMARY KEY (bot_id, day, tag)
) WITHOUT ROWID;
"""


class SQLiteCampaignStore(CampaignStore):
    """Tables of their own in the SQLiteStorage's database file."""

    def __init__(self, path: str | Path) -> None:
        """Remember the file; it is opened on first use."""
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    # Like SQLiteStorage, statements run on the event loop: they are small indexed reads
    # and writes, cheaper than a hop to a thread.
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, _SCHEMA)  # a second connection to the FSM's file
        return self._conn

    async def record_answer(
        self, day: dt.date, region: str, locale: str, outcomes: list[str]
    ) -> None:
        _check_counter(region, locale, outcomes)
        rows = [
            (self.bot_id, day.isoformat(), region, locale, o, n)
            for o, n in Counter(outcomes).items()
        ]
        with self._db() as conn:
            conn.executemany(
                "INSERT INTO campaign_counts VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                rows,
            )

    async def counts(self, since: dt.date, until: dt.date) -> list[Row]:
        cursor = self._db().execute(
            "SELECT day, region, locale, outcome, count FROM campaign_counts "
            "WHERE bot_id = ? AND day BETWEEN ? AND ? ORDER BY day, region, locale, outcome",
            (self.bot_id, since.isoformat(), until.isoformat()),
        )
        return [Row(dt.date.fromisoformat(d), *rest) for d, *rest in cursor]

    async def add_reminder(
        self,
        user_id: int,
        chat_id: int,
        kind: Kind,
        due: dt.date,
        locale: str,
        payload: dict[str, Any],
    ) -> None:
        _check_kind(kind)
        with self._db() as conn:
            conn.execute(
                "INSERT INTO campaign_reminders VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (bot_id, user_id, kind) DO UPDATE SET chat_id = excluded.chat_id, "
                "due = excluded.due, send_at = excluded.send_at, locale = excluded.locale, "
                "payload = excluded.payload",
                (
                    self.bot_id,
                    user_id,
                    kind,
                    chat_id,
                    due.isoformat(),
                    _epoch(send_time(due)),
                    locale,
                    json.dumps(payload, ensure_ascii=False),
                ),
            )

    async def due_reminders(self, now: dt.datetime, limit: int) -> list[Reminder]:
        cursor = self._db().execute(
            "SELECT user_id, chat_id, kind, due, locale, payload FROM campaign_reminders "
            "WHERE bot_id = ? AND send_at <= ? ORDER BY send_at, user_id, kind LIMIT ?",
            (self.bot_id, _epoch(now), limit),
        )
        return [
            Reminder(user, chat, kind, dt.date.fromisoformat(due), locale, json.loads(payload))
            for user, chat, kind, due, locale, payload in cursor
        ]

    async def mark_sent(self, reminder: Reminder) -> None:
        with self._db() as conn:
            conn.execute(
                "DELETE FROM campaign_reminders "
                "WHERE bot_id = ? AND user_id = ? AND kind = ? AND due = ?",
                (self.bot_id, reminder.user_id, reminder.kind, reminder.due.isoformat()),
            )

    async def _add_tag(self, day: dt.date, tag: str) -> bool:
        with self._db() as conn:
            conn.execute(
                "DELETE FROM campaign_seen WHERE bot_id = ? AND day < ?",
                (self.bot_id, day.isoformat()),
            )
            return (
                conn.execute(
                    "INSERT OR IGNORE INTO campaign_seen VALUES (?, ?, ?)",
                    (self.bot_id, day.isoformat(), tag),
                ).rowcount
                == 1
            )

    async def forget(self, user_id: int) -> int:
        with self._db() as conn:  # secure_delete is on: the freed pages are zeroed
            gone = conn.execute(
                "DELETE FROM campaign_reminders WHERE bot_id = ? AND user_id = ?",
                (self.bot_id, user_id),
            ).rowcount
        scrub(self._db())  # and the log that still held them is emptied
        return gone

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# Deletes a sent reminder only if it still has the due day it was sent for.
_MARK_SENT = """
if redis.call('HGET', KEYS[1], 'due') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisCampaignStore(CampaignStore):
    """Keys under `yibao:<bot_id>:` in the RedisStorage's database.

    stats:days (sorted set of days), stats:<day> (hash region|locale|outcome -> count),
    reminders (sorted set user:kind by send time), reminder:<user>:<kind> (hash).
    """

    def __init__(self, redis: Redis) -> None:
        """Use `redis` (the FSM storage's client; it is closed with the storage)."""
        self.redis = redis
        self._mark_sent = redis.register_script(_MARK_SENT)

    @property
    def prefix(self) -> str:
        """`yibao:<bot_id>:`, where this bot's keys start."""
        return bot_keys(self.bot_id)

    def _reminder_key(self, user_id: int, kind: str) -> str:
        return f"{self.prefix}reminder:{user_id}:{kind}"

    @property
    def _queue(self) -> str:
        return f"{self.prefix}reminders"

    def _key(self, kind: str, day: dt.date | str) -> str:
        """A day's key: `seen` (its count tags) or `stats` (its counters)."""
        return f"{self.prefix}{kind}:{day if isinstance(day, str) else day.isoformat()}"

    @property
    def _days(self) -> str:
        return f"{self.prefix}stats:days"

    @staticmethod
    def _fields(region: str, locale: str, outcomes: list[str]) -> dict[str, int]:
        """The counter fields an answer adds to (`region|locale|outcome` -> how many);
        ValueError for anything but known codes."""
        _check_counter(region, locale, outcomes)
        return {f"{region}|{locale}|{outcome}": n for outcome, n in Counter(outcomes).items()}

    async def record_answer(
        self, day: dt.date, region: str, locale: str, outcomes: list[str]
    ) -> None:
        fields = self._fields(region, locale, outcomes)
        async with self.redis.pipeline(transaction=True) as pipe:
            for field, n in fields.items():
                pipe.hincrby(self._key("stats", day), field, n)
            pipe.zadd(self._days, {day.isoformat(): day.toordinal()})
            await pipe.execute()

    async def count_answer(
        self, person: str, day: dt.date, region: str, locale: str, outcomes: list[str]
    ) -> bool:
        # One round trip (a webhook update's budget is four): the day's tag and, when it is
        # new, the counters, in one script. EVAL, not EVALSHA: a first call would cost three.
        fields = self._fields(region, locale, outcomes)
        keys = [self._key("seen", day), self._key("stats", day), self._days]
        tag = self.tag(person, day)
        pairs = [part for field, n in fields.items() for part in (field, n)]
        args = [tag, SEEN_SECONDS, day.isoformat(), day.toordinal(), *pairs]
        added = await self.redis.eval(_COUNT_ANSWER, len(keys), *keys, *args)  # type: ignore[misc]
        return bool(added)

    async def counts(self, since: dt.date, until: dt.date) -> list[Row]:
        days = [
            _text(day)
            for day in await self.redis.zrangebyscore(
                self._days, since.toordinal(), until.toordinal()
            )
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self._key("stats", day))
            hashes = await pipe.execute()
        rows = []
        for day, counters in zip(days, hashes, strict=True):
            for name, count in counters.items():
                region, locale, outcome = _text(name).split("|")
                rows.append(Row(dt.date.fromisoformat(day), region, locale, outcome, int(count)))
        return sorted(rows)

    async def add_reminder(
        self,
        user_id: int,
        chat_id: int,
        kind: Kind,
        due: dt.date,
        locale: str,
        payload: dict[str, Any],
    ) -> None:
        _check_kind(kind)
        key = self._reminder_key(user_id, kind)
        fields = {
            "user_id": user_id,
            "chat_id": chat_id,
            "kind": kind,
            "due": due.isoformat(),
            "locale": locale,
            "payload": json.dumps(payload, ensure_ascii=False),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.zadd(self._queue, {f"{user_id}:{kind}": _epoch(send_time(due))})
            await pipe.execute()

    async def due_reminders(self, now: dt.datetime, limit: int) -> list[Reminder]:
        members = [
            _text(m)
            for m in await self.redis.zrangebyscore(
                self._queue, "-inf", _epoch(now), start=0, num=limit
            )
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in members:
                user, kind = member.split(":")
                pipe.hgetall(self._reminder_key(int(user), kind))
            hashes = await pipe.execute()
        reminders = []
        for raw in hashes:
            fields = {_text(k): _text(v) for k, v in raw.items()}
            if fields:
                reminders.append(
                    Reminder(
                        int(fields["user_id"]),
                        int(fields["chat_id"]),
                        fields["kind"],  # type: ignore[arg-type]
                        dt.date.fromisoformat(fields["due"]),
                        fields["locale"],
                        json.loads(fields["payload"]),
                    )
                )
        return reminders

    async def mark_sent(self, reminder: Reminder) -> None:
        await self._mark_sent(
            keys=[self._reminder_key(reminder.user_id, reminder.kind), self._queue],
            args=[reminder.due.isoformat(), f"{reminder.user_id}:{reminder.kind}"],
        )

    async def _add_tag(self, day: dt.date, tag: str) -> bool:
        key = self._key("seen", day)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, tag)
            pipe.expire(key, SEEN_SECONDS)
            added, _ = await pipe.execute()
        return bool(added)

    async def forget(self, user_id: int) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            for kind in KINDS:
                pipe.delete(self._reminder_key(user_id, kind))
            pipe.zrem(self._queue, *(f"{user_id}:{kind}" for kind in KINDS))
            *deleted, _ = await pipe.execute()
        return int(sum(deleted))


def create_campaign_store(fsm_storage: BaseStorage) -> CampaignStore:
    """The campaign store that lives where `fsm_storage` keeps the conversations."""
    if isinstance(fsm_storage, SQLiteStorage):
        return SQLiteCampaignStore(fsm_storage.path)
    if isinstance(fsm_storage, RedisStorage):
        return RedisCampaignStore(fsm_storage.redis)
    if isinstance(fsm_storage, MemoryStorage):
        return MemoryCampaignStore()
    msg = f"no campaign store for {type(fsm_storage).__name__}"
    raise TypeError(msg)
