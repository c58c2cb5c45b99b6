"""Retries of Bot API calls on flood control, server errors and network failures."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import ExceptionTypeFilter
from aiogram.methods import GetUpdates
from aiogram.types import ErrorEvent

if TYPE_CHECKING:
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

log = logging.getLogger("yibao.retry")

Sleep = Callable[[float], Awaitable[object]]


class RetryMiddleware(BaseRequestMiddleware):
    """Retry a Bot API call on 429, 5xx and network errors; any other error propagates at once."""

    def __init__(
        self,
        *,
        attempts: int = 5,
        base: float = 0.2,
        factor: float = 2.0,
        cap: float = 5.0,
        max_wait: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """`attempts` tries in all; a 429 asking for more than `max_wait` seconds is not waited."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts, self.base, self.factor, self.cap = attempts, base, factor, cap
        self.max_wait, self.sleep, self.jitter = max_wait, sleep, jitter

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (from 1)."""
        delay = min(self.cap, self.base * self.factor ** (attempt - 1))
        # Half fixed, half random: callers that failed together spread out, none retries at once.
        return delay / 2 + delay / 2 * self.jitter()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Make the request, retrying transient failures."""
        if isinstance(method, GetUpdates):
            # Polling backs off on its own, and a long poll must not be stretched further.
            return await make_request(bot, method)
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                # Retrying before retry_after has passed only earns another 429: give up instead.
                if attempt >= self.attempts or error.retry_after > self.max_wait:
                    raise
                delay: float = error.retry_after
            except TelegramEntityTooLarge:
                raise  # subclasses TelegramNetworkError, yet the same request would fail again
            except (TelegramServerError, TelegramNetworkError):
                # Trade-off: after a timeout or a dropped connection Telegram may already have
                # acted, so a retried sendMessage can arrive twice; a rare duplicate beats a
                # reply lost for good.
                if attempt >= self.attempts:
                    raise
                delay = self.backoff(attempt)
            attempt += 1
            log.info("retrying %s, attempt %d", method.__api_method__, attempt)
            await self.sleep(delay)


def install_retry(bot: Bot, middleware: RetryMiddleware | None = None) -> Bot:
    """Give the bot's session one retry middleware: `middleware` replaces one already there."""
    installed = [m for m in bot.session.middleware if isinstance(m, RetryMiddleware)]
    if installed and middleware is None:
        return bot
    for old in installed:
        bot.session.middleware.unregister(old)
    bot.session.middleware(middleware or RetryMiddleware())
    return bot


async def _drop_blocked(event: ErrorEvent) -> None:
    """Drop an update whose chat the bot can no longer write to."""
    method = getattr(event.exception, "method", None)
    name = method.__api_method__ if method is not None else "?"
    log.info("update dropped: %s forbidden in that chat", name)


def register_error_handlers(dispatcher: Dispatcher) -> None:
    """Swallow TelegramForbiddenError so the webhook answers 200 and Telegram stops redelivering."""
    # Without this aiogram re-raises, SimpleRequestHandler answers 500 and Telegram retries the
    # update again and again for a person who has blocked the bot.
    dispatcher.errors.register(_drop_blocked, ExceptionTypeFilter(TelegramForbiddenError))
