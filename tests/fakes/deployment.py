"""A webhook deployment in the test process: the application `yibao webhook` builds, on a port,
and what tests post to it and read back from its store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiogram import Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import StorageKey
from aiohttp.test_utils import TestServer

from bot.app import create_bot, create_dispatcher, create_storage, start_store
from bot.settings import Settings
from bot.transports.session import ApiSession
from bot.transports.webhook import create_webhook_app
from fakes.bot_api import FakeBotAPI

TOKEN = "42:TEST"
BOT_ID = 42
SECRET = "s3cret-token_1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A check-code key as `yibao card-key` prints them (32 bytes, URL-safe base64).
CARD_KEY = "dGVzdC1jYXJkLWtleS10ZXN0LWNhcmQta2V5LXRlc3Q"


@asynccontextmanager
async def webhook(fake: FakeBotAPI, token: str = TOKEN, **settings: Any) -> AsyncIterator[str]:
    """The webhook application on a loopback port, its store checked and adopted as at start-up
    (`start_store`), talking to `fake`; yields the URL to post updates to."""
    config = Settings(_env_file=None, webhook_secret=SECRET, **settings)
    bot = create_bot(token, ApiSession(api=TelegramAPIServer.from_base(fake.base_url)))
    storage = await start_store(config, bot.id)
    server = TestServer(
        create_webhook_app(config, create_dispatcher(config, storage), bot), host="127.0.0.1"
    )
    await server.start_server()
    try:
        yield str(server.make_url(config.webhook_path))
    finally:
        await server.close()


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


async def post_raw(
    client: aiohttp.ClientSession, url: str, body: bytes, secret: str | None = SECRET
) -> tuple[int, str]:
    """POST raw bytes as JSON; return the status and the response text."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[HEADER] = secret
    async with client.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


async def stored(settings: Settings, user_id: int) -> tuple[str | None, dict[str, Any]]:
    """The FSM state and data a fresh storage reads for a user's private chat."""
    storage = create_storage(settings)
    key = StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id, destiny="default")
    try:
        return await storage.get_state(key), await storage.get_data(key)
    finally:
        await storage.close()
