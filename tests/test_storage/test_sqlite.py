"""SQLiteStorage behaviour."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey

from bot.storage import SQLiteStorage, forget_user


class Survey(StatesGroup):
    """A small questionnaire."""

    age = State()
    city = State()


def key(user_id: int = 42, chat_id: int = 42, destiny: str = "default") -> StorageKey:
    """Build a storage key."""
    return StorageKey(bot_id=1, chat_id=chat_id, user_id=user_id, destiny=destiny)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return a database path inside a folder that does not exist yet."""
    return tmp_path / "nested" / "fsm.sqlite3"


@pytest.fixture
async def storage(db_path: Path) -> AsyncIterator[SQLiteStorage]:
    """Yield a storage and close it afterwards."""
    store = SQLiteStorage(db_path)
    yield store
    await store.close()


async def test_round_trip(storage: SQLiteStorage) -> None:
    assert await storage.get_state(key()) is None
    assert await storage.get_data(key()) == {}
    await storage.set_state(key(), Survey.age)
    await storage.set_data(key(), {"name": "李雷", "n": 1})
    assert await storage.get_state(key()) == "Survey:age"
    assert await storage.get_data(key()) == {"name": "李雷", "n": 1}
    assert await storage.update_data(key(), {"n": 2}) == {"name": "李雷", "n": 2}
    await storage.set_state(key(), "raw")
    assert await storage.get_state(key()) == "raw"
    assert await storage.get_value(key(), "n") == 2


async def test_survives_reopen(db_path: Path) -> None:
    first = SQLiteStorage(db_path)
    await first.set_state(key(), Survey.city)
    await first.update_data(key(), {"age": 67, "hukou": "rural"})
    # No close(): a crashed process never gets to close the file.
    second = SQLiteStorage(db_path)
    try:
        assert await second.get_state(key()) == Survey.city.state
        assert await second.get_data(key()) == {"age": 67, "hukou": "rural"}
    finally:
        await second.close()
        await first.close()
    assert db_path.is_file()


@pytest.mark.slow
async def test_survives_process_kill(db_path: Path) -> None:
    # The writer exits via os._exit, skipping close() and every finaliser, like a crash.
    script = (
        "import asyncio, os, sys\n"
        "from aiogram.fsm.storage.base import StorageKey\n"
        "from bot.storage import SQLiteStorage\n"
        "s = SQLiteStorage(sys.argv[1])\n"
        "k = StorageKey(bot_id=1, chat_id=42, user_id=42)\n"
        "asyncio.run(s.set_state(k, 'Survey:city'))\n"
        "asyncio.run(s.set_data(k, {'age': 67}))\n"
        "os._exit(0)\n"
    )
    root = Path(__file__).parents[2]
    subprocess.run([sys.executable, "-c", script, str(db_path)], check=True, timeout=60, cwd=root)
    reopened = SQLiteStorage(db_path)
    try:
        assert await reopened.get_state(key()) == "Survey:city"
        assert await reopened.get_data(key()) == {"age": 67}
    finally:
        await reopened.close()


async def test_clearing_removes_rows(storage: SQLiteStorage) -> None:
    await storage.set_state(key(), Survey.age)
    await storage.set_data(key(), {"a": 1})
    await storage.set_state(key(), None)
    assert await storage.get_state(key()) is None
    assert await storage.get_data(key()) == {"a": 1}
    assert await storage.count_rows() == 1
    await storage.set_data(key(), {})
    assert await storage.get_data(key()) == {}
    assert await storage.count_rows() == 0


async def test_destiny_isolation(storage: SQLiteStorage) -> None:
    await storage.set_state(key(destiny="default"), Survey.age)
    await storage.set_data(key(destiny="other"), {"x": 1})
    assert await storage.get_state(key(destiny="other")) is None
    assert await storage.get_data(key(destiny="default")) == {}
    assert await storage.get_data(key(destiny="other")) == {"x": 1}


async def test_forget_user_only_that_user(storage: SQLiteStorage) -> None:
    for destiny in ("default", "other"):
        await storage.set_state(key(42, 42, destiny), Survey.age)
    await storage.set_data(key(42, -100500), {"group": True})
    for neighbour in (420, 4242, 142):
        await storage.set_state(key(neighbour, neighbour), Survey.city)
    await storage.set_data(key(7, 42), {"same chat": True})

    assert await forget_user(storage, 42) == 3
    assert await storage.count_rows() == 4
    assert await storage.get_state(key(42, 42)) is None
    assert await storage.get_data(key(42, -100500)) == {}
    assert await storage.get_state(key(420, 420)) == "Survey:city"
    assert await storage.get_data(key(7, 42)) == {"same chat": True}
    assert await storage.forget_user(42) == 0
