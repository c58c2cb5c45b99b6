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
import traceback
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError

from bot.storage.updates import UpdateLedger

log = logging.getLogger("yibao.updates")

HANDLING_BUDGET = 45.0  # seconds for one update in all, Bot API waits included
_deadline: ContextVar[float | None] = ContextVar("yibao_update_deadline", default=None)


def time_left() -> float | None:
    """Seconds left in the current update's budget, or None outside an update."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return deadline - asyncio.get_running_loop().time()


def _where(error: BaseException) -> str:
    """`file:line in function` of the innermost frame: enough to find a bug, no values."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


class UpdateGate(BaseMiddleware):
    """Outermost update middleware: drops unknown kinds and redeliveries, bounds the rest."""

    def __init__(self, ledger: UpdateLedger, budget: float = HANDLING_BUDGET) -> None:
        self.ledger = ledger
        self.budget = budget

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        try:
            kind = event.event_type
        except UpdateTypeLookupError:
            fields = sorted(set(event.model_dump(exclude_unset=True)) - {"update_id"})
            log.info("update %d of a kind not known here dropped (%s)", event.update_id, fields)
            return UNHANDLED
        bot: Bot = data["bot"]
        # Raises when the store cannot answer: nothing has happened yet, and the webhook's
        # 500 (or polling's retry) brings the update back once the store is there again.
        if not await self.ledger.claim(bot.id, event.update_id):
            log.info("update %d was handled before: redelivery ignored", event.update_id)
            return UNHANDLED
        loop = asyncio.get_running_loop()
        token = _deadline.set(loop.time() + self.budget)
        try:
            async with asyncio.timeout(self.budget):
                return await handler(event, data)
        except TimeoutError:
            log.warning(
                "update %d (%s) stopped after its %.0f s budget", event.update_id, kind, self.budget
            )
        except TelegramAPIError as error:
            method = getattr(error, "method", None)
            name = method.__api_method__ if method is not None else "?"
            log.warning(
                "update %d (%s): %s failed (%s), reply not sent",
                event.update_id,
                kind,
                name,
                type(error).__name__,
            )
        except Exception as error:
            log.error(
                "update %d (%s) failed: %s at %s",
                event.update_id,
                kind,
                type(error).__name__,
                _where(error),
            )
        finally:
            _deadline.reset(token)
        return UNHANDLED


def install_gate(dispatcher: Dispatcher, ledger: UpdateLedger) -> UpdateGate:
    """Put an UpdateGate on `ledger` before every other update middleware of `dispatcher`."""
    gate = UpdateGate(ledger)
    dispatcher.update.outer_middleware.register(gate)
    # Outermost: before aiogram's own (errors, user context, FSM lock), so that an unknown
    # kind or a redelivery costs one claim and nothing else.
    middlewares = dispatcher.update.outer_middleware._middlewares
    middlewares.insert(0, middlewares.pop())
    return gate
