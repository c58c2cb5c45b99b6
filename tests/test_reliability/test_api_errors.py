"""Bot API errors met in real traffic, each on SQLite and on Redis, over real HTTP.

Each is an outcome, not a crash: the webhook answers 200 before Telegram's 60 s, the person's
press or answer takes effect once, and a redelivered update changes nothing and sends nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from fakes.bot_api import Call, FakeBotAPI
from fakes.citizen import HttpCitizen
from fakes.deployment import SECRET, webhook

TELEGRAM_WAITS = 60.0  # seconds Telegram waits for a webhook's answer before redelivering
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_FOUND = "Bad Request: message to edit not found"
YEARS_QUESTION = "Which years did you pay for?"


@asynccontextmanager
async def on_both_stores(
    fake: FakeBotAPI, client: aiohttp.ClientSession, tmp_path: Path, redis_url: str, user: int
) -> AsyncIterator[list[HttpCitizen]]:
    """A webhook on SQLite and one on Redis at once; a person (ids `user`, `user + 1`) on each."""
    async with AsyncExitStack() as stack:
        on_sqlite = await stack.enter_async_context(webhook(fake, data_dir=tmp_path))
        on_redis = await stack.enter_async_context(webhook(fake, redis_url=redis_url))
        yield [
            HttpCitizen(fake, client, [on_sqlite], SECRET, user_id=user),
            HttpCitizen(fake, client, [on_redis], SECRET, user_id=user + 1),
        ]


async def at_years_question(person: HttpCitizen) -> None:
    await person.start()
    await person.press("Xizang")
    await person.say("2027")
    await person.press("None")
    assert YEARS_QUESTION in await person.press("None of these")


def buttons(person: HttpCitizen) -> list[str]:
    _, markup = person._last_with_buttons()
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


async def to_summary(person: HttpCitizen) -> str:
    """Answer the simplest way (none, in the period) until the summary of the answers."""
    for _ in range(12):
        if "Your answers" in person.last_text:
            return person.last_text
        labels = buttons(person)
        if any(label.startswith("Within the payment period") for label in labels):
            await person.press("Within the payment period")
        elif "No, on time" in labels:
            await person.press("No, on time")
        else:
            await person.press("None" if "None" in labels else "Done")
    raise AssertionError(f"no summary; last: {person.last_text!r}")


def sends(fake: FakeBotAPI, since: int = 0) -> list[Call]:
    return [c for c in fake.calls[since:] if c.method == "sendMessage"]


async def test_a_press_answered_too_late_for_telegram_is_still_handled(
    fake: FakeBotAPI, client: aiohttp.ClientSession, store: dict[str, Any]
) -> None:
    # After downtime every press is handled a few seconds late: answerCallbackQuery is refused.
    async with webhook(fake, **store) as url:
        person = HttpCitizen(fake, client, [url], SECRET, user_id=3101)
        await person.start()
        fake.fail_next("answerCallbackQuery", status=400, description=TOO_OLD)
        update = person.press_update("Tianjin")
        assert await person.post(update) == 200
        assert "For which year" in person.last_text
        calls = len(fake.calls)
        assert await person.post(update) == 200  # Telegram's redelivery, had it got a 500
        assert len(fake.calls) == calls
        assert "Which basic medical insurance" in await person.say("2027")


async def test_an_edit_that_cannot_be_made_sends_the_marks_in_a_new_message_once(
    fake: FakeBotAPI, client: aiohttp.ClientSession, store: dict[str, Any]
) -> None:
    async with webhook(fake, **store) as url:
        person = HttpCitizen(fake, client, [url], SECRET, user_id=3102)
        await at_years_question(person)
        before = len(sends(fake))
        fake.fail_next("editMessageReplyMarkup", status=400, description=NOT_FOUND)
        update = person.press_update("☐ 2025")
        assert await person.post(update) == 200
        assert len(sends(fake)) == before + 1
        assert YEARS_QUESTION in person.last_text
        assert "☑ 2025" in buttons(person)
        calls = len(fake.calls)
        assert await person.post(update) == 200  # redelivered: 2025 is not unmarked again
        assert len(fake.calls) == calls
        await person.press("Done")
        summary = await to_summary(person)
    assert "Years paid: 2025" in summary


async def press_in_flood(
    fake: FakeBotAPI, person: HttpCitizen, update: dict[str, Any]
) -> tuple[float, float]:
    """Post a press whose question meets a 35 s flood wait; (answered after, sent after) s."""
    began = time.monotonic()
    assert await person.post(update) == 200
    answered = time.monotonic() - began
    await fake.wait_for(lambda _: bool(questions(fake, person)), timeout=TELEGRAM_WAITS)
    assert await person.post(update) == 200  # a redelivery meanwhile changes nothing
    refused = next(
        c
        for c in fake.calls
        if c.method == "sendMessage"
        and c.outcome == "error"
        and str(c.params["chat_id"]) == str(person.chat["id"])
    )
    return answered, questions(fake, person)[0].received - refused.received


def questions(fake: FakeBotAPI, person: HttpCitizen) -> list[Call]:
    """The benefit-year questions Telegram delivered to `person`."""
    return [
        c
        for c in sends(fake)
        if c.outcome == "ok"
        and str(c.params["chat_id"]) == str(person.chat["id"])
        and "For which year" in c.params["text"]
    ]


@pytest.mark.slow
async def test_a_long_flood_wait_is_honoured_in_the_background_and_the_reply_goes_once(
    fake: FakeBotAPI,
    client: aiohttp.ClientSession,
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.asyncio.Redis,
) -> None:
    # Both backends at once: the wait is Telegram's 35 s, not shortened for the test.
    async with on_both_stores(fake, client, tmp_path, redis_url, 3103) as people:
        for person in people:
            await person.start()
        presses = [person.press_update("Tianjin") for person in people]
        fake.fail_next("sendMessage", status=429, retry_after=35, times=2)
        results = await asyncio.gather(
            *(press_in_flood(fake, p, u) for p, u in zip(people, presses, strict=True))
        )
        for person in people:
            assert "For which year" in person.last_text
            assert len(questions(fake, person)) == 1
    for answered, sent_after in results:
        assert answered < TELEGRAM_WAITS
        assert sent_after >= 35


async def press_while_hanging(person: HttpCitizen, update: dict[str, Any]) -> float:
    """Post a press while the Bot API hangs; how long the webhook took to answer."""
    began = time.monotonic()
    assert await person.post(update) == 200
    answered = time.monotonic() - began
    assert await person.post(update) == 200  # a redelivery changes nothing
    return answered


@pytest.mark.slow
async def test_a_hanging_bot_api_call_ends_well_within_telegrams_limit_and_sends_once(
    fake: FakeBotAPI,
    client: aiohttp.ClientSession,
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.asyncio.Redis,
) -> None:
    async with on_both_stores(fake, client, tmp_path, redis_url, 3105) as people:
        for person in people:
            await person.start()
        presses = [person.press_update("Tianjin") for person in people]
        fake.delay_next("sendMessage", 61, times=2)  # each backend's next question hangs
        answered = await asyncio.gather(
            *(press_while_hanging(p, u) for p, u in zip(people, presses, strict=True))
        )
        for person in people:
            # The choice was saved: the year typed next goes on from there (once the hung
            # update has given up on its call).
            assert "Which basic medical insurance" in await person.say("2027")
            asked = [
                c
                for c in sends(fake)
                if str(c.params["chat_id"]) == str(person.chat["id"])
                and "For which year" in c.params["text"]
            ]
            assert len(asked) == 1  # no second copy after the timeout
    assert all(seconds < TELEGRAM_WAITS for seconds in answered)


async def test_each_kind_of_update_redelivered_is_applied_once(
    fake: FakeBotAPI, client: aiohttp.ClientSession, store: dict[str, Any]
) -> None:
    async with webhook(fake, **store) as url:
        person = HttpCitizen(fake, client, [url], SECRET, user_id=3107)
        await person.start()
        kinds: list[dict[str, Any]] = [
            person.press_update("Xizang"),  # callback_query
        ]
        for update in kinds:
            assert await person.post(update) == 200
        typed = person.message_update("2027")  # message
        assert await person.post(typed) == 200
        await person.press("None")
        await person.press("None of these")
        toggle = person.press_update("☐ 2026")  # a toggle: applied twice it would undo itself
        assert await person.post(toggle) == 200
        left = {
            "update_id": 3_107_001,
            "my_chat_member": {
                "chat": person.chat,
                "from": person.user,
                "date": int(time.time()),
                "old_chat_member": {
                    "status": "member",
                    "user": {"id": 42, "is_bot": True, "first_name": "Yibao"},
                },
                "new_chat_member": {
                    "status": "member",
                    "user": {"id": 42, "is_bot": True, "first_name": "Yibao"},
                },
            },
        }
        edited = {
            "update_id": 3_107_002,
            "edited_message": {**typed["message"], "text": "2028", "edit_date": int(time.time())},
        }
        for update in (left, edited):
            assert await person.post(update) == 200
        calls = len(fake.calls)
        for update in (*kinds, typed, toggle, left, edited):
            assert await person.post(update) == 200
        assert len(fake.calls) == calls  # nothing sent, answered or edited again
        assert "☑ 2026" in buttons(person)
        await person.press("Done")
        summary = await to_summary(person)
    assert "Years paid: 2026" in summary
    assert "2027" in summary and "2028" not in summary


async def test_two_bots_on_one_store_keep_separate_conversations(
    fake: FakeBotAPI, client: aiohttp.ClientSession, store: dict[str, Any]
) -> None:
    # A staging bot beside the real one, on the same Redis database or state file.
    async with (
        webhook(fake, "42:TEST", **store) as real,
        webhook(fake, "43:TEST", **store) as staging,
    ):
        in_real = HttpCitizen(fake, client, [real], SECRET, user_id=3108)
        await in_real.start()
        await in_real.press("Tianjin")
        assert "For which year" in in_real.last_text
        in_staging = HttpCitizen(fake, client, [staging], SECRET, user_id=3108)
        # The same person in the staging bot is at its start, not in the real bot's survey.
        await in_staging.say("2027")
        staging_reply = [
            c for c in fake.calls if c.token == "43:TEST" and c.method == "sendMessage"
        ]
        assert (
            staging_reply
            and "Which basic medical insurance" not in staging_reply[-1].params["text"]
        )
        # ...and the real conversation is where it was.
        assert "Which basic medical insurance" in await in_real.say("2027")
