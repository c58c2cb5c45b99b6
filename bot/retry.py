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
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import ExceptionTypeFilter
from aiogram.methods import AnswerCallbackQuery, GetUpdates
from aiogram.types import ErrorEvent

from bot.updates import time_left

if TYPE_CHECKING:
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

log = logging.getLogger("yibao.retry")

# What Telegram says when a press is answered after its ~15 s: the press itself is still
# handled; only the client's spinner has already stopped on its own.
EXPIRED_QUERY = ("query is too old", "query id is invalid")
# Telegram drops an unanswered press after about 15 s: a longer flood wait is not waited.
ANSWER_WAIT = 5.0
# Left before the update's budget ends when deciding whether a wait still fits.
MARGIN = 2.0
# After a timeout Telegram may have acted on these already: sending again could send twice.
_SAFE_AFTER_TIMEOUT = ("get", "set", "delete", "edit", "answer")

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
        polling = isinstance(method, GetUpdates)  # a flag: narrowing would lose TelegramType
        if polling:
            # Polling backs off on its own, and a long poll must not be stretched further.
            return await make_request(bot, method)
        # A press's answer only stops the client's spinner, and Telegram drops an unanswered
        # press after about 15 s: one too late or flood-limited is no error (the press itself
        # is handled all the same), and a long flood wait is not waited for it.
        press = isinstance(method, AnswerCallbackQuery)
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramBadRequest as error:
                if press and any(phrase in error.message.lower() for phrase in EXPIRED_QUERY):
                    log.info("a press was answered too late for Telegram; handled all the same")
                    return True  # type: ignore[return-value]  # answerCallbackQuery's own result
                raise
            except TelegramRetryAfter as error:
                # Inside an update the wait may use what is left of its budget (the webhook has
                # answered 200 by then, bot/transports/webhook.py); retrying before retry_after
                # has passed only earns another 429, so a longer wait gives up at once.
                longest = min(ANSWER_WAIT, self.longest_wait()) if press else self.longest_wait()
                if attempt >= self.attempts or error.retry_after > longest:
                    if press:
                        log.info("a press was not answered: flood control")
                        return True  # type: ignore[return-value]
                    raise
                delay: float = error.retry_after
            except TelegramEntityTooLarge:
                raise  # subclasses TelegramNetworkError, yet the same request would fail again
            except TelegramNetworkError as error:
                # A refused or dropped connection is retried. After a timeout Telegram may have
                # sent the message already: a send is not repeated (it would arrive twice);
                # reads, edits and answers are safe to repeat.
                timed_out = error.message.startswith("Request timeout")
                if attempt >= self.attempts or (
                    timed_out and not method.__api_method__.startswith(_SAFE_AFTER_TIMEOUT)
                ):
                    raise
                delay = self.backoff(attempt)
            except TelegramServerError:
                if attempt >= self.attempts:
                    raise
                delay = self.backoff(attempt)
            if delay > self.longest_wait():
                raise TimeoutError(f"{method.__api_method__}: no time left to retry")
            attempt += 1
            log.info("retrying %s, attempt %d", method.__api_method__, attempt)
            await self.sleep(delay)

    def longest_wait(self) -> float:
        """Seconds a retry may wait: what the update's budget has left, else `max_wait`."""
        left = time_left()
        return self.max_wait if left is None else left - MARGIN


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
