"""End-to-end checks of FakeBotAPI through a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Message
from fakes.bot_api import FakeBotAPI, UploadedFile

CHAT = 1001


class NoSuchMethod(TelegramMethod[bool]):
    """A Bot API method that does not exist."""

    __returning__: ClassVar[type] = bool
    __api_method__: ClassVar[str] = "noSuchMethod"


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """A real aiogram Bot pointed at the fake server."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = Bot(token="42:TEST", session=session)
    try:
        yield bot
    finally:
        await bot.session.close()


def _keyboard() -> InlineKeyboardMarkup:
    """A one-row inline keyboard."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Yes", callback_data="answer:yes"),
                InlineKeyboardButton(text="No", callback_data="answer:no"),
            ]
        ]
    )


async def test_get_me_returns_bot_user(bot: Bot, fake: FakeBotAPI) -> None:
    """getMe returns the fake bot's username and an id taken from the token."""
    me = await bot.get_me()
    assert (me.username, me.id, me.is_bot) == ("yibao_test_bot", 42, True)
    assert [(c.method, c.token, c.outcome) for c in fake.calls] == [("getMe", "42:TEST", "ok")]


async def test_send_message_records_decoded_keyboard(bot: Bot, fake: FakeBotAPI) -> None:
    """sendMessage is recorded with decoded reply_markup and message ids increase."""
    first = await bot.send_message(CHAT, "Pick one", reply_markup=_keyboard())
    second = await bot.send_message(CHAT, "Again")
    assert second.message_id == first.message_id + 1
    assert first.chat.id == CHAT and first.text == "Pick one"
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[0][1].callback_data == "answer:no"

    sent = fake.sent_messages(CHAT)
    assert [m["text"] for m in sent] == ["Pick one", "Again"]
    buttons = [
        (b["text"], b["callback_data"]) for b in sent[0]["reply_markup"]["inline_keyboard"][0]
    ]
    assert buttons == [("Yes", "answer:yes"), ("No", "answer:no")]
    assert fake.sent_messages(chat_id=999) == []


async def test_edit_message_text_and_not_modified(bot: Bot, fake: FakeBotAPI) -> None:
    """Edits update the stored message; an identical edit is a Telegram 'not modified' error."""
    sent = await bot.send_message(CHAT, "v1", reply_markup=_keyboard())
    edited = await bot.edit_message_text("v2", chat_id=CHAT, message_id=sent.message_id)
    assert edited.text == "v2" and edited.reply_markup is None and edited.edit_date
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_text("v2", chat_id=CHAT, message_id=sent.message_id)
    assert [m["text"] for m in fake.sent_messages()] == ["v1", "v2"]


async def test_callback_answer_delete_and_misc_methods(bot: Bot, fake: FakeBotAPI) -> None:
    """Simple True-returning methods and webhook state work."""
    msg = await bot.send_message(CHAT, "x", reply_markup=_keyboard())
    assert await bot.edit_message_reply_markup(chat_id=CHAT, message_id=msg.message_id)
    assert await bot.answer_callback_query("q1", text="done")
    assert await bot.delete_message(CHAT, msg.message_id)
    assert await bot.set_my_commands([])
    assert await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert fake.calls[2].params["text"] == "done"


async def test_send_document_and_photo_uploads(bot: Bot, fake: FakeBotAPI) -> None:
    """Multipart uploads are recorded as UploadedFile and echoed as document/photo."""
    doc = await bot.send_document(
        CHAT, BufferedInputFile(b"hello", filename="rules.txt"), caption="Rules"
    )
    assert doc.document is not None and doc.document.file_name == "rules.txt"
    assert doc.document.file_size == 5 and doc.caption == "Rules"
    photo = await bot.send_photo(CHAT, BufferedInputFile(b"\x89PNG", filename="p.png"))
    assert photo.photo and photo.message_id == doc.message_id + 1
    upload = fake.calls[0].params["document"]
    assert isinstance(upload, UploadedFile) and upload.data == b"hello"


async def test_retry_after_surfaces_as_telegram_retry_after(bot: Bot, fake: FakeBotAPI) -> None:
    """An injected 429 raises TelegramRetryAfter once, then the method works again."""
    fake.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(CHAT, "hi")
    assert info.value.retry_after == 7
    await bot.send_message(CHAT, "hi")
    assert [c.outcome for c in fake.calls] == ["error", "ok"]
    assert [m["text"] for m in fake.sent_messages()] == ["hi"]


async def test_blocked_user_and_server_errors(bot: Bot, fake: FakeBotAPI) -> None:
    """403 raises TelegramForbiddenError; ``times`` repeats a 500."""
    fake.fail_next("sendMessage", status=403)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(CHAT, "hi")
    fake.fail_next("getMe", status=500, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.get_me()
    assert (await bot.get_me()).username == "yibao_test_bot"


@pytest.mark.slow
async def test_delay_and_drop_cause_network_errors(bot: Bot, fake: FakeBotAPI) -> None:
    """A delayed response times the client out; a dropped one closes the connection."""
    fake.delay_next("getMe", 2.0)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.get_me(request_timeout=1)
    fake.drop_next("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(CHAT, "lost")
    assert (await bot.get_me()).username == "yibao_test_bot"
    assert [c.outcome for c in fake.calls] == ["delayed", "dropped", "ok"]


async def test_get_updates_long_polling_and_offset(bot: Bot, fake: FakeBotAPI) -> None:
    """A long poll returns as soon as an update is pushed; the next offset confirms it."""
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls))
    update_id = fake.push_message("/start", chat_id=CHAT)
    updates = await poll
    assert time.monotonic() - started < 5
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None and updates[0].message.text == "/start"

    assert await bot.get_updates(offset=update_id + 1, timeout=0) == []
    assert fake.pending_updates == []


@pytest.mark.slow
async def test_get_updates_times_out_empty(bot: Bot, fake: FakeBotAPI) -> None:
    """A long poll with nothing queued returns an empty list after ``timeout``."""
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


async def test_unknown_method_is_not_found(bot: Bot, fake: FakeBotAPI) -> None:
    """Unknown methods answer 404 and are recorded as errors."""
    with pytest.raises(TelegramNotFound, match="method not found"):
        await bot(NoSuchMethod())
    assert fake.calls[-1].method == "noSuchMethod" and fake.calls[-1].outcome == "error"


async def test_wait_for_count_and_timeout(bot: Bot, fake: FakeBotAPI) -> None:
    """wait_for accepts a call count and raises TimeoutError when unmet; clear() resets."""
    task = asyncio.create_task(bot.get_me())
    calls = await fake.wait_for(1, timeout=2)
    assert calls[0].method == "getMe"
    await task
    with pytest.raises(TimeoutError):
        await fake.wait_for(2, timeout=0.1)
    fake.clear()
    assert fake.calls == []


async def test_dispatcher_polling_round_trip(bot: Bot, fake: FakeBotAPI) -> None:
    """A real Dispatcher polls the fake, handles a pushed message and replies."""
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        """Reply with the incoming text."""
        await message.answer(f"echo: {message.text}")

    polling = asyncio.create_task(dp.start_polling(bot, polling_timeout=5, handle_signals=False))
    try:
        fake.push_message("hello", chat_id=CHAT)
        await fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls))
        assert [m["text"] for m in fake.sent_messages(CHAT)] == ["echo: hello"]
    finally:
        await dp.stop_polling()
        await polling
