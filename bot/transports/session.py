"""The aiohttp session of the network transports, without three per-request costs of the stock one.

- aiogram parses every reply through `Response[T]`, a pydantic generic class that pydantic
  caches only weakly; after a garbage collection it is built again, schema and all (milliseconds).
  We hold each one we use.
- Every request was sent as an url-encoded form. A request without files now goes as one JSON
  body, which the Bot API accepts too; files still go as multipart forms.
- A reply markup was dumped and turned into JSON on every message, although our keyboards are
  shared objects that nothing changes once built. We keep the JSON of the last few hundred by
  identity.

Only public API of aiogram's BaseSession is used: prepare_value readies a dict of fields for a
JSON body, json_dumps is the session's own (here without \\u escapes).
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
from aiohttp import ClientError, ClientTimeout

MARKUPS_KEPT = 512
# Seconds one Bot API call may take (aiogram's default is 60, Telegram's whole webhook wait).
REQUEST_TIMEOUT = 15.0
_JSON = {"Content-Type": "application/json"}


def _utf8_json(value: Any) -> str:
    """JSON with the text as it is: Chinese and Tibetan in UTF-8, not \\u escapes twice the size."""
    return json.dumps(value, ensure_ascii=False)


class ApiSession(AiohttpSession):
    """AiohttpSession sending JSON, with the Response classes held and markup JSON reused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        kwargs.setdefault("json_dumps", _utf8_json)
        super().__init__(**kwargs)
        self._responses: dict[Any, type] = {}
        # id -> (markup, json): the markup is held so that its id cannot be reused.
        self._markups: OrderedDict[int, tuple[TelegramObject, str]] = OrderedDict()

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._responses:
            # A class made from a type known at run time only, which mypy cannot follow.
            self._responses[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> str | None:
        """The request as a JSON object, or None when it carries a file."""
        markup = getattr(method, "reply_markup", None)
        kept = markup if isinstance(markup, TelegramObject) else None
        exclude = None if kept is None else {"reply_markup"}
        dumped = method.model_dump(warnings=False, exclude=exclude)
        # The form leaves out empty strings as well as None (prepare_value drops None itself).
        fields = {key: value for key, value in dumped.items() if value != ""}
        files: dict[str, InputFile] = {}
        # The fields as one dict: prepare_value readies its items as they are (files become
        # attach:// references, defaults their values) and turns the whole into JSON once.
        body = cast(str, self.prepare_value(fields, bot=bot, files=files))
        if files:
            return None
        if kept is None:
            return body
        separator = ", " if fields else ""
        return f'{body[:-1]}{separator}"reply_markup": {self._markup_json(bot, kept)}}}'

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
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
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
