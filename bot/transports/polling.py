"""`yibao run`: the bot on long polling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.types import TelegramObject
from aiogram.utils.token import TokenValidationError

from bot.app import create_bot, create_dispatcher, start_store
from bot.settings import Settings, SettingsError
from bot.transports.session import ApiSession, settle_memory

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 30.0


class UpdatesInProgress(BaseMiddleware):
    """Outermost update middleware: the tasks handling an update, each until it is done."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        task = asyncio.current_task()
        if task is not None and task not in self.tasks:
            # Until the task ends, not the handler: polling's task still sends a method a
            # handler returned after the middlewares are done.
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await handler(event, data)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait (up to `timeout` s) for updates still being handled, so they can answer and
        save their state."""
        tasks = self.tasks - {asyncio.current_task()}
        if tasks:
            logger.info("waiting for %d update(s) in progress", len(tasks))
            await asyncio.wait(tasks, timeout=timeout)


def drain_on_shutdown(dispatcher: Dispatcher) -> UpdatesInProgress:
    """Make the dispatcher's shutdown wait for running updates before it closes the storage.

    aiogram cancels only the polling loop on stop; the tasks handling updates would otherwise
    meet a closed storage and session.
    """
    tracker = UpdatesInProgress()
    # Outermost, so that an update is counted from its first step: one still waiting for the
    # update ledger, its user's FSM lock or the store is in progress too. MiddlewareManager
    # only appends, so the others are taken off and put back after it.
    outer = dispatcher.update.outer_middleware
    others = list(outer)
    for middleware in others:
        outer.unregister(middleware)
    outer.register(tracker)
    for middleware in others:
        outer.register(middleware)

    async def drain() -> None:
        await tracker.drain()

    dispatcher.shutdown.register(drain)
    # First of the shutdown handlers: before the one closing the storage (FSMContextMiddleware
    # .close, registered in Dispatcher.__init__) and the campaign's. aiogram 3.31 has no public
    # way to order them: EventObserver only appends, so the handler is moved in its public
    # `handlers` list.
    dispatcher.shutdown.handlers.insert(0, dispatcher.shutdown.handlers.pop())
    return tracker


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
