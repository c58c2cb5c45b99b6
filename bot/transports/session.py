"""The aiohttp session of the network transports, without two per-request costs of the stock one.

- aiogram parses every reply through `Response[T]`, a pydantic generic class that pydantic
  caches only weakly; after a garbage collection it is built again, schema and all (milliseconds).
  We hold each one we use.
- A reply markup was dumped and turned into JSON on every message, although our keyboards are
  shared, frozen objects. We keep the JSON of the last few hundred by identity.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import Response, TelegramMethod
from aiogram.types import InputFile, TelegramObject
from aiohttp import FormData

MARKUPS_KEPT = 512


class ApiSession(AiohttpSession):
    """AiohttpSession with the Response classes held and reply-markup JSON reused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._responses: dict[Any, type] = {}
        # id -> (markup, json): the markup is held so that its id cannot be reused.
        self._markups: OrderedDict[int, tuple[TelegramObject, str]] = OrderedDict()

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._responses:
            self._responses[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        form = FormData(quote_fields=False)
        files: dict[str, InputFile] = {}
        markup = getattr(method, "reply_markup", None)
        cached = isinstance(markup, TelegramObject)
        fields = method.model_dump(warnings=False, exclude={"reply_markup"} if cached else None)
        for key, value in fields.items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                form.add_field(key, prepared)
        if cached:
            form.add_field("reply_markup", self._markup_json(bot, markup))
        for key, file in files.items():
            form.add_field(key, file.read(bot), filename=file.filename or key)
        return form

    def _markup_json(self, bot: Bot, markup: TelegramObject) -> str:
        key = id(markup)
        kept = self._markups.get(key)
        if kept is not None and kept[0] is markup:
            self._markups.move_to_end(key)
            return kept[1]
        text = self.prepare_value(markup, bot=bot, files={})
        self._markups[key] = (markup, text)
        if len(self._markups) > MARKUPS_KEPT:
            self._markups.popitem(last=False)
        return text


def settle_memory() -> None:
    """Move everything built at start-up (aiogram's and pydantic's thousands of classes and
    schemas) out of the garbage collector's view, so its full collections no longer walk them.
    With them in view (about 200,000 objects) a full collection stopped the bot for ~170 ms."""
    gc.collect()
    gc.freeze()
