"""An in-process Bot API session that records what the bot sends, for fast handler tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bot.app import create_dispatcher, create_storage
from bot.settings import Settings


class RecordingSession(BaseSession):
    """Answers every Bot API call locally and keeps the messages sent."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.messages: dict[int, Message] = {}
        self._next_id = 0

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        self.calls.append(method)
        if isinstance(method, SendMessage):
            self._next_id += 1
            message = Message(
                message_id=self._next_id,
                date=dt.datetime.now(dt.UTC),
                chat=Chat(id=int(method.chat_id), type="private"),
                text=method.text,
                reply_markup=method.reply_markup,
            )
            self.messages[message.message_id] = message
            return message
        if isinstance(method, EditMessageReplyMarkup | EditMessageText):
            old = self.messages[method.message_id]
            update = {"reply_markup": method.reply_markup}
            if isinstance(method, EditMessageText):
                update["text"] = method.text
            self.messages[old.message_id] = old.model_copy(update=update)
            return self.messages[old.message_id]
        return True

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield b""

    async def close(self) -> None:
        return None


class Person:
    """A user talking to a Dispatcher through updates, reading what the bot answered."""

    _update_id = 0

    def __init__(
        self,
        dispatcher: Any,
        bot: Bot,
        session: RecordingSession,
        user_id: int = 77,
        language: str = "en",
    ) -> None:
        self.dispatcher, self.bot, self.session = dispatcher, bot, session
        self.user = User(id=user_id, is_bot=False, first_name="Citizen", language_code=language)
        self.chat = Chat(id=user_id, type="private")

    def _next(self) -> int:
        Person._update_id += 1
        return Person._update_id

    async def say(self, text: str) -> Message:
        message = Message(
            message_id=10_000 + self._next(),
            date=dt.datetime.now(dt.UTC),
            chat=self.chat,
            from_user=self.user,
            text=text,
        )
        await self.dispatcher.feed_update(self.bot, Update(update_id=self._next(), message=message))
        return self.last

    async def send(self, **content: Any) -> Message:
        message = Message(
            message_id=10_000 + self._next(),
            date=dt.datetime.now(dt.UTC),
            chat=self.chat,
            from_user=self.user,
            **content,
        )
        await self.dispatcher.feed_update(self.bot, Update(update_id=self._next(), message=message))
        return self.last

    async def press_data(self, data: str, message: Message | None = None) -> Message:
        message = message or self.last
        query = CallbackQuery(
            id=str(self._next()), from_user=self.user, chat_instance="c", data=data, message=message
        )
        await self.dispatcher.feed_update(
            self.bot, Update(update_id=self._next(), callback_query=query)
        )
        return self.last

    async def press(self, label: str) -> Message:
        """Press the button of the latest keyboard whose text is or contains `label`."""
        for message in reversed(list(self.session.messages.values())):
            if message.reply_markup:
                buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
                for button in buttons:
                    if button.text == label:
                        return await self.press_data(button.callback_data, message)
                for button in buttons:
                    if label in button.text:
                        return await self.press_data(button.callback_data, message)
                raise AssertionError(f"no button {label!r} in {[b.text for b in buttons]}")
        raise AssertionError("no message with buttons")

    async def start(self, language: str = "English") -> Message:
        """Send /start and, at first contact, choose the language."""
        await self.say("/start")
        if any(language in label for label in self.buttons()):
            await self.press(language)
        return self.last

    @property
    def last(self) -> Message:
        return self.session.messages[max(self.session.messages)]

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.session.messages.values()]

    def buttons(self) -> list[str]:
        return [
            b.text
            for row in (self.last.reply_markup.inline_keyboard if self.last.reply_markup else [])
            for b in row
        ]

    async def answer_to_result(self, year: str, insurance: str = "None") -> str:
        """From the benefit-year question: `year`, `insurance`, no special situation, no year
        paid, within the period, nothing more; the result's text."""
        await self.say(year)
        await self.press(insurance)
        await self.press("None of these")
        await self.press("Done")
        if "paid late" in self.last.text:
            await self.press("No, on time")
        await self.press("Within the payment period")
        while "Your answers" not in self.last.text:
            await self.press("Done" if "pay nothing" in self.last.text else "None")
        return (await self.press("Show my result")).text


def make_person(
    settings: Settings | None = None,
    *,
    memory: bool = True,
    user_id: int = 77,
    language: str = "en",
) -> Person:
    """A person talking to a fresh app as create_dispatcher builds it, on a recording session."""
    settings = settings or Settings(_env_file=None)
    session = RecordingSession()
    dispatcher = create_dispatcher(settings, create_storage(settings, memory=memory))
    return Person(dispatcher, Bot("1:TEST", session=session), session, user_id, language)
