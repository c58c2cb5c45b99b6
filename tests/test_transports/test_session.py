"""The network session: reused keyboard JSON must never show a person the wrong buttons."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardRemove,
)
from fakes.bot_api import FakeBotAPI

from bot.transports.session import MARKUPS_KEPT, ApiSession


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=f"p:{t}")] for t in labels]
    )


def buttons(params: dict) -> list[str]:
    return [b["text"] for row in params["reply_markup"]["inline_keyboard"] for b in row]


async def test_shared_and_new_keyboards_arrive_as_built(fake: FakeBotAPI, bot: Bot) -> None:
    assert isinstance(bot.session, ApiSession)
    shared = keyboard("2026", "2027")
    await bot.send_message(1, "one", reply_markup=shared)
    await bot.send_message(2, "two", reply_markup=shared)
    await bot.send_message(1, "three", reply_markup=keyboard("Back"))
    await bot.send_message(1, "བོད་ལྗོངས། 西藏 «four»")
    await bot.send_message(1, "five", reply_markup=ReplyKeyboardRemove())
    sent = [c.params for c in fake.calls]
    assert [p["text"] for p in sent] == ["one", "two", "three", "བོད་ལྗོངས། 西藏 «four»", "five"]
    assert buttons(sent[0]) == buttons(sent[1]) == ["2026", "2027"]
    assert str(sent[1]["chat_id"]) == "2"
    assert buttons(sent[2]) == ["Back"]
    assert "reply_markup" not in sent[3]
    assert sent[4]["reply_markup"] == {"remove_keyboard": True}


async def test_many_keyboards_each_arrive_as_built(fake: FakeBotAPI, bot: Bot) -> None:
    # More keyboards than the session keeps: old entries go, and ids may be reused by new
    # objects, yet every message carries its own buttons.
    for n in range(MARKUPS_KEPT + 50):
        await bot.send_message(1, str(n), reply_markup=keyboard(f"b{n}"))
    assert all(buttons(c.params) == [f"b{c.params['text']}"] for c in fake.calls)


async def test_file_with_keyboard_still_uploads(fake: FakeBotAPI, bot: Bot) -> None:
    shared = keyboard("Again")
    await bot.send_message(1, "first", reply_markup=shared)
    await bot.send_document(
        1, BufferedInputFile(b"a,b\n1,2\n", "result.csv"), caption="done", reply_markup=shared
    )
    upload = fake.calls[-1].params
    assert upload["document"].data == b"a,b\n1,2\n"
    assert upload["document"].filename == "result.csv"
    assert upload["caption"] == "done"
    assert buttons(upload) == ["Again"]
