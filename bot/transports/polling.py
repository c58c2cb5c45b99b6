"""`yibao run`: the bot on long polling."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError

from bot.app import create_bot, create_dispatcher, start_store
from bot.settings import Settings, SettingsError
from bot.transports.session import ApiSession, settle_memory

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 30.0


async def _drain(dispatcher: Dispatcher) -> None:
    """Wait for updates still being handled, so they can answer and save their state."""
    # aiogram cancels only the polling loop on stop; handler tasks would otherwise meet a
    # closed storage and session.
    tasks = set(dispatcher._handle_update_tasks)
    if tasks:
        logger.info("waiting for %d update(s) in progress", len(tasks))
        await asyncio.wait(tasks, timeout=DRAIN_SECONDS)


def drain_on_shutdown(dispatcher: Dispatcher) -> None:
    """Make the dispatcher's shutdown wait for running updates before it closes the storage."""
    dispatcher.shutdown.register(_drain)
    # The storage is closed by a shutdown handler the Dispatcher registers first.
    dispatcher.shutdown.handlers.insert(0, dispatcher.shutdown.handlers.pop())


async def run_polling(settings: Settings) -> None:
    """Poll Telegram until SIGINT/SIGTERM, with storage from the settings."""
    token = settings.require_token()
    settings.require_card_keys()
    api = settings.telegram_api_base
    session = ApiSession(api=TelegramAPIServer.from_base(api)) if api else ApiSession()
    try:
        bot = create_bot(token, session)
    except TokenValidationError:
        await session.close()
        raise SettingsError("BOT_TOKEN: not a bot token (they look like 123456:ABC-DEF)") from None
    try:
        storage = await start_store(settings, bot.id)
    except SettingsError:
        await session.close()
        raise
    dispatcher = create_dispatcher(settings, storage)
    drain_on_shutdown(dispatcher)
    try:
        try:
            # Telegram refuses getUpdates while a webhook is set.
            await bot.delete_webhook()
        except TelegramUnauthorizedError:
            raise SettingsError("BOT_TOKEN: Telegram rejected the token") from None
        settle_memory()
        await dispatcher.start_polling(bot)
    finally:
        await storage.close()
        await bot.session.close()
