"""A webhook deployment in the test process: the application `yibao webhook` builds, on a port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestServer

from bot.app import create_bot, create_dispatcher, start_store
from bot.settings import Settings
from bot.transports.session import ApiSession
from bot.transports.webhook import create_webhook_app
from fakes.bot_api import FakeBotAPI

SECRET = "s3cret-token_1"
# A check-code key as `yibao card-key` prints them (32 bytes, URL-safe base64).
CARD_KEY = "dGVzdC1jYXJkLWtleS10ZXN0LWNhcmQta2V5LXRlc3Q"


@asynccontextmanager
async def webhook(fake: FakeBotAPI, token: str = "42:TEST", **settings: Any) -> AsyncIterator[str]:
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
