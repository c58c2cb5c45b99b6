"""Opt-in reminders: before the payment period closes, and when the waiting period ends."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import deque
from typing import Literal

from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters.callback_data import CallbackData

from bot.campaign.offers import (
    PERIOD_LEAD,
    period_end,
    reminder_due,
    reminder_options,
    reminder_payload,
)
from bot.campaign.store import CampaignStore, Kind, Reminder
from bot.i18n import DEFAULT_LOCALE, available
from bot.render import render_macro

__all__ = [
    "PERIOD_LEAD",
    "Remind",
    "period_end",
    "reminder_due",
    "reminder_options",
    "reminder_payload",
    "reminder_text",
    "run_reminders",
]

log = logging.getLogger("yibao.reminders")

TEMPLATE = "campaign.j2"
BATCH = 100


class Remind(CallbackData, prefix="rm"):
    """Opt in to one reminder of `kind`."""

    kind: Kind


def reminder_text(reminder: Reminder) -> str:
    """The message sent, in the reminder's language."""
    locale = reminder.locale if reminder.locale in available() else DEFAULT_LOCALE
    return render_macro(TEMPLATE, "reminder", locale, reminder.kind, reminder.due, reminder.payload)


class Pacer:
    """At most `rate` sends in any second, counted as Telegram could have received them."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.gap = 1.0 / rate
        self._last_start = float("-inf")
        # Completion times: a request reaches Telegram before its answer reaches us, so
        # measuring the window from completions errs on the safe side.
        self._done: deque[float] = deque(maxlen=rate)

    async def wait(self) -> None:
        """Sleep until the next send is allowed."""
        earliest = self._last_start + self.gap
        if len(self._done) == self.rate:
            earliest = max(earliest, self._done[0] + 1.0 + 1e-3)
        # A loop: asyncio may wake a timer up to its clock resolution early.
        while (delay := earliest - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        self._last_start = time.monotonic()

    def done(self) -> None:
        """Note that the send just started has been answered."""
        self._done.append(time.monotonic())


async def _pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop`; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


Outcome = Literal["sent", "blocked", "retry"]


async def _deliver(
    bot: Bot, store: CampaignStore, reminder: Reminder, pacer: Pacer, stop: asyncio.Event
) -> Outcome:
    """Send one reminder, waiting out flood control; say how it went."""
    while not stop.is_set():
        await pacer.wait()
        try:
            await bot.send_message(reminder.chat_id, reminder_text(reminder))
        except TelegramRetryAfter as error:
            pacer.done()
            log.warning("flood control: waiting %s s", error.retry_after)
            if await _pause(stop, error.retry_after):
                return "retry"
            continue
        except TelegramForbiddenError:
            pacer.done()
            # The person blocked the bot: none of their reminders can arrive.
            await store.forget(reminder.user_id)
            return "blocked"
        except Exception as error:
            pacer.done()
            # Only the type: messages may quote the request, which names the chat.
            log.warning("a reminder was not sent (%s); retrying next round", type(error).__name__)
            return "retry"
        pacer.done()
        await store.mark_sent(reminder)
        return "sent"
    return "retry"


async def run_reminders(
    bot: Bot,
    store: CampaignStore,
    *,
    rate: int = 25,
    interval: float = 30.0,
    stop: asyncio.Event,
    batch: int = BATCH,
) -> None:
    """Send due reminders every `interval` seconds, at most `rate` a second, until `stop`."""
    if rate < 1 or batch < 1:
        raise ValueError("rate and batch must be at least 1")
    pacer = Pacer(rate)
    while not stop.is_set():
        retries = 0
        try:
            reminders = await store.due_reminders(dt.datetime.now(dt.UTC), batch)
            blocked: set[int] = set()
            for reminder in reminders:
                if stop.is_set():
                    return
                if reminder.user_id in blocked:
                    continue  # fetched before their reminders were dropped
                outcome = await _deliver(bot, store, reminder, pacer, stop)
                retries += outcome == "retry"
                if outcome == "blocked":
                    blocked.add(reminder.user_id)
        except Exception as error:
            log.warning("reminder round failed (%s); retrying", type(error).__name__)
            reminders, retries = [], 1
        # A full batch with nothing left to retry means more may be waiting: go on at once.
        more = len(reminders) == batch and not retries
        if not more and await _pause(stop, interval):
            return
