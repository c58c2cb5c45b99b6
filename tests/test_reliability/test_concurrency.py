"""One user's updates arriving at once, two workers on one conversation, and flood control."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen, survey_to_result
from fakes.deployment import SECRET, serve, stored
from fakes.workers import NO_THROTTLE, harness

from bot.render import render_macro
from bot.settings import Settings
from bot.throttle import ThrottlingMiddleware

PRESSES = ["2025"] * 11 + ["2026"] * 9  # both odd: a single lost press flips the result
_ids = itertools.count(10_000_000)


def callback(person: HttpCitizen, message_id: int, data: str) -> dict[str, Any]:
    """A callback query pressing `data` on one of the bot's messages."""
    return {
        "callback_query": {
            "id": str(next(_ids)),
            "from": person.user,
            "chat_instance": "ci",
            "data": data,
            "message": {"message_id": message_id, "date": 0, "chat": person.chat, "text": "..."},
        }
    }


def ticked(markup: dict[str, Any]) -> frozenset[str]:
    """The years a paid-years keyboard shows ticked."""
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    return frozenset(m.group(1) for label in labels if (m := re.fullmatch(r"☑ (\d{4})", label)))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_twenty_simultaneous_presses_are_serialised_and_none_is_lost(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = dict(NO_THROTTLE)
    if backend == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        async with redis.asyncio.Redis.from_url(env["REDIS_URL"]) as flush:
            await flush.flushdb()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", redis_url=env.get("REDIS_URL"))
    async with harness(tmp_path) as (fake, client, w):
        # SQLite: one process (its isolation is in memory). Redis: two processes, alternately.
        workers = await asyncio.gather(*(w.start(**env) for _ in range(1 + (backend == "redis"))))
        person = HttpCitizen(fake, client, [x.url for x in workers], SECRET, user_id=7201)
        await person.start()
        await person.press("Xizang")
        await person.say("2027")
        await person.press("None")
        question = await person.press("None of these")
        assert "Which years did you pay for" in question
        asked = [c for c in fake.calls if c.method == "sendMessage"][-1].result["message_id"]
        sent = len(fake.calls)

        statuses = await asyncio.gather(
            *(person.post(callback(person, asked, f"p:paid_years:{y}")) for y in PRESSES)
        )
        edits = [c for c in fake.calls[sent:] if c.method == "editMessageReplyMarkup"]
        _, pending = await stored(settings, 7201)
        await person.press("Done")
        _, done = await stored(settings, 7201)
        result = await survey_rest(person)
        handled = [x.logs.count(" is handled") for x in workers]

    expected = sorted(y for y in set(PRESSES) if PRESSES.count(y) % 2)
    assert statuses == [200] * len(PRESSES)
    assert [c.outcome for c in edits] == ["ok"] * len(PRESSES)
    # Serialised: every edit shows exactly one toggle more than the one before it.
    shown = [frozenset(), *(ticked(c.params["reply_markup"]) for c in edits)]
    assert all(len(a ^ b) == 1 for a, b in itertools.pairwise(shown))
    assert sorted(shown[-1]) == expected == pending["pending"]
    assert done["answers"]["paid_years"] == expected
    assert "Critical-illness insurance cap" in result
    assert all(handled), f"a worker handled nothing: {handled}"


async def survey_rest(person: HttpCitizen) -> str:
    """From the payment question (or last year's, if asked) to the result."""
    if "paid late" in person.last_text:
        await person.press("No, on time")
    await person.press("Within the payment period")
    return await person.answer_none_to_the_end()


@pytest.mark.slow
async def test_two_workers_on_one_redis_serve_a_conversation_alternately(
    tmp_path: Path, redis_url: str, redis_client: redis.asyncio.Redis
) -> None:
    async with harness(tmp_path) as (fake, client, w):
        first, second = await asyncio.gather(
            w.start(REDIS_URL=redis_url), w.start(REDIS_URL=redis_url)
        )
        person = HttpCitizen(fake, client, [first.url, second.url], SECRET, user_id=7202)
        result = await survey_to_result(person)
        handled = [first.logs.count(" is handled"), second.logs.count(" is handled")]

    assert "4 months. Your insurance pays from May 1, 2027" in result
    assert abs(handled[0] - handled[1]) <= 1 and min(handled) >= 5, handled


# -- flood control -------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


def test_the_bucket_warns_once_then_drops_until_it_refills() -> None:
    clock = Clock()
    throttle = ThrottlingMiddleware(rate=1, burst=3, clock=clock)

    flood = [throttle.admit(1) for _ in range(6)]
    other = throttle.admit(2)
    clock.now += 1  # one token back: one update passes, and no second warning
    trickle = [throttle.admit(1) for _ in range(3)]
    clock.now += 10  # full again: a new flood earns a new warning
    again = [throttle.admit(1) for _ in range(5)]

    assert flood == ["pass", "pass", "pass", "warn", "drop", "drop"]
    assert other == "pass"
    assert trickle == ["pass", "drop", "drop"]
    assert again == ["pass", "pass", "pass", "warn", "drop"]


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    throttle = ThrottlingMiddleware(rate=1, burst=2, clock=clock, prune_at=50)
    for user_id in range(1000):
        throttle.admit(user_id)
        clock.now += 0.1  # each user's single update is refilled 2 s later

    assert len(throttle._buckets) <= 50


async def test_a_flooding_user_gets_one_polite_message_and_others_are_served(
    tmp_path: Path,
) -> None:
    burst = 5
    async with (
        FakeBotAPI() as fake,
        aiohttp.ClientSession() as client,
        # A token every 1000 s: none comes back during the test, whatever the runner's speed.
        serve(fake, data_dir=tmp_path, throttle_rate=0.001, throttle_burst=burst) as (url, dp),
    ):
        if not any(isinstance(m, ThrottlingMiddleware) for m in dp.update.outer_middleware):
            dp.update.outer_middleware(ThrottlingMiddleware(0.001, burst))  # until app.py has it
        flooder = HttpCitizen(fake, client, [url], SECRET, user_id=7301, language="zh-hans")
        other = HttpCitizen(fake, client, [url], SECRET, user_id=7302)
        started = time.monotonic()
        for n in range(3 * burst):
            await flooder.say("/help")
            if n % 3 == 2:  # the other user writes at their own pace, in between
                await other.say("/help")
        elapsed = time.monotonic() - started
        flooded, served = flooder.texts, other.texts

    polite = render_macro("reliability.j2", "text", "zh_Hans", "slow_down")
    assert elapsed < burst / 0.001  # the premise: no token came back
    assert flooded.count(polite) == 1
    assert len(flooded) == burst + 1 and flooded[-1] == polite
    assert len(served) == burst and polite not in served
