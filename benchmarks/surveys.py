"""Whole surveys fed through Dispatcher.feed_update with an in-process session that answers
locally (no network), shared by bench_pipeline and bench_state.

Not a benchmark: scripts import it from this folder, which is on sys.path when a script is run by
hand (`python benchmarks/bench_pipeline.py`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import EditMessageReplyMarkup, SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Chat, Message, Update, User

_ids = itertools.count(1)
NOW = dt.datetime.now(dt.UTC)


class LocalSession(BaseSession):
    """Answers sendMessage and edits locally, keeping each chat's last keyboard."""

    def __init__(self) -> None:
        super().__init__()
        self.keyboards: dict[int, Any] = {}
        self.last_text: dict[int, str] = {}
        self.sent = 0

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage):
            self.sent += 1
            chat = int(method.chat_id)
            self.last_text[chat] = method.text
            message_id = next(_ids)
            if method.reply_markup is not None:
                self.keyboards[chat] = (message_id, method.reply_markup)
            return Message(
                message_id=message_id,
                date=NOW,
                chat=Chat(id=chat, type="private"),
                text=method.text,
            )
        if isinstance(method, EditMessageReplyMarkup):
            self.keyboards[int(method.chat_id)] = (method.message_id, method.reply_markup)
        return True

    async def stream_content(self, *args: Any, **kwargs: Any):  # pragma: no cover - unused
        yield b""

    async def close(self) -> None:
        return None


def message(user: int, text: str) -> Update:
    who = User(id=user, is_bot=False, first_name="C", language_code="en")
    return Update(
        update_id=next(_ids),
        message=Message(
            message_id=next(_ids),
            date=NOW,
            chat=Chat(id=user, type="private"),
            from_user=who,
            text=text,
        ),
    )


def press(user: int, data: str, message_id: int = 1) -> Update:
    who = User(id=user, is_bot=False, first_name="C", language_code="en")
    return Update(
        update_id=next(_ids),
        callback_query=CallbackQuery(
            id=str(next(_ids)),
            from_user=who,
            chat_instance="c",
            data=data,
            message=Message(
                message_id=message_id, date=NOW, chat=Chat(id=user, type="private"), text="q"
            ),
        ),
    )


# A whole survey: /start, English, a region and a benefit year that change from one person to
# the next (so that answers differ), then at each question its first option (Done for years),
# the answer from the summary, and its reasons ("Why:"). Pressed by the buttons' data.
MAX_STEPS = 25


def _next_press(buttons: list[Any]) -> str:
    """The data a scripted person presses on the last keyboard: Why? under an answer, the
    answer under the summary, Done at years, else the first option."""
    datas = [b.callback_data or "" for b in buttons]
    for action in ("why", "result", "done"):  # `n:<action>` and, before 2026-11-29, no more
        found = [d for d in datas if d.split(":")[:2] == ["n", action]]
        if found:
            return found[0]
    return next(d for d in datas if d.startswith(("p:", "l:")))


async def run_surveys(
    dispatcher: Dispatcher, bot: Bot, session: LocalSession, surveys: int, first_user: int
) -> int:
    """Feed `surveys` whole surveys, to the reasons; return the number of updates fed."""
    fed = 0
    for user in range(first_user, first_user + surveys):
        await dispatcher.feed_update(bot, message(user, "/start"))
        fed += 1
        for step in range(MAX_STEPS):
            message_id, markup = session.keyboards[user]
            buttons = [b for row in markup.inline_keyboard for b in row]
            # The second keyboard is the regions'.
            data = buttons[user % 5].callback_data or "" if step == 1 else _next_press(buttons)
            if step == 2:  # the benefit year, typed
                update = message(user, str(2026 + user % 2))
            else:
                update = press(user, data, message_id)
            await dispatcher.feed_update(bot, update)
            fed += 1
            if data.startswith("n:why"):
                break
    return fed
