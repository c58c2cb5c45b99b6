"""`yibao chat`: the whole bot in a terminal; Bot API calls are answered locally, no network."""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import re
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)

from bot.app import create_bot, create_dispatcher, create_storage
from bot.settings import Settings
from bot.transports.screen import LineReader, client_language_code, screen

__all__ = ["TerminalChat", "TerminalSession", "client_language_code", "run_terminal"]

logger = logging.getLogger(__name__)

TOKEN = "0:TERMINAL"
USER_ID = 1
BOT_USER = User(id=0, is_bot=True, first_name="Yibao", username="yibao_terminal_bot")
_TAG = re.compile(r"<[^>]+>")
Button = InlineKeyboardButton | KeyboardButton


def _plain(text: str, parse_mode: str | None) -> str:
    """Text as a terminal shows it: HTML markup removed, entities decoded."""
    if parse_mode and parse_mode.upper() == "HTML":
        return html.unescape(_TAG.sub("", text))
    return text


def _rows(markup: Any) -> list[list[Button]]:
    """The button rows of a keyboard, or none for any other markup."""
    if isinstance(markup, InlineKeyboardMarkup):
        return [list(row) for row in markup.inline_keyboard]
    if isinstance(markup, ReplyKeyboardMarkup):
        return [list(row) for row in markup.keyboard]
    return []


def _file_name(value: InputFile | str | None) -> str:
    """The name a sent file goes by: its filename, else the file_id or URL given."""
    if isinstance(value, InputFile):
        return value.filename or "file"
    return value or "file"


class TerminalSession(BaseSession):
    """Answers Bot API methods by printing to a stream; remembers the last keyboard shown."""

    def __init__(self, output: IO[str], user_chat_id: int = USER_ID) -> None:
        """Print to `output`; messages to `user_chat_id` are the conversation shown."""
        super().__init__()
        self.output = output
        self.user_chat_id = user_chat_id
        self.buttons: list[Button] = []
        self.keyboard_message: Message | None = None
        self.messages: dict[tuple[int, int], Message] = {}
        self._message_ids = itertools.count(1)
        # Blocks already on screen, drawn before aiogram loaded (`yibao chat`): not twice.
        self.shown: list[str] = []

    async def close(self) -> None:
        """Nothing to release."""

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """There are no remote files in the terminal."""
        yield b""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        """Answer one Bot API method locally."""
        return await self._answer(bot, method)  # type: ignore[no-any-return]

    async def _answer(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        """Dispatch on the method type."""
        match method:
            case GetMe():
                return BOT_USER
            case SendMessage():
                text = _plain(method.text, self._resolve(bot, method.parse_mode))
                return self._show(bot, method.chat_id, None, text, method.reply_markup)
            case EditMessageText() if method.message_id is not None:
                text = _plain(method.text, self._resolve(bot, method.parse_mode))
                return self._show(bot, method.chat_id, method.message_id, text, method.reply_markup)
            case EditMessageCaption() if method.message_id is not None:
                caption = _plain(method.caption or "", self._resolve(bot, method.parse_mode))
                return self._show(
                    bot, method.chat_id, method.message_id, caption, method.reply_markup
                )
            case EditMessageReplyMarkup() if method.message_id is not None:
                old = self.messages.get((self._chat_id(method.chat_id), method.message_id))
                text = old.text or "" if old else ""
                return self._show(bot, method.chat_id, method.message_id, text, method.reply_markup)
            case SendDocument() | SendPhoto():
                file = method.document if isinstance(method, SendDocument) else method.photo
                caption = _plain(method.caption or "", self._resolve(bot, method.parse_mode))
                text = f"[{_file_name(file)}]" + (f"\n{caption}" if caption else "")
                return self._show(bot, method.chat_id, None, text, method.reply_markup)
            case AnswerCallbackQuery():
                if method.text:
                    self.write(f"* {method.text}")
                return True
            case DeleteMessage():
                gone = self.messages.pop((self._chat_id(method.chat_id), method.message_id), None)
                if gone is not None and gone is self.keyboard_message:
                    self.buttons, self.keyboard_message = [], None
                return True
        if method.__returning__ is bool:
            return True
        raise TelegramBadRequest(method, f"{type(method).__name__} is not available offline")

    @staticmethod
    def _resolve(bot: Bot, value: Any) -> Any:
        """A method argument with the bot's defaults applied."""
        return bot.default[value.name] if isinstance(value, Default) else value

    def _chat_id(self, chat_id: int | str | None) -> int:
        """A numeric chat id; anything else (an @username) counts as the user's chat."""
        text = str(chat_id)
        return int(text) if text.lstrip("-").isdigit() else self.user_chat_id

    def _show(
        self, bot: Bot, chat_id: int | str | None, message_id: int | None, text: str, markup: Any
    ) -> Message:
        """Print a sent or edited message with its numbered buttons and return it."""
        chat = self._chat_id(chat_id)
        rows = _rows(markup)
        ours = chat == self.user_chat_id
        if ours:
            self.write(screen(text, [[button.text for button in row] for row in rows]))
        else:
            self.write(f"[-> {chat}] {text}")
        message = Message.model_validate(
            {
                "message_id": message_id or next(self._message_ids),
                "date": datetime.now(UTC),
                "edit_date": int(datetime.now(UTC).timestamp()) if message_id else None,
                "chat": Chat(id=chat, type="private", first_name="You"),
                "from_user": BOT_USER,
                "text": text,
                "reply_markup": markup if isinstance(markup, InlineKeyboardMarkup) else None,
            },
            context={"bot": bot},
        )
        self.messages[chat, message.message_id] = message
        shown = self.keyboard_message
        if ours and rows:
            self.buttons = [button for row in rows for button in row]
            self.keyboard_message = message
        elif (shown and shown.chat.id == chat and shown.message_id == message.message_id) or (
            isinstance(markup, ReplyKeyboardRemove)
            and any(isinstance(button, KeyboardButton) for button in self.buttons)
        ):
            # An edit without a keyboard removes it, as in Telegram.
            self.buttons, self.keyboard_message = [], None
        return message

    def write(self, text: str) -> None:
        """Print one block, separated from the previous one by a blank line."""
        if self.shown and text == self.shown[0]:
            del self.shown[0]
            return
        self.shown = []  # the conversation went otherwise: from here on, everything is new
        self.output.write(f"\n{text}\n")
        self.output.flush()


def _lines(
    source: IO[str] | LineReader, loop: asyncio.AbstractEventLoop
) -> asyncio.Queue[str | None]:
    """The lines typed, in a queue of the loop; None marks the end of input."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> bool:
        """Hand a line to the loop; False once the loop is gone."""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:
            return False
        return True

    reader = source if isinstance(source, LineReader) else LineReader(source)
    reader.attach(put)
    return queue


class TerminalChat:
    """Turns typed lines into updates from one private user and feeds them to the dispatcher."""

    def __init__(
        self, dispatcher: Dispatcher, bot: Bot, session: TerminalSession, language_code: str | None
    ) -> None:
        """Talk to `dispatcher` as user USER_ID through `bot` on `session`."""
        self.dispatcher = dispatcher
        self.bot = bot
        self.session = session
        self.user = User(id=USER_ID, is_bot=False, first_name="You", language_code=language_code)
        self.chat = Chat(id=USER_ID, type="private", first_name="You")
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1_000_000)

    def _button(self, line: str) -> Button | None:
        """The button on screen that a typed number names, if any."""
        buttons = self.session.buttons
        return buttons[int(line) - 1] if line.isdigit() and 0 < int(line) <= len(buttons) else None

    def update_for(self, line: str) -> Update:
        """A button press for a number naming a button on screen, else a text message."""
        button = self._button(line)
        if isinstance(button, InlineKeyboardButton) and button.callback_data is not None:
            query = CallbackQuery(
                id=str(next(self._update_ids)),
                from_user=self.user,
                chat_instance=str(USER_ID),
                message=self.session.keyboard_message,
                data=button.callback_data,
            )
            return Update(update_id=next(self._update_ids), callback_query=query)
        if button is not None:
            line = button.text  # a reply-keyboard button sends its label
        entities = None
        if line.startswith("/"):
            length = len(line.split(maxsplit=1)[0])
            entities = [MessageEntity(type="bot_command", offset=0, length=length)]
        message = Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            text=line,
            entities=entities,
        )
        return Update(update_id=next(self._update_ids), message=message)

    async def feed(self, line: str) -> None:
        """Let the bot answer one line; a failing handler is logged, not fatal."""
        button = self._button(line)
        if isinstance(button, InlineKeyboardButton) and button.url:
            self.session.write(button.url)  # a link button opens its URL; here, show it
            return
        try:
            result = await self.dispatcher.feed_update(self.bot, self.update_for(line))
            if isinstance(result, TelegramMethod):
                await self.bot(result)
        except Exception:
            logger.exception("handling an update failed")


async def run_terminal(
    settings: Settings,
    input_stream: IO[str] | LineReader,
    output_stream: IO[str],
    lang_code: str | None = None,
    shown: str | Sequence[str] | None = None,
) -> int:
    """Chat with the bot over the streams until end of input; return the exit code.

    `shown`: the first blocks of the conversation when the caller drew them already, before
    aiogram loaded (see screen.load_while_shown); the bot still answers everything, but what
    it says identically is not printed again.
    """
    session = TerminalSession(output_stream)
    session.shown = [shown] if isinstance(shown, str) else list(shown or ())
    bot = create_bot(TOKEN, session=session)
    storage = create_storage(settings, memory=True)
    dispatcher = create_dispatcher(settings, storage)
    chat = TerminalChat(dispatcher, bot, session, client_language_code(lang_code))
    workflow = {"dispatcher": dispatcher, "bots": [bot], **dispatcher.workflow_data}
    lines = _lines(input_stream, asyncio.get_running_loop())
    await dispatcher.emit_startup(bot=bot, **workflow)
    try:
        await chat.feed("/start")
        while (line := await lines.get()) is not None:
            if line := line.strip():
                await chat.feed(line)
    finally:
        await dispatcher.emit_shutdown(bot=bot, **workflow)
        await storage.close()
    return 0
