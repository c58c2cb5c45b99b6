"""SQLite-backed FSM storage that survives process restarts."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import OrderedDict
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

from bot.storage.migrate import upgrade_sqlite

ROWS_KEPT = 10_000
DEFAULT_TTL_DAYS = 60  # one enrolment campaign (STATE_TTL_DAYS)
SWEEP_EVERY = 3600.0  # seconds between deletions of expired conversations
_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fsm (
    key     TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    state   TEXT,
    data    TEXT,
    at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fsm_user_id ON fsm (user_id);
CREATE INDEX IF NOT EXISTS fsm_at ON fsm (at);
CREATE TABLE IF NOT EXISTS updates (
    bot_id    INTEGER NOT NULL,
    update_id INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS updates_at ON updates (at);
"""


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the state file in WAL mode, with the folder, file and `schema` made.

    The folder is made 0700 and the file 0600 (its -wal and -shm files take the file's mode),
    also when an older release left them readable by others. Deletes overwrite the freed
    pages (`secure_delete`). The FSM storage and the campaign store each hold one connection
    to the same file; the timeout covers the other's brief write locks.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists() and name.stat().st_mode & 0o077:
            name.chmod(0o600)
    conn = sqlite3.connect(path, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL only risks the last commits on power loss, not on a process crash.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA secure_delete=ON")
    upgrade_sqlite(conn)  # before the schema: older tables are rebuilt, not left half-new
    with conn:
        conn.executescript(schema)
    return conn


def scrub(conn: sqlite3.Connection) -> None:
    """Write the log back into the file and empty it, so deleted rows are gone from both."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class StateFileError(RuntimeError):
    """The state file exists but is not a sound SQLite database; it is left as it is."""


def check_state_file(path: Path) -> None:
    """Raise StateFileError unless `path` is absent (a new file will be made) or a sound database.

    Read-only: a refused file is never written to. A 0-byte file is refused too, since a state
    file emptied by a bad copy or a full disk would otherwise start over with every conversation
    lost; delete it to start afresh.
    """
    try:
        with path.open("rb") as file:
            header = file.read(len(_HEADER))
    except FileNotFoundError:
        return
    except OSError as error:
        raise StateFileError(f"{path} cannot be read ({error.strerror})") from None
    if not header:
        raise StateFileError(f"{path} is empty (0 bytes), not a SQLite database")
    if header != _HEADER:
        raise StateFileError(f"{path} is not a SQLite database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            found = [row[0] for row in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise StateFileError(f"{path} is damaged ({error})") from None
    if found != ["ok"]:
        raise StateFileError(f"{path} is damaged (quick_check: {found[0] if found else '?'})")


class SQLiteStorage(BaseStorage):
    """FSM storage keeping one row (state + JSON data) per storage key in a SQLite file."""

    def __init__(
        self,
        path: str | Path,
        key_builder: KeyBuilder | None = None,
        *,
        ttl_days: int = DEFAULT_TTL_DAYS,
    ) -> None:
        """Remember where the database lives; the file is opened on first use.

        A conversation not changed for `ttl_days` days is deleted (STATE_TTL_DAYS).
        """
        self.path = Path(path)
        self.ttl = ttl_days * 86_400
        self._swept = 0.0  # when expired rows were last deleted (time.time())
        self.key_builder = key_builder or DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        self._conn: sqlite3.Connection | None = None
        # The rows this process read or wrote last, as (state, data JSON): an update reads its
        # row about eight times and writes it three to five times, mostly unchanged. One process
        # owns the file (several workers share Redis instead), so the copy cannot go stale.
        self._rows: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    # Every statement is a single-row lookup or write on an indexed table, which takes
    # microseconds, so it runs on the event loop: a thread hop would cost more than the query.
    def _db(self) -> sqlite3.Connection:
        """Return the open connection, creating the folder, file and schema if needed."""
        if self._conn is None:
            self._conn = connect(self.path, _SCHEMA)
            self.sweep()
        return self._conn

    def sweep(self, now: float | None = None) -> int:
        """Delete the conversations not changed for the TTL; return how many went.

        Runs when the file is opened and then at most once per SWEEP_EVERY seconds of writes.
        """
        now = time.time() if now is None else now
        self._swept = now
        with self._db() as conn:
            gone = conn.execute("DELETE FROM fsm WHERE at < ?", (int(now - self.ttl),)).rowcount
        if gone:
            scrub(self._db())
            self._rows.clear()
        return gone

    def connection(self) -> sqlite3.Connection:
        """The open connection (made on first use), for other tables kept in the same file."""
        return self._db()

    def forget_cached(self) -> None:
        """Drop the rows kept in memory, after something else rewrote the table."""
        self._rows.clear()

    def _row(self, db_key: str) -> tuple[str | None, str | None]:
        """(state, data) of a key, from the copy kept or else from the file."""
        row = self._rows.get(db_key)
        if row is None:
            found = (
                self._db()
                .execute("SELECT state, data FROM fsm WHERE key = ?", (db_key,))
                .fetchone()
            )
            row = (None, None) if found is None else (found[0], found[1])
            self._keep(db_key, row)
        return row

    def _keep(self, db_key: str, row: tuple[str | None, str | None]) -> None:
        self._rows[db_key] = row
        self._rows.move_to_end(db_key)
        if len(self._rows) > ROWS_KEPT:
            self._rows.popitem(last=False)

    def _write(self, key: StorageKey, column: str, value: str | None) -> None:
        """Set one column of the key's row, dropping the row once state and data are empty."""
        db_key = self.key_builder.build(key)
        state, data = self._row(db_key)
        row = (value, data) if column == "state" else (state, value)
        if row == (state, data):
            return  # already so in the file
        now = time.time()
        with self._db() as conn:  # commits on exit, so a restart sees the write
            if row == (None, None):
                conn.execute("DELETE FROM fsm WHERE key = ?", (db_key,))
            else:
                conn.execute(
                    f"INSERT INTO fsm (key, user_id, chat_id, {column}, at) "
                    f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE "
                    f"SET {column} = excluded.{column}, at = excluded.at",
                    (db_key, key.user_id, key.chat_id, value, int(now)),
                )
        self._keep(db_key, row)
        if now - self._swept > SWEEP_EVERY:
            self.sweep(now)

    def _read(self, key: StorageKey, column: str) -> str | None:
        """Return one column of the key's row, or None when there is no row."""
        state, data = self._row(self.key_builder.build(key))
        return state if column == "state" else data

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
        with self._db() as conn:  # secure_delete is on: the freed pages are zeroed
            count = conn.execute("DELETE FROM fsm WHERE user_id = ?", (user_id,)).rowcount
        # The write-ahead log still holds the old pages until it is checkpointed and truncated.
        scrub(self._db())
        self._rows.clear()
        return count

    def verify(self) -> None:
        """At start-up: refuse a damaged state file (StateFileError), then open or create it."""
        check_state_file(self.path)
        self._db()

    def probe(self) -> str | None:
        """None when the file still serves a cheap read, else a short reason (no contents)."""
        if not self.path.exists():
            return "state file is gone"
        try:
            self._db().execute("SELECT 1 FROM fsm LIMIT 1").fetchall()
        except sqlite3.Error:
            return "state file cannot be read"
        return None

    async def count_rows(self) -> int:
        """Return how many rows are stored."""
        return int(self._db().execute("SELECT COUNT(*) FROM fsm").fetchone()[0])

    async def close(self) -> None:
        """Close the connection; a later call reopens it."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._rows.clear()
