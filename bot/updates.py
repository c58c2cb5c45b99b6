"""The gate every update passes first: known kinds only, once per update, within a budget.

- An update of a kind this aiogram does not know (Telegram added it later) is dropped with a
  log line naming its fields; aiogram would otherwise warn with the whole update, text and all.
- Each update id is claimed in the store before anything is handled (bot/storage/updates.py):
  a redelivered update (after a 500, a timeout, a crash mid-reply, or a second worker) finds
  its claim and changes nothing, sends nothing. The effect of an update is applied at most
  once; a reply that could not be sent is not retried by replaying the update, since the
  state it saved already shows the person where they are.
- Handling is bounded by HANDLING_BUDGET seconds, well under the 60 s after which Telegram
  gives up on a webhook and redelivers; Bot API waits (bot/retry.py) never run past it.
- An error left over after the Bot API outcomes are handled is logged by type and place only
  (an exception's message may quote what a person wrote) and the update counts as handled:
  its claim stands, so answering 500 would only have Telegram redeliver it to be ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import aiogram
from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, TelegramObject, Update, User
from aiogram.types.update import UpdateTypeLookupError

from bot.conversation import locale_of
from bot.i18n import client_locale
from bot.logs import where
from bot.storage.conversations import Conversations, StoreUnavailable

log = logging.getLogger("yibao.updates")

HANDLING_BUDGET = 45.0  # seconds for one update in all, Bot API waits included
_deadline: ContextVar[float | None] = ContextVar("yibao_update_deadline", default=None)


def time_left() -> float | None:
    """Seconds left in the current update's budget, or None outside an update."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return deadline - asyncio.get_running_loop().time()


class Dispatcher(aiogram.Dispatcher):
    """aiogram's Dispatcher, with the gate every update passes first (see the module's text).

    `feed_update` is the public entry of every transport (webhook, polling, tests), so the gate
    wraps it: before aiogram's own middlewares, an unknown kind or a failure costs nothing else.
    """

    def __init__(self, *, budget: float = HANDLING_BUDGET, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.budget = budget
        self.in_progress: set[asyncio.Task[Any]] = set()  # the tasks handling an update

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout` s) for the updates still being handled, so that they can
        answer and save their state before the storage and session close."""
        tasks = self.in_progress - {asyncio.current_task()}
        if tasks:
            log.info("waiting for %d update(s) in progress", len(tasks))
            await asyncio.wait(tasks, timeout=timeout)

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if task is not None and task not in self.in_progress:
            # Until the task ends, not this call: polling's task still sends a method a handler
            # returned after feed_update is done.
            self.in_progress.add(task)
            task.add_done_callback(self.in_progress.discard)
        try:
            kind = update.event_type
        except UpdateTypeLookupError:
            fields = sorted(set(update.model_dump(exclude_unset=True)) - {"update_id"})
            log.info("update %d of a kind not known here dropped (%s)", update.update_id, fields)
            return UNHANDLED
        loop = asyncio.get_running_loop()
        token = _deadline.set(loop.time() + self.budget)
        try:
            async with asyncio.timeout(self.budget):
                return await super().feed_update(bot, update, **kwargs)
        except TimeoutError:
            log.warning(
                "update %d (%s) stopped after its %.0f s budget",
                update.update_id,
                kind,
                self.budget,
            )
        except TelegramAPIError as error:
            method = getattr(error, "method", None)
            name = method.__api_method__ if method is not None else "?"
            log.warning(
                "update %d (%s): %s failed (%s), reply not sent",
                update.update_id,
                kind,
                name,
                type(error).__name__,
            )
        except StoreUnavailable:
            # The store could not claim the update: nothing has happened yet, and the webhook's
            # 500 (or polling's retry) brings it back once the store is there again.
            raise
        except Exception as error:
            log.error(
                "update %d (%s) failed: %s at %s",
                update.update_id,
                kind,
                type(error).__name__,
                where(error),
            )
        finally:
            _deadline.reset(token)
        return UNHANDLED


class ConversationMiddleware(BaseMiddleware):
    """An update outer middleware, after aiogram's user context: claims each update once, and for
    a person's message or press in their private chat holds their conversation (isolated, read
    once: bot/storage/conversations.py) as `conversation`, with `locale` their language and
    `client_locale` the client's (what the language is until they choose one)."""

    def __init__(self, conversations: Conversations, default_locale: str) -> None:
        self.conversations = conversations
        self.default_locale = default_locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        bot: Bot = data["bot"]
        data["fsm_storage"] = self.conversations.storage
        user: User | None = data.get("event_from_user")
        guess = client_locale(user.language_code if user else None, self.default_locale)
        data["locale"] = data["client_locale"] = guess
        key = _person(event, bot, data)
        if key is None:
            if not await self.conversations.claim(bot.id, event.update_id):
                log.info("update %d was handled before: redelivery ignored", event.update_id)
                return UNHANDLED
            return await handler(event, data)
        async with self.conversations.hold(bot.id, event.update_id, key) as held:
            if held is None:
                log.info("update %d was handled before: redelivery ignored", event.update_id)
                return UNHANDLED
            data["conversation"] = held
            data["locale"] = locale_of(held.state, guess)
            return await handler(event, data)


def _person(event: Update, bot: Bot, data: dict[str, Any]) -> StorageKey | None:
    """The conversation an update belongs to: a message or press in a private chat, from a
    person; None for anything else (groups, member changes, inline presses)."""
    if event.message is None and event.callback_query is None:
        return None
    chat: Chat | None = data.get("event_chat")
    user: User | None = data.get("event_from_user")
    if chat is None or user is None or chat.type != ChatType.PRIVATE:
        return None
    return StorageKey(bot_id=bot.id, chat_id=chat.id, user_id=user.id)
