"""The webhook server over real HTTP, talking to the fake Bot API."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiohttp import web
from fakes.bot_api import FakeBotAPI
from fakes.deployment import CARD_KEY
from fakes.updates import has_inline_keyboard, start_update

from bot.app import create_dispatcher
from bot.settings import Settings, SettingsError, load_settings
from bot.storage import SQLiteStorage
from bot.transports import webhook
from bot.transports.webhook import create_webhook_app, run_webhook

SECRET = "s3cret_token-1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
Serve = Callable[..., Coroutine[Any, Any, tuple[web.AppRunner, str]]]


@pytest.fixture
async def serve(clean_env: Path, bot: Bot) -> AsyncIterator[Serve]:
    """Start the webhook app on 127.0.0.1 with the given settings; yield (runner, base URL)."""
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> tuple[web.AppRunner, str]:
        settings = load_settings(**{"webhook_secret": SECRET, **overrides})
        dispatcher = create_dispatcher(settings, SQLiteStorage(clean_env / "fsm.sqlite3"))
        runner = web.AppRunner(create_webhook_app(settings, dispatcher, bot), shutdown_timeout=10)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        if runner.server is not None:  # not already shut down by the test
            await runner.cleanup()


async def post(url: str, update: dict[str, Any], secret: str | None) -> int:
    """POST an update as Telegram does; return the status."""
    headers = {HEADER: secret} if secret is not None else {}
    async with (
        aiohttp.ClientSession() as client,
        client.post(url, json=update, headers=headers) as response,
    ):
        await response.read()
        return response.status


async def test_secret_header_is_required(serve: Serve, fake: FakeBotAPI) -> None:
    _, base = await serve()
    assert await post(f"{base}/webhook", start_update(1), None) == 401
    assert await post(f"{base}/webhook", start_update(2), "wrong") == 401
    assert fake.sent_messages(1001) == []

    assert await post(f"{base}/webhook", start_update(3), SECRET) == 200
    sent = fake.sent_messages(1001)
    assert any(has_inline_keyboard(params) for params in sent), sent


async def test_custom_path_and_healthz(serve: Serve, fake: FakeBotAPI) -> None:
    _, base = await serve(webhook_path="/tg/hook")
    async with aiohttp.ClientSession() as client, client.get(f"{base}/healthz") as response:
        assert (response.status, await response.text()) == (200, "ok")
    assert await post(f"{base}/webhook", start_update(), SECRET) == 404
    assert await post(f"{base}/tg/hook", start_update(), SECRET) == 200


async def test_set_webhook_only_with_webhook_url(serve: Serve, fake: FakeBotAPI) -> None:
    await serve()
    assert not [call for call in fake.calls if call.method == "setWebhook"]

    await serve(webhook_url="https://bot.example.org/tg/hook")
    calls = [call for call in fake.calls if call.method == "setWebhook"]
    assert len(calls) == 1
    assert calls[0].params["url"] == "https://bot.example.org/tg/hook"
    assert calls[0].params["secret_token"] == SECRET


async def test_shutdown_waits_for_updates_in_flight(serve: Serve, fake: FakeBotAPI) -> None:
    runner, base = await serve()
    fake.delay_next("sendMessage", 1.0)
    request = asyncio.create_task(post(f"{base}/webhook", start_update(), SECRET))
    await fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls))
    started = time.monotonic()

    await runner.cleanup()

    assert time.monotonic() - started >= 0.5, "shutdown did not wait for the reply"
    assert request.done() and request.result() == 200
    delayed = [c for c in fake.calls if c.method == "sendMessage" and c.outcome == "delayed"]
    assert len(delayed) == 1 and delayed[0].result is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_webhook_serves_until_stopped(clean_env: Path) -> None:
    settings: Settings = load_settings(
        bot_token="1:x", webhook_port=_free_port(), webhook_secret=SECRET, card_keys=CARD_KEY
    )
    stop = asyncio.Event()
    server = asyncio.create_task(run_webhook(settings, stop))
    url = f"http://127.0.0.1:{settings.webhook_port}/healthz"
    async with aiohttp.ClientSession() as client:
        for _ in range(100):
            try:
                async with client.get(url) as response:
                    assert response.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("run_webhook did not start listening")
    stop.set()
    await asyncio.wait_for(server, 10)


async def test_rejected_token_stops_start_up(
    clean_env: Path, fake: FakeBotAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "create_bot", lambda token, session=None: bot)
    fake.fail_next("setWebhook", status=401)
    settings = load_settings(
        bot_token="42:TEST",
        card_keys=CARD_KEY,
        webhook_port=_free_port(),
        webhook_url="https://bot.example.org/hook",
        webhook_secret=SECRET,
    )
    with pytest.raises(SettingsError, match=r"^BOT_TOKEN"):
        await run_webhook(settings)
