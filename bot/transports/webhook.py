"""`yibao webhook`: the bot behind an aiohttp server that Telegram posts updates to."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from contextlib import suppress
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.app import create_bot, create_dispatcher, create_storage
from bot.settings import Settings, SettingsError
from bot.transports.session import ApiSession, settle_memory

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 30.0
HEALTHZ = "/healthz"


async def _healthz(request: web.Request) -> web.Response:
    """Liveness probe."""
    return web.Response(text="ok")


def peer_allowed(remote: str | None, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    """Whether the direct peer's address lies in one of `networks`."""
    try:
        address = ip_address((remote or "").partition("%")[0])
    except ValueError:
        return False  # a Unix socket or something unparsable: not an allowed IP
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d
    return any(address in network for network in networks)


def allow_list(networks: Sequence[IPv4Network | IPv6Network]) -> Middleware:
    """403 for peers outside `networks`, except on the liveness probe."""

    @web.middleware
    async def only_allowed_peers(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse the request unless its direct peer is allowed."""
        # request.remote is the TCP peer: behind a reverse proxy that is the proxy, so list
        # the proxy's address; X-Forwarded-For is not trusted because anyone can send it.
        if request.path != HEALTHZ and not peer_allowed(request.remote, networks):
            logger.warning("refused a request from %s: not in WEBHOOK_ALLOWED_IPS", request.remote)
            raise web.HTTPForbidden()
        return await handler(request)

    return only_allowed_peers


def create_webhook_app(settings: Settings, dispatcher: Dispatcher, bot: Bot) -> web.Application:
    """The webhook at WEBHOOK_PATH (401 without the secret header) and GET /healthz."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if secret is None:
        logger.warning("WEBHOOK_SECRET is not set: anyone who finds the URL can post updates")
    middlewares = [allow_list(settings.webhook_allowed_ips)] if settings.webhook_allowed_ips else []
    app = web.Application(middlewares=middlewares)
    handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=secret)
    # Not handler.register(): it closes the bot session in on_shutdown, which aiohttp runs
    # before waiting for requests in flight, so their replies would fail.
    app.router.add_post(settings.webhook_path, handler.handle)
    app.router.add_get(HEALTHZ, _healthz)
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


def _bot(settings: Settings) -> Bot:
    """The Bot, talking to TELEGRAM_API_BASE when it is set, else to api.telegram.org."""
    token = settings.require_token()
    try:
        if settings.telegram_api_base:
            api = TelegramAPIServer.from_base(settings.telegram_api_base)
            return create_bot(token, ApiSession(api=api))
        return create_bot(token, ApiSession())
    except TokenValidationError:
        # The message names the setting but never repeats its value.
        raise SettingsError("BOT_TOKEN: not a bot token (they look like 123456:ABC-DEF)") from None


async def run_webhook(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve on WEBHOOK_HOST:WEBHOOK_PORT until SIGINT/SIGTERM (or `stop` is set)."""
    bot = _bot(settings)
    storage = create_storage(settings)
    dispatcher = create_dispatcher(settings, storage)
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
        settle_memory()
        await stop.wait()
    finally:
        # Stops accepting, waits for requests in flight, then runs on_cleanup.
        await runner.cleanup()
        await storage.close()
        await bot.session.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
