"""The aiohttp session of the network transports, without three per-request costs of the stock one.

- aiogram parses every reply through `Response[T]`, a pydantic generic class that pydantic
  caches only weakly; after a garbage collection it is built again, schema and all (milliseconds).
  We hold each one we use.
- Every request was sent as an url-encoded form. A request without files now goes as one JSON
  body, which the Bot API accepts too; files still go as multipart forms.
- A reply markup was dumped and turned into JSON on every message, although our keyboards are
  shared objects that nothing changes once built. We keep the JSON of the last few hundred by
  identity.
"""

from __future__ import annotations

import gc
import json
from collections import OrderedDict
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile, TelegramObject
from aiohttp import ClientError

MARKUPS_KEPT = 512
# Seconds one Bot API call may take (aiogram's default is 60, Telegram's whole webhook wait).
REQUEST_TIMEOUT = 15.0
_JSON = {"Content-Type": "application/json"}


class ApiSession(AiohttpSession):
    """AiohttpSession sending JSON, with the Response classes held and markup JSON reused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
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

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> str | None:
        """The request as a JSON object, or None when it carries a file."""
        markup = getattr(method, "reply_markup", None)
        reuse = isinstance(markup, TelegramObject)
        files: dict[str, InputFile] = {}
        fields = {}
        dumped = method.model_dump(warnings=False, exclude={"reply_markup"} if reuse else None)
        for key, value in dumped.items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # the form drops these too
                fields[key] = prepared
        if files:
            return None
        body = json.dumps(fields, ensure_ascii=False)
        if not reuse:
            return body
        separator = ", " if fields else ""
        return f'{body[:-1]}{separator}"reply_markup": {self._markup_json(bot, markup)}}}'

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

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)  # multipart, for files
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body.encode(),
                headers=_JSON,
                timeout=self.timeout if timeout is None else timeout,
            ) as response:
                content = await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            message = f"{type(error).__name__}: {error}"
            raise TelegramNetworkError(method=method, message=message) from error
        result = self.check_response(bot, method, response.status, content)
        return cast(TelegramType, result.result)


def settle_memory() -> None:
    """Move everything built at start-up (aiogram's and pydantic's thousands of classes and
    schemas) out of the garbage collector's view, so its full collections no longer walk them.
    With them in view (about 200,000 objects) a full collection stopped the bot for ~170 ms."""
    gc.collect()
    gc.freeze()
