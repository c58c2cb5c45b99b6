"""`yibao webhook`: the bot behind an aiohttp server that Telegram posts updates to."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.app import create_bot, create_dispatcher, create_storage
from bot.settings import Settings, SettingsError

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 30.0


async def _healthz(request: web.Request) -> web.Response:
    """Liveness probe."""
    return web.Response(text="ok")


def create_webhook_app(settings: Settings, dispatcher: Dispatcher, bot: Bot) -> web.Application:
    """The webhook at WEBHOOK_PATH (401 without the secret header) and GET /healthz."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if secret is None:
        logger.warning("WEBHOOK_SECRET is not set: anyone who finds the URL can post updates")
    app = web.Application()
    handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=secret)
    # Not handler.register(): it closes the bot session in on_shutdown, which aiohttp runs
    # before waiting for requests in flight, so their replies would fail.
    app.router.add_post(settings.webhook_path, handler.handle)
    app.router.add_get("/healthz", _healthz)
    workflow = {"app": app, "dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}

    async def on_startup(app: web.Application) -> None:
        """Run the dispatcher's start-up hooks and point Telegram at us when WEBHOOK_URL is set."""
        await dispatcher.emit_startup(bot=bot, **workflow)
        if settings.webhook_url:
            try:
                await bot.set_webhook(
                    settings.webhook_url,
                    secret_token=secret,
                    allowed_updates=dispatcher.resolve_used_update_types(),
                )
            except TelegramUnauthorizedError:
                raise SettingsError("BOT_TOKEN: Telegram rejected the token") from None

    async def on_cleanup(app: web.Application) -> None:
        """After requests in flight have finished: shutdown hooks (they close the storage)."""
        try:
            await dispatcher.emit_shutdown(bot=bot, **workflow)
        finally:
            await bot.session.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def run_webhook(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve on WEBHOOK_HOST:WEBHOOK_PORT until SIGINT/SIGTERM (or `stop` is set)."""
    token = settings.require_token()
    storage = create_storage(settings)
    dispatcher = create_dispatcher(settings, storage)
    bot = create_bot(token)
    app = create_webhook_app(settings, dispatcher, bot)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        try:
            await site.start()
        except OSError as error:
            raise SettingsError(
                f"WEBHOOK_PORT: cannot listen on {settings.webhook_host}:"
                f"{settings.webhook_port}: {error.strerror}"
            ) from None
        # The path is left out: some deployments make it a secret.
        logger.info("webhook listening on %s:%d", settings.webhook_host, settings.webhook_port)
        await stop.wait()
    finally:
        # Stops accepting, waits for requests in flight, then runs on_cleanup.
        await runner.cleanup()
        await storage.close()
        await bot.session.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
