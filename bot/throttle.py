"""Per-user flood control: a token bucket in memory, one polite warning, then silence."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update, User

from bot.render import render_macro

log = logging.getLogger("yibao.throttle")

TEMPLATE = "reliability.j2"
Verdict = Literal["pass", "warn", "drop"]


@dataclass(slots=True)
class _Bucket:
    """One user's tokens at `stamp`, and whether they were told to slow down."""

    tokens: float
    stamp: float
    warned: bool = False


def _written_to_the_bot(event: TelegramObject, data: dict[str, Any]) -> bool:
    """Whether the update is a message or press in the person's private chat with the bot.

    Only there may the warning go: not into a group (a member writing fast there, or all the
    anonymous admins who share one stand-in sender, must not make the bot speak in the group),
    and not for a business account's customer, who wrote to that account and not to the bot.
    """
    chat: Chat | None = data.get("event_chat")
    if chat is None or chat.type != ChatType.PRIVATE or not isinstance(event, Update):
        return False
    return event.message is not None or event.callback_query is not None


class ThrottlingMiddleware(BaseMiddleware):
    """Lets each user through at `rate` updates/s with bursts of `burst`; warns a flooder once.

    Register it as an update outer middleware after LocaleMiddleware: it reads `locale`.
    Buckets live in this process, so N webhook workers allow up to N times the rate.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        prune_at: int = 10_000,
    ) -> None:
        """Refill `rate` tokens a second up to `burst`; `clock` is injectable for tests."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst = float(rate), float(burst)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._prune_at = self._min_prune = prune_at

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Handle the update, or warn once and drop it when the user's bucket is empty."""
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        verdict = self.admit(user.id)
        if verdict == "pass":
            return await handler(event, data)
        if verdict == "warn":
            if _written_to_the_bot(event, data):
                log.info("a user is flooding; further updates are dropped until they slow down")
                await self._warn(data)
            else:
                self._buckets[user.id].warned = False  # the warning is kept for their chat
        return None

    def admit(self, user_id: int) -> Verdict:
        """Take a token for user_id: pass, or (when none is left) warn the first time, then drop."""
        now = self._clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            self._prune(now)
            bucket = self._buckets[user_id] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= self.burst:
            # Refilled: they slowed down, so a new flood earns a new warning.
            bucket.warned = False
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return "pass"
        if bucket.warned:
            return "drop"
        bucket.warned = True
        return "warn"

    def _prune(self, now: float) -> None:
        """Forget full buckets (they equal a new one) once there are many, to bound memory."""
        if len(self._buckets) < self._prune_at:
            return
        full = [
            uid
            for uid, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * self.rate >= self.burst
        ]
        for uid in full:
            del self._buckets[uid]
        # Doubling keeps pruning amortised O(1) per new user when most buckets are busy.
        self._prune_at = max(self._min_prune, 2 * len(self._buckets))

    async def _warn(self, data: dict[str, Any]) -> None:
        """Send the polite message in the user's language to the chat the update came from."""
        chat: Chat | None = data.get("event_chat")
        bot: Bot | None = data.get("bot")
        if chat is None or bot is None:
            return
        text = render_macro(TEMPLATE, "text", data.get("locale", "en"), "slow_down")
        try:
            await bot.send_message(chat.id, text)
        except TelegramAPIError as error:
            # A failed courtesy must not fail the update: Telegram would resend the flood.
            log.warning("could not send the slow-down message (%s)", type(error).__name__)
