"""The core's button rows as Telegram inline keyboards, and the shapes of their data.

The core (bot/conversation/screens.py) packs button data itself; the CallbackData classes
below pack the same strings, for code and tests that build a press by hand.
"""

from __future__ import annotations

from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.conversation.model import Rows


class Pick(CallbackData, prefix="p"):
    """An option of a question: `p:<question>:<option>`."""

    q: str
    v: str


class Nav(CallbackData, prefix="n"):
    """A navigation button: back, done, result, why, what-if, aid, edit, restart. Back and Done
    name the question they stand under (`n:back:<question>`)."""

    a: str
    q: str = ""


class Edit(CallbackData, prefix="e"):
    """Change the answer to one question from the summary."""

    q: str


class Lang(CallbackData, prefix="l"):
    """Choose a language."""

    v: str


@lru_cache(maxsize=2048)
def markup(rows: Rows) -> InlineKeyboardMarkup | None:
    """The inline keyboard of `rows`, None for none. Built once per distinct keyboard: the same
    question offers the same buttons to everyone."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.label, callback_data=b.data)
                for b in row
            ]
            for row in rows
        ]
    )
