"""Update middlewares: the user's locale, remembered in their FSM data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.types import TelegramObject

from bot.i18n import available, client_locale


class LocaleMiddleware(BaseMiddleware):
    """Puts `locale` into handler data: the chosen one, else the client's language, mapped."""

    def __init__(self, default: str) -> None:
        self.default = default

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state: FSMContext | None = data.get("state")
        chosen = (await state.get_value("locale")) if state else None
        user = data.get("event_from_user")
        code = user.language_code if user else None
        if chosen:
            data["locale"] = chosen if chosen in available() else self.default
        else:
            data["locale"] = client_locale(code, self.default)
        return await handler(event, data)
