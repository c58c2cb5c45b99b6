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


# A whole survey: /start, language, region, year, insurance, group, paid years (Done),
# payment, repair, show result, why. Buttons by their position on the last keyboard.
SCRIPT: list[tuple[str, Any]] = [
    ("say", "/start"),
    ("press", 0),
    ("press", 0),
    ("say", "2027"),
    ("press", 2),
    ("press", 0),
    ("press", 2),
    ("press", 0),
    ("press", 0),
    ("press", -2),
    ("press", 0),
]


async def run_surveys(
    dispatcher: Dispatcher, bot: Bot, session: LocalSession, surveys: int, first_user: int
) -> int:
    """Feed `surveys` whole surveys; return the number of updates fed."""
    fed = 0
    for user in range(first_user, first_user + surveys):
        for kind, value in SCRIPT:
            if kind == "say":
                update = message(user, value)
            else:
                message_id, markup = session.keyboards[user]
                buttons = [b for row in markup.inline_keyboard for b in row]
                update = press(user, buttons[value].callback_data, message_id)
            await dispatcher.feed_update(bot, update)
            fed += 1
    return fed
