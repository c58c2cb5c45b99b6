"""`yibao run`: the bot on long polling."""

from __future__ import annotations

import logging

from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError

from bot.app import create_bot, create_dispatcher, start_store
from bot.settings import Settings, SettingsError
from bot.transports.session import ApiSession, settle_memory
from bot.updates import Dispatcher

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 30.0


def drain_on_shutdown(dispatcher: Dispatcher) -> None:
    """Make the dispatcher's shutdown wait for running updates before it closes the storage.

    aiogram cancels only the polling loop on stop; the tasks handling updates would otherwise
    meet a closed storage and session. The dispatcher counts them from their first step
    (bot/updates.py Dispatcher.feed_update).
    """

    async def drain() -> None:
        await dispatcher.drain(DRAIN_SECONDS)

    dispatcher.shutdown.register(drain)
    # First of the shutdown handlers: before the one closing the storage (FSMContextMiddleware
    # .close, registered in Dispatcher.__init__) and the campaign's. aiogram 3.31 has no public
    # way to order them: EventObserver only appends, so the handler is moved in its public
    # `handlers` list.
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
