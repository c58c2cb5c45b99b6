"""Shared pytest fixtures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import redis
import redis.asyncio
from fakes.bot_api import FakeBotAPI
from fakes.redis_server import start_redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run a throwaway real redis-server for the session and yield its URL."""
    proc, url = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(params=["sqlite", "redis"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """Settings of one backend in turn: a state file in a fresh folder, or the session's
    redis-server with its database emptied."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        with redis.Redis.from_url(url) as client:
            client.flushdb()
        return {"redis_url": url}
    return {"data_dir": tmp_path_factory.mktemp("data")}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A running fake Bot API server on a loopback port."""
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client, as Telegram (or a citizen) posting to the webhook."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """Yield an async client on an emptied database."""
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def _people_in_tests_answer_faster_than_people(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted surveys send hundreds of updates a second: lift the flood limit for them.

    Tests of the limit itself pass their own THROTTLE_* settings.
    """
    monkeypatch.setenv("THROTTLE_BURST", "100000")
    monkeypatch.setenv("THROTTLE_RATE", "100000")


@pytest.fixture(autouse=True)
def _no_tls_grace_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiogram sleeps 250 ms after closing its HTTP client, for TLS connections to close
    (aiohttp's advice). The tests' Bot API is plain HTTP on loopback: there are none, and the
    sleeps came to seconds in every run. Closing is otherwise aiogram's own."""
    module = sys.modules.get("aiogram.client.session.aiohttp")
    if module is None:  # no aiogram loaded (rules-only runs stay light): no session to close
        return
    session_class = module.AiohttpSession

    async def close(self: Any) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    monkeypatch.setattr(session_class, "close", close)
