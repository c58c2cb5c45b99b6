"""SQLite-backed FSM storage that survives process restarts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fsm (
    key     TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    state   TEXT,
    data    TEXT
);
CREATE INDEX IF NOT EXISTS fsm_user_id ON fsm (user_id);
"""


class SQLiteStorage(BaseStorage):
    """FSM storage keeping one row (state + JSON data) per storage key in a SQLite file."""

    def __init__(self, path: str | Path, key_builder: KeyBuilder | None = None) -> None:
        """Remember where the database lives; the file is opened on first use."""
        self.path = Path(path)
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self._conn: sqlite3.Connection | None = None

    # Every statement is a single-row lookup or write on an indexed table, which takes
    # microseconds, so it runs on the event loop: a thread hop would cost more than the query.
    def _db(self) -> sqlite3.Connection:
        """Return the open connection, creating the folder, file and schema if needed."""
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL only risks the last commits on power loss, not on a process crash.
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:
                conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _write(self, key: StorageKey, column: str, value: str | None) -> None:
        """Set one column of the key's row, dropping the row once state and data are empty."""
        db_key = self.key_builder.build(key)
        with self._db() as conn:  # commits on exit, so a restart sees the write
            conn.execute(
                f"INSERT INTO fsm (key, user_id, chat_id, {column}) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (key) DO UPDATE SET {column} = excluded.{column}",
                (db_key, key.user_id, key.chat_id, value),
            )
            if value is None:
                conn.execute(
                    "DELETE FROM fsm WHERE key = ? AND state IS NULL AND data IS NULL", (db_key,)
                )

    def _read(self, key: StorageKey, column: str) -> str | None:
        """Return one column of the key's row, or None when there is no row."""
        row = (
            self._db()
            .execute(f"SELECT {column} FROM fsm WHERE key = ?", (self.key_builder.build(key),))
            .fetchone()
        )
        return None if row is None else row[0]

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Set (or with None, clear) the state for the key."""
        self._write(key, "state", state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        """Return the state for the key."""
        return self._read(key, "state")

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replace (or with {}, clear) the data for the key."""
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        self._write(key, "data", json.dumps(data, ensure_ascii=False) if data else None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """Return a fresh copy of the data for the key."""
        raw = self._read(key, "data")
        return {} if raw is None else json.loads(raw)

    async def forget_user(self, user_id: int) -> int:
        """Delete every row of the user (any chat, any destiny) and return how many went."""
        with self._db() as conn:
            conn.execute("PRAGMA secure_delete = ON")  # zero the freed pages, not just unlink
            count = conn.execute("DELETE FROM fsm WHERE user_id = ?", (user_id,)).rowcount
        # The write-ahead log still holds the old pages until it is checkpointed and truncated.
        self._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    async def count_rows(self) -> int:
        """Return how many rows are stored."""
        return int(self._db().execute("SELECT COUNT(*) FROM fsm").fetchone()[0])

    async def close(self) -> None:
        """Close the connection; a later call reopens it."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
