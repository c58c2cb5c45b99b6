"""Each update reads a person's conversation once and writes it at most once, and on Redis costs
at most four round trips, the isolation lock and the once-only record included (the cost that
made two Redis workers slower than one on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import hiredis
import pytest
from fakes.session import Person, make_person
from redis.asyncio.connection import AbstractConnection

from bot.settings import Settings

MAX_ROUND_TRIPS = 4
# What redis-py sends when it opens a connection: CLIENT SETINFO, and HELLO, AUTH, SELECT as set.
HANDSHAKE = {"CLIENT", "HELLO", "AUTH", "SELECT"}


@dataclass
class Update:
    """What one update did to the store."""

    what: str
    reads: int = 0
    writes: int = 0
    trips: list[list[tuple[str, ...]]] = field(default_factory=list)  # Redis: commands per trip


@dataclass
class Ledger:
    updates: list[Update] = field(default_factory=list)

    @property
    def current(self) -> Update:
        return self.updates[-1]


def _text(part: Any) -> str:
    return part.decode() if isinstance(part, bytes) else str(part)


def _is_conversation(key: str) -> bool:
    return key.startswith("fsm:") and key.endswith(":data")


def _sent_commands(packed: Any) -> list[tuple[str, ...]]:
    """The commands in what was written to Redis's socket at once (RESP, read by hiredis)."""
    if isinstance(packed, str):
        packed = packed.encode()
    reader = hiredis.Reader()
    reader.feed(packed if isinstance(packed, bytes) else b"".join(bytes(p) for p in packed))
    commands = []
    while (command := reader.gets()) is not False:
        commands.append(tuple(_text(part) for part in command))
    return commands


@contextmanager
def redis_traffic(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record every round trip to Redis: what a connection writes to its socket at once (one
    command, or several pipelined), however redis-py was asked to send it."""
    send = AbstractConnection.send_packed_command

    def note(commands: list[tuple[str, ...]]) -> None:
        if not ledger.updates or all(c[0].upper() in HANDSHAKE for c in commands):
            return  # opening a connection, once per connection (not per update)
        update = ledger.current
        update.trips.append(commands)
        for name, *args in commands:
            if args and _is_conversation(args[0]):
                if name.upper() == "GET":
                    update.reads += 1
                elif name.upper() in ("SET", "DEL", "SETEX"):
                    update.writes += 1

    async def send_packed_command(
        self: AbstractConnection, command: Any, check_health: bool = True
    ) -> None:
        note(_sent_commands(command))
        await send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", send_packed_command)
    yield


def count_storage_calls(ledger: Ledger, storage: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Count the conversation reads and writes of a storage that is not Redis (SQLite)."""
    get, put = storage.get_data, storage.set_data

    async def get_data(key: Any) -> dict[str, Any]:
        ledger.current.reads += 1
        return await get(key)

    async def set_data(key: Any, data: Any) -> None:
        ledger.current.writes += 1
        await put(key, data)

    monkeypatch.setattr(storage, "get_data", get_data)
    monkeypatch.setattr(storage, "set_data", set_data)


def watch(person: Person, ledger: Ledger) -> None:
    """Open a ledger entry for every update fed to the person's dispatcher."""
    feed = person.dispatcher.feed_update

    async def feed_update(bot: Any, update: Any, **kwargs: Any) -> Any:
        kind = update.event_type
        what = update.message.text if kind == "message" else update.callback_query.data
        ledger.updates.append(Update(f"{kind} {what}"))
        return await feed(bot, update, **kwargs)

    person.dispatcher.feed_update = feed_update


async def whole_survey(person: Person) -> None:
    """First contact to the answer, with a typed year, a bad input, a toggle, Back, the reasons,
    a what-if, the answer again, and a restart."""
    await person.say("/start")
    await person.press("English")
    await person.press("Xizang")
    await person.say("not a year")  # bad input: the question again
    await person.say("2027")
    await person.press("None")
    await person.press("None of these")
    await person.press("2025")  # marked
    await person.press("2025")  # unmarked
    await person.press("Back")
    await person.press("None of these")
    await person.press("Done")
    await person.press("Within the payment period")
    while "Your answers" not in person.last.text:
        await person.press("Done" if "pay nothing" in person.last.text else "None")
    await person.press("Show my result")
    await person.press("Why?")
    await person.press("Back to my result")
    await person.press("What if I repair")
    await person.press("Back to my answer")
    await person.say("/restart")


@pytest.mark.slow
async def test_each_update_reads_once_writes_once_and_redis_needs_four_round_trips(
    store: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, **store)
    person = make_person(settings, memory=False)
    storage = person.dispatcher.storage
    ledger = Ledger()
    watch(person, ledger)
    on_redis = "redis_url" in store
    if on_redis:
        context = redis_traffic(ledger, monkeypatch)
    else:
        count_storage_calls(ledger, storage, monkeypatch)
        context = contextmanager(lambda: iter([None]))()
    with context:
        # A first update opens the connection (a handshake is not a round trip per update).
        other = Person(person.dispatcher, person.bot, person.session, user_id=999)
        await other.say("/help")
        ledger.updates.clear()
        await whole_survey(person)
    await storage.close()

    # (whole_survey presses only buttons it finds: reaching its end walked the whole survey)
    assert len(ledger.updates) >= 20
    for update in ledger.updates:
        assert update.reads == 1, update  # a person's update reads their conversation once
        assert update.writes <= 1, update
        if on_redis:
            assert len(update.trips) <= MAX_ROUND_TRIPS, "\n".join(map(str, update.trips))
            claims = [c for trip in update.trips for c in trip if ":update:" in " ".join(c)]
            assert len(claims) == 1, update  # the once-only record is among them
    # Most updates change the conversation, and each of those wrote it once.
    assert sum(u.writes for u in ledger.updates) >= len(ledger.updates) - 3
    if on_redis:
        trips = sorted(len(u.trips) for u in ledger.updates)
        print(f"Redis round trips per update: {trips}")
