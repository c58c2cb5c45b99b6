"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis
import redis.asyncio
from fakes.bot_api import FakeBotAPI


def _free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start redis-server on a free port and wait until it answers PING."""
    # Retried because another process may grab the port between probing and binding it.
    for _ in range(5):
        port = _free_port()
        args = f"--port {port} --bind 127.0.0.1 --appendonly no --daemonize no".split()
        proc = subprocess.Popen(
            [binary, *args, "--save", "", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with redis.Redis.from_url(url, socket_timeout=1) as client:
                    if client.ping():
                        return proc, url
            except redis.ConnectionError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    pytest.fail("redis-server did not start answering PING")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run a throwaway real redis-server for the session and yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found on PATH; install it (apt-get install -y redis-server)")
    proc, url = _start_redis(binary, tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
