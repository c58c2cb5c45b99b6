"""Whole surveys through Dispatcher.feed_update against a bare aiogram echo bot, in one run.

Run by hand: `python benchmarks/bench_pipeline.py [--surveys 300]`. Both bots answer through the
same in-process session (no network), so the ratio is the cost of our pipeline: middlewares,
FSM storage, the survey engine, the rules core and Jinja2 rendering. Prints figures, no asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import statistics
import time
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.base import BaseSession
from aiogram.methods import EditMessageReplyMarkup, SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bot.app import create_dispatcher, create_storage
from bot.settings import Settings
from bot.transports.session import settle_memory

_ids = itertools.count(1)
ROUNDS = 6
NOW = dt.datetime.now(dt.UTC)


class LocalSession(BaseSession):
    """Answers sendMessage and edits locally, keeping each chat's last keyboard."""

    def __init__(self) -> None:
        super().__init__()
        self.keyboards: dict[int, Any] = {}
        self.last_text: dict[int, str] = {}
        self.sent = 0

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage):
            self.sent += 1
            chat = int(method.chat_id)
            self.last_text[chat] = method.text
            message_id = next(_ids)
            if method.reply_markup is not None:
                self.keyboards[chat] = (message_id, method.reply_markup)
            return Message(
                message_id=message_id,
                date=NOW,
                chat=Chat(id=chat, type="private"),
                text=method.text,
            )
        if isinstance(method, EditMessageReplyMarkup):
            self.keyboards[int(method.chat_id)] = (method.message_id, method.reply_markup)
        return True

    async def stream_content(self, *args: Any, **kwargs: Any):  # pragma: no cover - unused
        yield b""

    async def close(self) -> None:
        return None


def message(user: int, text: str) -> Update:
    who = User(id=user, is_bot=False, first_name="C", language_code="en")
    return Update(
        update_id=next(_ids),
        message=Message(
            message_id=next(_ids),
            date=NOW,
            chat=Chat(id=user, type="private"),
            from_user=who,
            text=text,
        ),
    )


def press(user: int, data: str, message_id: int = 1) -> Update:
    who = User(id=user, is_bot=False, first_name="C", language_code="en")
    return Update(
        update_id=next(_ids),
        callback_query=CallbackQuery(
            id=str(next(_ids)),
            from_user=who,
            chat_instance="c",
            data=data,
            message=Message(
                message_id=message_id, date=NOW, chat=Chat(id=user, type="private"), text="q"
            ),
        ),
    )


# A whole survey: /start, language, region, year, insurance, group, paid years (Done),
# payment, repair, show result, why. Buttons by their position on the last keyboard.
SCRIPT: list[tuple[str, Any]] = [
    ("say", "/start"),
    ("press", 0),
    ("press", 0),
    ("say", "2027"),
    ("press", 2),
    ("press", 0),
    ("press", 2),
    ("press", 0),
    ("press", 0),
    ("press", -2),
    ("press", 0),
]


async def run_surveys(
    dispatcher: Dispatcher, bot: Bot, session: LocalSession, surveys: int, first_user: int
) -> int:
    """Feed `surveys` whole surveys; return the number of updates fed."""
    fed = 0
    for user in range(first_user, first_user + surveys):
        for kind, value in SCRIPT:
            if kind == "say":
                update = message(user, value)
            else:
                message_id, markup = session.keyboards[user]
                buttons = [b for row in markup.inline_keyboard for b in row]
                update = press(user, buttons[value].callback_data, message_id)
            await dispatcher.feed_update(bot, update)
            fed += 1
    return fed


def echo_dispatcher() -> Dispatcher:
    """The bare aiogram baseline: answer every message and button, nothing else."""
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text)

    @router.callback_query()
    async def ack(query: CallbackQuery) -> None:
        await query.answer()
        await query.message.answer(query.data)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def run_echo(dispatcher: Dispatcher, bot: Bot, updates: list[Update]) -> None:
    for update in updates:
        await dispatcher.feed_update(bot, update)


async def main(surveys: int) -> None:
    # No flood limit: the script answers faster than a person can (the webhook bench does too).
    settings = Settings(_env_file=None, throttle_rate=100_000, throttle_burst=100_000)
    session = LocalSession()
    bot = Bot("1:BENCH", session=session)
    ours = create_dispatcher(settings, create_storage(settings, memory=True))
    await run_surveys(ours, bot, session, 5, 10_000_000)  # warm caches and templates
    settle_memory()  # as `yibao run` and `yibao webhook` do once started; helps both bots

    echo = echo_dispatcher()
    warm = [message(u, "hello") if u % 3 == 0 else press(u, "n:why") for u in range(1, 51)]
    await run_echo(echo, bot, warm)

    # Rounds alternate between the two bots, so a machine that speeds up or slows down during
    # the run (shared CPUs do) shifts both alike; the ratio is the median of the rounds'.
    per_round = max(1, surveys // ROUNDS)
    ours_rates, echo_rates, ratios = [], [], []
    for n in range(ROUNDS):
        first = 1 + n * per_round
        start = time.perf_counter()
        fed = await run_surveys(ours, bot, session, per_round, first)
        ours_rate = fed / (time.perf_counter() - start)
        users = range(first, first + per_round)
        finished = sum("Why:" in session.last_text.get(u, "") for u in users)
        if finished != per_round:
            raise SystemExit(f"only {finished} of {per_round} surveys reached the reasons")
        updates = [
            message(u, "hello") if i % 3 == 0 else press(u, "n:why")
            for i, u in enumerate(itertools.islice(itertools.cycle(users), fed))
        ]
        start = time.perf_counter()
        await run_echo(echo, bot, updates)
        echo_rate = fed / (time.perf_counter() - start)
        ours_rates.append(ours_rate)
        echo_rates.append(echo_rate)
        ratios.append(ours_rate / echo_rate)

    print(f"updates fed: {fed * ROUNDS} ({per_round * ROUNDS} whole surveys of {len(SCRIPT)})")
    print(f"yibao pipeline: median {statistics.median(ours_rates):,.0f} updates/s")
    print(f"bare aiogram echo: median {statistics.median(echo_rates):,.0f} updates/s")
    print(
        f"ratio yibao / bare, per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f} (target >= 0.50)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--surveys", type=int, default=300)
    asyncio.run(main(parser.parse_args().surveys))
