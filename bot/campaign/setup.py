"""Putting the campaign into a Dispatcher: its store, its router and the reminder sender."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage

from bot.campaign.handlers import create_router
from bot.campaign.reminders import run_reminders
from bot.campaign.store import create_campaign_store
from bot.settings import Settings

log = logging.getLogger("yibao.campaign")
STOP_TIMEOUT = 10.0


def setup_campaign(dispatcher: Dispatcher, settings: Settings, storage: BaseStorage) -> None:
    """Put `campaign` into workflow data, add the router, and run the reminder sender.

    Call it before the other routers are included (RuntimeError otherwise): its router must
    be the first.
    """
    if "campaign" in dispatcher.workflow_data:
        return  # already set up; a second router would be an error in aiogram
    store = create_campaign_store(storage)
    if settings.bot_id is not None:
        store.bind(settings.bot_id)
    if settings.bot_token is not None:
        # Every worker of the bot holds the token, so they all derive the same day keys and a
        # person served by two workers still counts once; the secret is never written down.
        token = settings.bot_token.get_secret_value().encode()
        store.set_secret(hmac.digest(token, b"yibao: counting once a day", "sha256"))
    dispatcher["campaign"] = store
    if dispatcher.sub_routers:
        # Its router must come first: the survey's catch-all handlers would take /stats and
        # the Remind presses otherwise (aiogram has no public way to insert a router).
        msg = "setup_campaign must run before the other routers are included"
        raise RuntimeError(msg)
    dispatcher.include_router(create_router(settings))

    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start_sender(bot: Bot) -> None:
        """Start sending due reminders (in `yibao chat` they print to the terminal)."""
        store.bind(bot.id)  # the bot that runs decides, whatever token the settings hold
        if tasks and not tasks[-1].done():
            return
        stop.clear()
        tasks.append(asyncio.create_task(run_reminders(bot, store, stop=stop)))

    async def stop_sender() -> None:
        """Let the sender finish its message, then close the store."""
        stop.set()
        for task in tasks:
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT)
            except TimeoutError:
                log.warning("the reminder sender did not stop in time")
            except Exception as error:
                log.warning("the reminder sender failed (%s)", type(error).__name__)
        tasks.clear()
        with contextlib.suppress(Exception):
            await store.close()

    dispatcher.startup.register(start_sender)
    dispatcher.shutdown.register(stop_sender)
    # Before the Dispatcher's own handler that closes the FSM storage (and its Redis client).
    # aiogram 3.31 has no public way to order shutdown handlers (EventObserver.register only
    # appends), so the handler is moved in the observer's public `handlers` list.
    dispatcher.shutdown.handlers.insert(0, dispatcher.shutdown.handlers.pop())
