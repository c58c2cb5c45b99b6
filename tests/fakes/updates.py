"""Telegram updates as Telegram sends them, and what to read in the bot's sent messages."""

from __future__ import annotations

import time
from typing import Any


def start_update(update_id: int = 1, chat_id: int = 1001) -> dict[str, Any]:
    """A Telegram Update carrying `/start` from a private chat, as Telegram sends it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10 + update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Dolkar"},
            "from": {
                "id": chat_id,
                "is_bot": False,
                "first_name": "Dolkar",
                "language_code": "en",
            },
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def has_inline_keyboard(params: dict[str, Any]) -> bool:
    """Whether sent message parameters carry inline buttons."""
    markup = params.get("reply_markup")
    return isinstance(markup, dict) and bool(markup.get("inline_keyboard"))
