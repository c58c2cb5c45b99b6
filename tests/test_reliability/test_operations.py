"""Honest health and safe defaults: /healthz checks the store, start-up refuses what would
lose conversations or let anyone post, and the server sheds idle, malformed and oversized input.

Real `yibao webhook` processes over real HTTP (the in-process app where only the dispatcher is
needed). Time bounds are generous: they fail only when a protection is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from fakes.bot_api import FakeBotAPI
from fakes.deployment import CARD_KEY, SECRET, TOKEN, post_raw, serve
from fakes.redis_server import free_port, start_redis_server
from fakes.workers import harness, yibao_command

from bot.app import create_bot
from bot.render import render_macro
from bot.storage.sqlite import connect
from bot.transports.session import ApiSession
from bot.transports.webhook import MAX_BODY

STATE_FILE = "yibao.sqlite3"
PRIVATE = "Tsering Dolma 13800138000"  # stands for anything a person might write
CLOSED_WITHIN = 30.0  # seconds; the idle timeout is a few


def message(user_id: int, text: str, update_id: int = 1) -> dict[str, Any]:
    """A private-chat text update as Telegram sends it, a command marked as one."""
    entities = []
    if text.startswith("/"):
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "X"},
            "from": {"id": user_id, "is_bot": False, "first_name": "X", "language_code": "en"},
            "text": text,
            "entities": entities,
        },
    }


async def healthz(client: aiohttp.ClientSession, port: int) -> tuple[int, str]:
    """The probe's status and body."""
    async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.text()


# -- /healthz --------------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of this test's own, which the test may stop."""
    started = start_redis_server(tmp_path)
    yield started
    if started[0].poll() is None:
        started[0].kill()
    started[0].wait()


@pytest.mark.slow
async def test_healthz_is_503_while_redis_is_down(
    tmp_path: Path, own_redis: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, url = own_redis
    async with harness(tmp_path) as (_, client, w):
        worker = await w.start(REDIS_URL=url)
        assert await healthz(client, worker.port) == (200, "ok")

        proc.terminate()
        proc.wait(timeout=10)
        status, reason = await asyncio.wait_for(healthz(client, worker.port), CLOSED_WITHIN)
        await worker.stop(signal.SIGKILL)

    assert status == 503
    assert reason and "redis" in reason
    assert url.rsplit(":", 1)[1].split("/")[0] not in reason  # no address, let alone a password


@pytest.mark.slow
async def test_healthz_is_200_on_sqlite_and_503_once_the_state_file_is_gone(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as (_, client, w):
        worker = await w.start()
        assert await healthz(client, worker.port) == (200, "ok")
        for path in (tmp_path / "data").glob(f"{STATE_FILE}*"):
            path.unlink()
        status, reason = await healthz(client, worker.port)
        await worker.stop(signal.SIGKILL)
    assert (status, reason) == (503, "state file is gone")


# -- start-up refusals -----------------------------------------------------------------------


def _yibao_webhook(
    workdir: Path, transport: str = "webhook", **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `yibao webhook` (or `yibao run`) to completion (it is expected to refuse to start)."""
    settings = {
        "PATH": os.environ.get("PATH", ""),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": "http://127.0.0.1:9",  # never called: no WEBHOOK_URL
        "WEBHOOK_SECRET": SECRET,
        "CARD_KEYS": CARD_KEY,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(free_port()),
        "DATA_DIR": str(workdir / "data"),
        **env,
    }
    return subprocess.run(
        [*yibao_command(), transport],
        cwd=workdir,
        env={name: value for name, value in settings.items() if value},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _truncated_database(path: Path) -> bytes:
    """A real state file with rows in it, cut in half as a bad copy or a full disk would."""
    with closing(connect(path, "CREATE TABLE fsm (key TEXT PRIMARY KEY, data TEXT);")) as conn:
        with conn:
            conn.executemany(
                "INSERT INTO fsm VALUES (?, ?)", [(f"k{i}", "x" * 200) for i in range(2000)]
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    whole = path.read_bytes()
    for sidecar in ("-wal", "-shm"):
        Path(f"{path}{sidecar}").unlink(missing_ok=True)
    return whole[: len(whole) // 2]


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["webhook", "run"])
@pytest.mark.parametrize("kind", ["truncated", "random bytes", "empty", "short header"])
def test_a_damaged_state_file_stops_start_up_and_is_left_untouched(
    tmp_path: Path, kind: str, transport: str
) -> None:
    path = tmp_path / "data" / STATE_FILE
    path.parent.mkdir()
    if kind == "truncated":
        content = _truncated_database(path)
    elif kind == "random bytes":
        content = random.Random(13).randbytes(64 * 1024)
    elif kind == "short header":
        content = b"SQLite format 3\x00" + b"\x10\x00"
    else:
        content = b""
    path.write_bytes(content)

    result = _yibao_webhook(tmp_path, transport)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("yibao: DATA_DIR"), result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == content


@pytest.mark.slow
def test_a_missing_state_file_is_created(tmp_path: Path) -> None:
    """The refusal is for damaged files only: a new deployment starts with a new file."""

    async def start_and_stop() -> None:
        async with harness(tmp_path) as (_, client, w):
            worker = await w.start()
            assert await healthz(client, worker.port) == (200, "ok")
            assert await worker.stop(signal.SIGTERM) == 0

    asyncio.run(start_and_stop())
    with closing(sqlite3.connect(tmp_path / "data" / STATE_FILE)) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)


@pytest.mark.slow
def test_no_webhook_secret_stops_start_up(tmp_path: Path) -> None:
    result = _yibao_webhook(tmp_path, WEBHOOK_SECRET="")

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("yibao: WEBHOOK_SECRET"), result.stderr
    assert not (tmp_path / "data").exists()  # refused before the state file is touched


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["webhook", "run"])
def test_no_card_keys_stops_start_up(tmp_path: Path, transport: str) -> None:
    # Codes sealed by one worker, or before a restart, could not be verified by another.
    result = _yibao_webhook(tmp_path, transport, CARD_KEYS="")

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("yibao: CARD_KEYS is not set"), result.stderr
    assert "yibao card-key" in result.stderr
    assert not (tmp_path / "data").exists()


# -- connections, bodies ---------------------------------------------------------------------


@pytest.mark.slow
async def test_idle_and_half_sent_connections_are_closed(tmp_path: Path) -> None:
    async with harness(tmp_path) as (fake, client, w):
        worker = await w.start()
        silent = [await asyncio.open_connection("127.0.0.1", worker.port) for _ in range(300)]
        half_reader, half_writer = await asyncio.open_connection("127.0.0.1", worker.port)
        half_writer.write(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
        await half_writer.drain()

        async def closed(reader: asyncio.StreamReader) -> bool:
            return await reader.read() == b""

        got = await asyncio.wait_for(
            asyncio.gather(*(closed(r) for r, _ in silent), closed(half_reader)), CLOSED_WITHIN
        )
        for _, writer in [*silent, (half_reader, half_writer)]:
            writer.close()
        # Others are still served.
        body = json.dumps(message(7601, "/help")).encode()
        assert (await post_raw(client, worker.url, body))[0] == 200
        await fake.wait_for(lambda calls: bool(fake.sent_messages(7601)))
        assert await worker.stop(signal.SIGTERM) == 0
    assert all(got)


BAD_BODIES = [
    PRIVATE.encode(),  # not JSON
    b'{"update_id": 1, "message": {"text": "' + PRIVATE.encode(),  # cut off
    json.dumps([PRIVATE]).encode(),  # JSON, not an object
    json.dumps({"message": {"text": PRIVATE}}).encode(),  # no update_id
    json.dumps({"update_id": "one", "message": {"text": PRIVATE}}).encode(),
    json.dumps({"update_id": 5, "message": {"chat": {"id": PRIVATE}, "text": PRIVATE}}).encode(),
    b"[" * 100_000,  # nested past the parser's recursion limit
    b"\xff\xfe" + PRIVATE.encode("utf-16-le"),  # not UTF-8
]


@pytest.mark.slow
async def test_a_body_that_is_not_an_update_is_400_and_not_logged(tmp_path: Path) -> None:
    async with harness(tmp_path) as (_, client, w):
        worker = await w.start()
        statuses = [(await post_raw(client, worker.url, body))[0] for body in BAD_BODIES]
        unauthenticated = (await post_raw(client, worker.url, BAD_BODIES[0], secret=None))[0]
        fine = await post_raw(client, worker.url, json.dumps(message(7602, "/help")).encode())
        assert await worker.stop(signal.SIGTERM) == 0
        logs = worker.logs

    assert statuses == [400] * len(BAD_BODIES)
    assert unauthenticated == 401
    assert fine[0] == 200
    assert PRIVATE not in logs and "Tsering" not in logs
    assert "Traceback" not in logs
    assert "not a Telegram update" in logs


@pytest.mark.slow
async def test_an_oversized_body_is_refused_quickly(tmp_path: Path) -> None:
    huge = json.dumps(message(7603, "/explain " + "A" * 400_000)).encode()
    assert len(huge) > MAX_BODY
    async with harness(tmp_path) as (fake, client, w):
        worker = await w.start()
        status, _ = await asyncio.wait_for(post_raw(client, worker.url, huge), CLOSED_WITHIN)
        without_secret, _ = await post_raw(client, worker.url, huge, secret=None)
        assert await worker.stop(signal.SIGTERM) == 0
        logs = worker.logs
    assert status == 413
    assert without_secret == 401
    assert fake.sent_messages(7603) == []
    assert "Traceback" not in logs


# -- /explain with a huge argument -----------------------------------------------------------


async def test_a_huge_explain_argument_gets_the_bad_code_answer_quickly(tmp_path: Path) -> None:
    bad_code = render_macro("messages.j2", "text", "en", "bad_code")
    async with (
        FakeBotAPI() as fake,
        aiohttp.ClientSession() as client,
        serve(fake, data_dir=tmp_path) as (url, dispatcher),
    ):
        # Through the webhook, as large as a body may be.
        under_limit = "/explain " + "A" * (MAX_BODY - 2_000)
        body = json.dumps(message(7604, under_limit)).encode()
        assert (await post_raw(client, url, body))[0] == 200
        # 400,000 characters, as `yibao run` would pass on whatever it is given: without the
        # length check first, decoding it blocked the event loop for about 17 s.
        bot = create_bot(TOKEN, ApiSession(api=TelegramAPIServer.from_base(fake.base_url)))
        update = Update.model_validate(
            message(7605, "/explain " + "A" * 400_000, update_id=2), context={"bot": bot}
        )
        try:
            await asyncio.wait_for(dispatcher.feed_update(bot, update), 8)
        finally:
            await bot.session.close()

    for user_id in (7604, 7605):
        sent = fake.sent_messages(user_id)
        assert [m["text"] for m in sent] == [bad_code], sent
