"""Whole surveys through Dispatcher.feed_update against a bare aiogram echo bot, in one run.

Run by hand: `python benchmarks/bench_pipeline.py [--surveys 300]`. Both bots answer through the
same in-process session (no network), so the ratio is the cost of our pipeline: middlewares,
FSM storage, the survey engine, the rules core and Jinja2 rendering. Prints figures, no asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time

from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import CallbackQuery, Message
from surveys import LocalSession, message, press, run_surveys  # this folder, on sys.path

from bot.app import create_dispatcher, create_storage
from bot.settings import Settings
from bot.transports.session import settle_memory

ROUNDS = 6


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


async def run_echo(dispatcher: Dispatcher, bot: Bot, users: range, count: int) -> None:
    """`count` updates to the echo bot, built in the loop as run_surveys builds its own (the
    same constructors, so both sides pay for making their updates)."""
    for i, user in enumerate(itertools.islice(itertools.cycle(users), count)):
        update = message(user, "hello") if i % 3 == 0 else press(user, "n:why")
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
    await run_echo(echo, bot, range(1, 51), 50)

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
        start = time.perf_counter()
        await run_echo(echo, bot, users, fed)
        echo_rate = fed / (time.perf_counter() - start)
        ours_rates.append(ours_rate)
        echo_rates.append(echo_rate)
        ratios.append(ours_rate / echo_rate)

    print(f"updates fed: {fed * ROUNDS} (about; {per_round * ROUNDS} whole surveys, five regions)")
    print(f"yibao pipeline: median {statistics.median(ours_rates):,.0f} updates/s")
    print(f"bare aiogram echo: median {statistics.median(echo_rates):,.0f} updates/s")
    print(
        f"ratio yibao / bare, per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f} (target >= 0.70)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--surveys", type=int, default=300)
    asyncio.run(main(parser.parse_args().surveys))
