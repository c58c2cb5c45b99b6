"""`yibao webhook`: the bot behind an aiohttp server that Telegram posts updates to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import Update
from aiogram.utils.token import TokenValidationError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import ValidationError

from bot.app import create_bot, create_dispatcher, start_store
from bot.settings import Settings, SettingsError
from bot.storage.health import probe_store
from bot.transports.serving import serve
from bot.transports.session import ApiSession, settle_memory
from bot.updates import HANDLING_BUDGET

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 30.0
HEALTHZ = "/healthz"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram caps a message at 4,096 characters; even a reply quoting another message with
# entities stays far below this, so a bigger body is refused (413) before it is parsed.
MAX_BODY = 256 * 1024
# The rest of a request's body must arrive within this many seconds of its head (else 408).
BODY_TIMEOUT = 10.0
# Validation errors of an update from a newer Bot API: a tagged union (reaction type, forward
# origin, ...) met a tag this aiogram does not have. Any other error: not an update (400).
NEWER_VARIANT = frozenset({"union_tag_invalid", "union_tag_not_found"})
# Telegram waits 60 s for the answer to a webhook post, then posts the update again. An update
# still being handled after this many seconds (a Bot API call told to wait, one that hangs) is
# answered 200 and goes on in the background, within its own budget (bot/updates.py).
RESPONSE_BUDGET = 10.0


def _healthz(storage: BaseStorage) -> Handler:
    """The probe: 200 "ok" when the store serves a cheap read (SQLite) or PING (Redis), else 503."""

    async def healthz(request: web.Request) -> web.Response:
        reason = await probe_store(storage)
        if reason is not None:
            return web.Response(status=503, text=reason)
        return web.Response(text="ok")

    return healthz


class UpdateHandler(SimpleRequestHandler):
    """aiogram's handler: a bounded body read, 400 (nothing of it logged) for a non-Update,
    and 200 after RESPONSE_BUDGET for an update still being handled, which goes on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running: set[asyncio.Task[Any]] = set()

    @staticmethod
    def _not_an_update(body: bytes) -> web.Response:
        """400 for a body that is not an update at all; only its size is logged."""
        logger.warning("refused a %d-byte body that is not a Telegram update", len(body))
        return web.Response(status=400, text="not a Telegram update")

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout` s) for updates still handled after their answer was sent."""
        if self.running:
            logger.info("waiting for %d update(s) still being handled", len(self.running))
            await asyncio.wait(set(self.running), timeout=timeout)

    async def handle(self, request: web.Request) -> web.Response:
        """401 without the secret header, else the update fed to the dispatcher.

        Replaces aiogram's handle() as a whole (its public entry point), rather than the private
        _handle_request() it calls."""
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), bot):
            return web.Response(body="Unauthorized", status=401)
        return await self._feed(bot, request)

    __call__ = handle

    async def _feed(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await request.read()  # 413 beyond the application's client_max_size
        except TimeoutError:
            raise web.HTTPRequestTimeout() from None
        try:
            raw = bot.session.json_loads(body)
        except (ValueError, RecursionError):
            return self._not_an_update(body)
        try:
            update = Update.model_validate(raw, context={"bot": bot})
        except ValidationError as error:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            newer = all(e["type"] in NEWER_VARIANT for e in error.errors())
            if newer and isinstance(update_id, int) and not isinstance(update_id, bool):
                # An update from a newer Bot API (a reaction or forward origin of a new type):
                # it cannot be read here, and a 400 would only have Telegram send it again.
                # The fields that failed, never their values (they may hold someone's text).
                where = sorted({".".join(map(str, e["loc"][:3])) for e in error.errors()})[:5]
                logger.info("update %d dropped: this aiogram cannot read %s", update_id, where)
                return web.json_response({})
            return self._not_an_update(body)
        except (ValueError, RecursionError):
            return self._not_an_update(body)
        # Not aiogram's own slow-update switch (feed_webhook_update's _timeout): it warns with
        # a RuntimeWarning and leaves the task for no one to wait for at shutdown.
        task = asyncio.create_task(self.dispatcher.feed_update(bot, update, **self.data))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        done, _ = await asyncio.wait({task}, timeout=RESPONSE_BUDGET)
        if not done:
            logger.info(
                "update %d answered after %.0f s, still being handled",
                update.update_id,
                RESPONSE_BUDGET,
            )
            task.add_done_callback(_log_late_failure)
            return web.json_response({})
        task.result()  # an error before the update was claimed: 500, and Telegram retries
        return web.json_response({})


def _log_late_failure(task: asyncio.Task[Any]) -> None:
    """A background update's error, by type only (its message may quote a person)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("an update handled in the background failed: %s", type(error).__name__)


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
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    handler = UpdateHandler(dispatcher, bot, handle_in_background=False, secret_token=secret)
    # Not handler.register(): it closes the bot session in on_shutdown, which aiohttp runs
    # before waiting for requests in flight, so their replies would fail.
    app.router.add_post(settings.webhook_path, handler.handle)
    app.router.add_get(HEALTHZ, _healthz(dispatcher.storage))
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
        """After requests in flight have finished and updates answered early are done:
        shutdown hooks (they close the storage)."""
        await handler.drain(HANDLING_BUDGET)
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
    """Serve on WEBHOOK_HOST:WEBHOOK_PORT until SIGINT/SIGTERM (or `stop` is set).

    Refuses to start without WEBHOOK_SECRET or CARD_KEYS, or with a damaged state file (left
    untouched).
    """
    bot = _bot(settings)
    if settings.webhook_secret is None:
        raise SettingsError(
            "WEBHOOK_SECRET is not set: without it anyone who finds the URL can post updates; "
            "set it to a random string of letters, digits, _ and -"
        )
    settings.require_card_keys()
    storage = await start_store(settings, bot.id)
    dispatcher = create_dispatcher(settings, storage)
    app = create_webhook_app(settings, dispatcher, bot)

    def started() -> None:
        # The path is left out: some deployments make it a secret.
        logger.info("webhook listening on %s:%d", settings.webhook_host, settings.webhook_port)
        settle_memory()

    try:
        await serve(
            app,
            settings.webhook_host,
            settings.webhook_port,
            port_setting="WEBHOOK_PORT",
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            stop=stop,
            started=started,
        )
    finally:
        await storage.close()
        await bot.session.close()
