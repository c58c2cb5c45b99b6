"""Real `yibao webhook` processes against a fake Bot API, started and killed by the tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp
import pytest

from fakes.bot_api import FakeBotAPI
from fakes.deployment import CARD_KEY, SECRET, TOKEN
from fakes.redis_server import free_port

YIBAO = Path(sys.executable).with_name("yibao")
# Tests that fire many updates per user must not meet the per-user flood limit.
NO_THROTTLE = {"THROTTLE_RATE": "100000", "THROTTLE_BURST": "100000"}
START_POLLS = 1200  # x 0.05 s: importing aiogram alone takes seconds on a slow runner


def yibao_command() -> list[str]:
    """The `yibao` console script of this virtualenv, or the module where it is not installed."""
    return [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]


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
            log = self.workdir / f"worker-{port}.log"
            with log.open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    *yibao_command(),
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
