"""Real `yibao webhook` processes killed and restarted mid-survey, and stopped with SIGTERM.

Also home to the helpers the other reliability tests share: Workers, serve, stored, surveys.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import pytest
import redis.asyncio
from aiogram import Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import StorageKey
from aiohttp.test_utils import TestServer
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen
from fakes.deployment import CARD_KEY

from bot.app import create_bot, create_dispatcher, create_storage
from bot.settings import Settings
from bot.transports.session import ApiSession
from bot.transports.webhook import create_webhook_app

TOKEN = "42:TEST"
BOT_ID = 42
SECRET = "r3liability-secret_T0KEN"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
YIBAO = Path(sys.executable).with_name("yibao")
# Tests that fire many updates per user must not meet the per-user flood limit.
NO_THROTTLE = {"THROTTLE_RATE": "100000", "THROTTLE_BURST": "100000"}
START_POLLS = 1200  # x 0.05 s: importing aiogram alone takes seconds on a slow runner


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """One `yibao webhook` subprocess listening on 127.0.0.1:port."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    @property
    def url(self) -> str:
        """The webhook URL."""
        return f"http://127.0.0.1:{self.port}/webhook"

    @property
    def logs(self) -> str:
        """Everything the worker wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace")

    async def stop(self, sig: signal.Signals = signal.SIGKILL, timeout: float = 40) -> int:
        """Send `sig` and return the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), timeout)


class Workers:
    """Starts webhook workers against a fake Bot API and kills any left running on exit."""

    def __init__(self, fake: FakeBotAPI, workdir: Path) -> None:
        self.fake, self.workdir = fake, workdir
        self.started: list[Worker] = []

    async def start(self, **env: str) -> Worker:
        """A worker with DATA_DIR in workdir and `env` on top; returns once /healthz answers."""
        for _ in range(3):  # another process may take the port between probing and binding
            port = free_port()
            settings = {
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE": self.fake.base_url,
                "WEBHOOK_SECRET": SECRET,
                "CARD_KEYS": CARD_KEY,
                "WEBHOOK_HOST": "127.0.0.1",
                "WEBHOOK_PORT": str(port),
                "DATA_DIR": str(self.workdir / "data"),
                **env,
            }
            command = [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]
            log = self.workdir / f"worker-{port}.log"
            with log.open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    *command,
                    "webhook",
                    cwd=self.workdir,  # no stray .env
                    env={"PATH": os.environ.get("PATH", ""), **settings},
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                )
            worker = Worker(proc, port, log)
            self.started.append(worker)
            if await self._ready(worker):
                return worker
            if proc.returncode != 2:
                break
        pytest.fail(f"the webhook worker did not start:\n{worker.logs}")

    async def _ready(self, worker: Worker) -> bool:
        """Poll /healthz until it answers (True) or the process exits (False)."""
        url = f"http://127.0.0.1:{worker.port}/healthz"
        async with aiohttp.ClientSession() as client:
            for _ in range(START_POLLS):
                if worker.proc.returncode is not None:
                    return False
                try:
                    async with client.get(url) as response:
                        if response.status == 200:
                            return True
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
        await worker.stop()
        return False

    async def __aenter__(self) -> Self:
        """Nothing to start yet."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Kill every worker still running."""
        for worker in self.started:
            await worker.stop(signal.SIGKILL)


Harness = tuple[FakeBotAPI, aiohttp.ClientSession, Workers]


@asynccontextmanager
async def harness(workdir: Path) -> AsyncIterator[Harness]:
    """A fake Bot API, an HTTP client and a worker starter that cleans up after itself."""
    async with FakeBotAPI() as fake, aiohttp.ClientSession() as client, Workers(fake, workdir) as w:
        yield fake, client, w


async def stored(settings: Settings, user_id: int) -> tuple[str | None, dict[str, Any]]:
    """The FSM state and data a fresh storage reads for a user's private chat."""
    storage = create_storage(settings)
    key = StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id, destiny="default")
    try:
        return await storage.get_state(key), await storage.get_data(key)
    finally:
        await storage.close()


async def survey_to_result(person: HttpCitizen, region: str = "Xizang") -> str:
    """A whole survey, as in the e2e tests: /start to the first answer."""
    await person.start()
    await person.press(region)
    await person.say("2027")
    await person.press("None")
    await person.press("None of these")
    await person.press("Done")
    if "paid late" in person.last_text:
        await person.press("No, on time")
    if "pay nothing" not in person.last_text and "How many" not in person.last_text:
        await person.press("Within the payment period")
    return await person.answer_none_to_the_end()


async def _first_answers(person: HttpCitizen) -> str:
    """Answer region, year and insurance; return the question asked next."""
    await person.start()
    await person.press("Tianjin")
    await person.say("2027")
    return await person.press("Resident insurance")


async def _finish(person: HttpCitizen) -> str:
    """From the group question to the result."""
    await person.press("None of these")
    await person.press("Done")
    await person.press("No, on time")
    await person.say("2027-01-05")
    await person.press("Done")
    summary = person.last_text
    assert "Region: Tianjin" in summary and "Benefit year: 2027" in summary, summary
    return await person.press("Show my result")


EXPECTED = "3 months. Your insurance pays from April 5, 2027"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_sigkill_mid_survey_resumes_at_the_same_question(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = {"REDIS_URL": request.getfixturevalue("redis_url")} if backend == "redis" else {}
    if env:
        async with redis.asyncio.Redis.from_url(env["REDIS_URL"]) as flush:
            await flush.flushdb()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", redis_url=env.get("REDIS_URL"))
    async with harness(tmp_path) as (fake, client, w):
        first = await w.start(**env)
        person = HttpCitizen(fake, client, [first.url], SECRET, user_id=7101)
        question = await _first_answers(person)
        assert "Does one of these apply" in question
        before = await stored(settings, 7101)

        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        after = await stored(settings, 7101)
        second = await w.start(**env)
        person = HttpCitizen(fake, client, [second.url], SECRET, user_id=7101)
        result = await _finish(person)

    assert after == before
    assert after[1]["q"] == "group"
    answers = {"region": "tianjin", "benefit_year": "2027", "insurance": "resident"}
    assert after[1]["answers"] == answers
    assert EXPECTED in result


async def test_an_update_redelivered_after_a_crash_is_not_applied_twice(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    async with harness(tmp_path) as (fake, client, w):
        first = await w.start()
        person = HttpCitizen(fake, client, [first.url], SECRET, user_id=7102)
        await person.start()
        await person.press("Tianjin")
        await person.say("2027")
        # The answer is stored, then the process dies while the next question is being sent,
        # so Telegram never gets a 200 and sends the same update again.
        fake.delay_next("sendMessage", 30)
        sent = len(fake.calls)
        pressing = asyncio.create_task(person.press("Resident insurance"))
        await fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls[sent:]))
        await first.stop(signal.SIGKILL)
        with pytest.raises(aiohttp.ClientError):
            await pressing
        state = await stored(settings, 7102)

        second = await w.start()
        person = HttpCitizen(fake, client, [second.url], SECRET, user_id=7102)
        # The delayed question never reached the chat: the insurance buttons are the last shown.
        await person.press("Resident insurance")
        redelivered = person.texts[-2:]
        # The person must be able to go on (not be told to /start, which erases everything).
        assert "Does one of these apply" in redelivered[1], redelivered
        result = await _finish(person)
        _, final = await stored(settings, 7102)

    assert state[1]["answers"]["insurance"] == "resident"  # stored before the crash
    assert "earlier question" in redelivered[0]  # the resent press is stale, not a second answer
    assert final["history"].count("insurance") == 1
    assert EXPECTED in result


async def test_sigterm_lets_the_reply_in_flight_finish_and_exits_0(tmp_path: Path) -> None:
    async with harness(tmp_path) as (fake, client, w):
        worker = await w.start()
        person = HttpCitizen(fake, client, [worker.url], SECRET, user_id=7103)
        fake.delay_next("sendMessage", 1.0)
        answering = asyncio.create_task(person.say("/help"))
        await fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls))

        code = await worker.stop(signal.SIGTERM)
        reply = await answering

    delivered = [c for c in fake.calls if c.method == "sendMessage"]
    assert code == 0, worker.logs
    assert len(delivered) == 1 and delivered[0].outcome == "delayed"
    assert delivered[0].result is not None  # the bot got Telegram's answer before exiting
    assert "/start" in reply
    assert "Traceback" not in worker.logs


@asynccontextmanager
async def serve(fake: FakeBotAPI, **settings: Any) -> AsyncIterator[tuple[str, Dispatcher]]:
    """The webhook app in this process on a loopback port; yields its URL and dispatcher."""
    config = Settings(_env_file=None, webhook_secret=SECRET, **settings)
    bot = create_bot(TOKEN, ApiSession(api=TelegramAPIServer.from_base(fake.base_url)))
    dispatcher = create_dispatcher(config, create_storage(config))
    server = TestServer(create_webhook_app(config, dispatcher, bot), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(config.webhook_path)), dispatcher
    finally:
        await server.close()
