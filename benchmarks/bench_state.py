"""Bytes of state kept per conversation in SQLite and in Redis, after a whole survey.

Run by hand: `python benchmarks/bench_state.py [--redis redis://127.0.0.1:6379/0]`; without
--redis a temporary redis-server is started when one is on PATH. Prints figures, no asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from aiogram import Bot
from common import free_port  # this folder is on sys.path when run as a script
from surveys import LocalSession, run_surveys

from bot.app import create_dispatcher
from bot.settings import Settings
from bot.storage import SQLiteStorage

USERS = 50


async def survey(settings: Settings, storage, users: int) -> None:
    session = LocalSession()
    dispatcher = create_dispatcher(settings, storage)
    await run_surveys(dispatcher, Bot("1:BENCH", session=session), session, users, 1)
    await dispatcher.storage.close()


async def sqlite_bytes(folder: Path) -> float:
    settings = Settings(_env_file=None, data_dir=folder)
    path = folder / "yibao.sqlite3"
    await survey(settings, SQLiteStorage(path), USERS)
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        size = 0
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                size += sum(len(str(v).encode()) for v in row if v is not None)
    return size / USERS


async def redis_bytes(url: str) -> float:
    from aiogram.fsm.storage.base import DefaultKeyBuilder
    from aiogram.fsm.storage.redis import RedisStorage

    storage = RedisStorage.from_url(url, key_builder=DefaultKeyBuilder(with_destiny=True))
    await storage.redis.flushdb()
    await survey(Settings(_env_file=None, redis_url=url), storage, USERS)
    storage = RedisStorage.from_url(url)
    total = 0
    async for key in storage.redis.scan_iter("*"):
        usage = await storage.redis.memory_usage(key)
        total += usage or 0
    await storage.redis.aclose()
    return total / USERS


async def main(redis_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"SQLite: {await sqlite_bytes(Path(tmp)):,.0f} bytes of row data per conversation "
            f"(target < 2,048)"
        )
    server = None
    if redis_url is None and shutil.which("redis-server"):
        port = free_port()
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        redis_url = f"redis://127.0.0.1:{port}/0"
    try:
        if redis_url:
            print(
                f"Redis: {await redis_bytes(redis_url):,.0f} bytes (MEMORY USAGE) per "
                f"conversation, keys included (target < 2,048)"
            )
    finally:
        if server:
            server.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis")
    asyncio.run(main(parser.parse_args().redis))
