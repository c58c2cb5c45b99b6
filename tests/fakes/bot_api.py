"""In-process fake Telegram Bot API server speaking real HTTP, for end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

Outcome = Literal["ok", "error", "dropped", "delayed"]
Predicate = Callable[[list["Call"]], bool]

BOT_USERNAME = "yibao_test_bot"
MESSAGE_SENDERS = frozenset({"sendMessage", "editMessageText"})
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: invalid request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@dataclass(frozen=True)
class UploadedFile:
    """A file received as a multipart part."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    """One recorded Bot API request."""

    method: str
    token: str
    params: dict[str, Any]
    received: float = field(default_factory=time.monotonic)
    outcome: Outcome = "ok"
    result: Any = None


@dataclass
class _Fault:
    """A queued misbehaviour for the next calls of one method."""

    kind: Literal["error", "delay", "drop"]
    times: int
    status: int = 500
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0


class TelegramError(Exception):
    """Raised by a method handler to answer with a Telegram-style error."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _decode(value: Any) -> Any:
    """Decode a form value that is a JSON object or array; leave anything else as is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    """Build a Telegram-style error response."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _chat(chat_id: Any) -> dict[str, Any]:
    """Build a Chat object for a numeric id or an @channel username."""
    if chat_id in (None, ""):
        raise TelegramError(400, "Bad Request: chat_id is empty")
    text = str(chat_id)
    if text.lstrip("-").isdigit():
        cid = int(text)
        return {"id": cid, "type": "private" if cid > 0 else "supergroup", "first_name": "Test"}
    return {"id": -1001000000000, "type": "channel", "username": text.lstrip("@")}


def _inline_markup(params: dict[str, Any]) -> dict[str, Any]:
    """Return the reply_markup to echo in a Message (Telegram echoes inline keyboards only)."""
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return {"reply_markup": markup}
    return {}


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Collect query, form, multipart or JSON parameters of a request."""
    params: dict[str, Any] = {k: _decode(v) for k, v in request.query.items()}
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        params.update(await request.json())
        return params
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            params[key] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            params[key] = _decode(value)
    for key, value in list(params.items()):
        # aiogram sends files as separate parts referenced by "attach://<part name>".
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = params.pop(value.removeprefix("attach://"), value)
    return params


class FakeBotAPI:
    """A fake Telegram Bot API server on 127.0.0.1 that records calls and injects faults."""

    def __init__(self, username: str = BOT_USERNAME) -> None:
        """Prepare the server; call start() or use ``async with`` to listen."""
        self.username = username
        self.calls: list[Call] = []
        self.webhook_url = ""
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._query_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._handlers: dict[str, Callable[[Call], Awaitable[Any]]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._true,
            "deletemessage": self._delete_message,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._true,
            "getupdates": self._get_updates,
            "close": self._true,
            "logout": self._true,
        }

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release pending long polls and delays, then shut the server down."""
        self._closing = True
        self._bump()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    @property
    def base_url(self) -> str:
        """Root URL to hand to ``TelegramAPIServer.from_base``."""
        if not self._port:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._port}"

    # -- recording -------------------------------------------------------------------------

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Params of delivered sendMessage/editMessageText calls, optionally for one chat."""
        return [
            call.params
            for call in self.calls
            if call.method in MESSAGE_SENDERS
            and call.outcome in ("ok", "delayed")
            and (chat_id is None or str(call.params.get("chat_id")) == str(chat_id))
        ]

    async def wait_for(self, condition: int | Predicate, timeout: float = 5.0) -> list[Call]:
        """Wait until ``len(calls) >= condition`` or ``condition(calls)`` holds; return calls."""
        count = condition if isinstance(condition, int) else None
        predicate = condition if callable(condition) else None

        def holds() -> bool:
            """Evaluate the condition against the calls so far."""
            return predicate(self.calls) if predicate else len(self.calls) >= (count or 0)

        if not await self._until(holds, timeout):
            methods = [call.method for call in self.calls]
            raise TimeoutError(f"condition not met within {timeout}s; calls: {methods}")
        return self.calls

    def clear(self) -> None:
        """Forget recorded calls, queued updates and pending faults."""
        self.calls.clear()
        self._updates.clear()
        self._faults.clear()

    # -- updates ---------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates, assigning update_id if missing; return its id."""
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self._updates.append(update)
        self._bump()
        return update["update_id"]

    def push_message(self, text: str, chat_id: int = 1001, user_id: int | None = None) -> int:
        """Queue a private text message from a user; return the update_id."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Tester"}
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": user,
            "text": text,
        }
        return self.push_update({"message": message})

    def push_callback_query(
        self, data: str, message: dict[str, Any], user_id: int | None = None
    ) -> int:
        """Queue a callback query pressed on a (bot) message; return the update_id."""
        user = {"id": user_id or message["chat"]["id"], "is_bot": False, "first_name": "Tester"}
        query = {
            "id": str(next(self._query_ids)),
            "from": user,
            "chat_instance": "1",
            "message": message,
            "data": data,
        }
        return self.push_update({"callback_query": query})

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    # -- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        retry_after: int | None = None,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with a Telegram-style error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            template = _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
            description = template.format(retry_after=retry_after)
        fault = _Fault("error", times, status, description, retry_after)
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Delay the response to the next ``times`` calls of ``method``."""
        fault = _Fault("delay", times, seconds=seconds)
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def drop_next(self, method: str, times: int = 1) -> None:
        """Close the connection without answering the next ``times`` calls of ``method``."""
        self._faults.setdefault(method.lower(), deque()).append(_Fault("drop", times))

    def _take_fault(self, method: str) -> _Fault | None:
        """Consume one use of the oldest fault queued for ``method``."""
        queue = self._faults.get(method.lower())
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # -- plumbing --------------------------------------------------------------------------

    def _bump(self) -> None:
        """Wake everything waiting for a state change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` is true or ``timeout`` passes; return its final value."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            return predicate()
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Dispatch one Bot API request, applying any queued fault."""
        method = request.match_info["method"]
        call = Call(method, request.match_info["token"], await _read_params(request))
        fault = self._take_fault(method)
        handler = self._handlers.get(method.lower())
        if fault is not None:
            call.outcome = {"error": "error", "delay": "delayed", "drop": "dropped"}[fault.kind]
        elif handler is None:
            call.outcome = "error"
        self.calls.append(call)
        self._bump()
        try:
            if fault is not None and fault.kind == "drop":
                # Close without a response; aiohttp treats this like a client disconnect.
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError
            if fault is not None and fault.kind == "error":
                return _error(fault.status, fault.description, fault.retry_after)
            if fault is not None and fault.kind == "delay":
                await self._until(lambda: self._closing, fault.seconds)
            if handler is None:
                return _error(404, "Not Found: method not found")
            try:
                call.result = await handler(call)
            except TelegramError as exc:
                call.outcome = "error"
                return _error(exc.status, exc.description)
            return web.json_response({"ok": True, "result": call.result})
        finally:
            self._bump()

    def _bot_user(self, token: str) -> dict[str, Any]:
        """The bot's own User object, with the id taken from the token."""
        prefix = token.partition(":")[0]
        return {
            "id": int(prefix) if prefix.isdigit() else 42,
            "is_bot": True,
            "first_name": "Yibao Test",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _new_message(self, call: Call, **content: Any) -> dict[str, Any]:
        """Create, store and return a Message sent by the bot."""
        chat = _chat(call.params.get("chat_id"))
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(call.token),
            **content,
        }
        self._messages[chat["id"], message["message_id"]] = message
        return message

    def _edit(self, call: Call, **content: Any) -> dict[str, Any] | bool:
        """Apply an edit to a stored (or unknown, leniently created) message."""
        params = call.params
        if params.get("inline_message_id"):
            return True
        chat = _chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id") or 0))
        if not key[1]:
            raise TelegramError(400, "Bad Request: message identifier is not specified")
        old = self._messages.get(key)
        base = old or {
            "message_id": key[1],
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(call.token),
        }
        new = {k: v for k, v in base.items() if k != "reply_markup"} | content
        new |= _inline_markup(params)
        if old is not None and new | {"edit_date": 0} == old | {"edit_date": 0}:
            raise TelegramError(400, _NOT_MODIFIED)
        new["edit_date"] = int(time.time())
        self._messages[key] = new
        return new

    def _file(self, upload: Any, prefix: str) -> dict[str, Any]:
        """Describe an uploaded file (or a re-sent file_id/URL) as Telegram file fields."""
        n = next(self._file_ids)
        info: dict[str, Any] = {"file_id": f"{prefix}{n}", "file_unique_id": f"u{prefix}{n}"}
        if isinstance(upload, UploadedFile):
            info["file_size"] = len(upload.data)
        elif isinstance(upload, str) and upload:
            info["file_id"] = upload
        else:
            raise TelegramError(400, "Bad Request: there is no file in the request")
        return info

    # -- methods ---------------------------------------------------------------------------

    async def _true(self, call: Call) -> bool:
        """Acknowledge a method whose result is just True."""
        return True

    async def _get_me(self, call: Call) -> dict[str, Any]:
        """getMe."""
        return self._bot_user(call.token)

    async def _send_message(self, call: Call) -> dict[str, Any]:
        """sendMessage."""
        params = call.params
        if not params.get("text"):
            raise TelegramError(400, "Bad Request: message text is empty")
        content = {"text": params["text"], **_inline_markup(params)}
        if isinstance(params.get("entities"), list):
            content["entities"] = params["entities"]
        return self._new_message(call, **content)

    async def _edit_message_text(self, call: Call) -> dict[str, Any] | bool:
        """editMessageText."""
        if not call.params.get("text"):
            raise TelegramError(400, "Bad Request: message text is empty")
        return self._edit(call, text=call.params["text"])

    async def _edit_message_reply_markup(self, call: Call) -> dict[str, Any] | bool:
        """editMessageReplyMarkup."""
        return self._edit(call)

    async def _delete_message(self, call: Call) -> bool:
        """deleteMessage."""
        chat = _chat(call.params.get("chat_id"))
        self._messages.pop((chat["id"], int(call.params.get("message_id") or 0)), None)
        return True

    async def _send_document(self, call: Call) -> dict[str, Any]:
        """sendDocument."""
        upload = call.params.get("document")
        document = self._file(upload, "DOC")
        if isinstance(upload, UploadedFile):
            document |= {"file_name": upload.filename, "mime_type": upload.content_type}
        return self._new_message(call, document=document, **self._caption(call))

    async def _send_photo(self, call: Call) -> dict[str, Any]:
        """sendPhoto."""
        photo = self._file(call.params.get("photo"), "PHOTO") | {"width": 90, "height": 90}
        return self._new_message(call, photo=[photo], **self._caption(call))

    def _caption(self, call: Call) -> dict[str, Any]:
        """Caption and inline keyboard echoed on media messages."""
        caption = call.params.get("caption")
        return ({"caption": caption} if caption else {}) | _inline_markup(call.params)

    async def _set_webhook(self, call: Call) -> bool:
        """setWebhook."""
        self.webhook_url = str(call.params.get("url") or "")
        return True

    async def _delete_webhook(self, call: Call) -> bool:
        """deleteWebhook."""
        self.webhook_url = ""
        if str(call.params.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        return True

    async def _get_webhook_info(self, call: Call) -> dict[str, Any]:
        """getWebhookInfo."""
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _get_updates(self, call: Call) -> list[dict[str, Any]]:
        """getUpdates with offset confirmation and long polling."""
        if self.webhook_url:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        params = call.params
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        await self._until(lambda: bool(self._updates) or self._closing, timeout)
        return self._updates[:limit]
