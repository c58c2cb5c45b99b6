"""Real `yibao webhook` processes killed and restarted mid-survey, and stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio
from fakes.citizen import HttpCitizen
from fakes.deployment import SECRET, stored
from fakes.workers import harness

from bot.settings import Settings

# Each test starts real `yibao webhook` processes (seconds each) and kills or stops them.
pytestmark = pytest.mark.slow


async def _first_answers(person: HttpCitizen) -> str:
    """Answer region, year and insurance; return the question asked next."""
    await person.start()
    await person.press("Tianjin")
    await person.say("2027")
    return await person.press("Resident insurance")


async def _finish(person: HttpCitizen) -> str:
    """From the group question to the result."""
    await person.press("None of these")
    await person.press("Done")
    await person.press("No, on time")
    await person.say("2027-01-05")
    await person.press("Done")
    summary = person.last_text
    assert "Region: Tianjin" in summary and "Benefit year: 2027" in summary, summary
    return await person.press("Show my result")


EXPECTED = "3 months. Your insurance pays from April 5, 2027"


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_sigkill_mid_survey_resumes_at_the_same_question(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = {"REDIS_URL": request.getfixturevalue("redis_url")} if backend == "redis" else {}
    if env:
        async with redis.asyncio.Redis.from_url(env["REDIS_URL"]) as flush:
            await flush.flushdb()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", redis_url=env.get("REDIS_URL"))
    async with harness(tmp_path) as (fake, client, w):
        first = await w.start(**env)
        person = HttpCitizen(fake, client, [first.url], SECRET, user_id=7101)
        question = await _first_answers(person)
        assert "Does one of these apply" in question
        before = await stored(settings, 7101)

        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        after = await stored(settings, 7101)
        second = await w.start(**env)
        person = HttpCitizen(fake, client, [second.url], SECRET, user_id=7101)
        result = await _finish(person)

    assert after == before
    assert after[1]["q"] == "group"
    answers = {"region": "tianjin", "benefit_year": "2027", "insurance": "resident"}
    assert after[1]["answers"] == answers
    assert EXPECTED in result


async def test_an_update_redelivered_after_a_crash_is_not_applied_twice(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    async with harness(tmp_path) as (fake, client, w):
        first = await w.start()
        person = HttpCitizen(fake, client, [first.url], SECRET, user_id=7102)
        await person.start()
        await person.press("Tianjin")
        await person.say("2027")
        # The answer is stored, then the process dies while the next question is being sent,
        # so Telegram never gets a 200 and sends the same update again.
        fake.delay_next("sendMessage", 30)
        sent = len(fake.calls)
        pressing = asyncio.create_task(person.press("Resident insurance"))
        await fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls[sent:]))
        await first.stop(signal.SIGKILL)
        with pytest.raises(aiohttp.ClientError):
            await pressing
        state = await stored(settings, 7102)

        second = await w.start()
        person = HttpCitizen(fake, client, [second.url], SECRET, user_id=7102)
        # The delayed question never reached the chat: the insurance buttons are the last shown.
        await person.press("Resident insurance")
        redelivered = person.texts[-2:]
        # The person must be able to go on (not be told to /start, which erases everything).
        assert "Does one of these apply" in redelivered[1], redelivered
        result = await _finish(person)
        _, final = await stored(settings, 7102)

    assert state[1]["answers"]["insurance"] == "resident"  # stored before the crash
    assert "earlier question" in redelivered[0]  # the resent press is stale, not a second answer
    assert final["history"].count("insurance") == 1
    assert EXPECTED in result


async def test_sigterm_lets_the_reply_in_flight_finish_and_exits_0(tmp_path: Path) -> None:
    async with harness(tmp_path) as (fake, client, w):
        worker = await w.start()
        person = HttpCitizen(fake, client, [worker.url], SECRET, user_id=7103)
        fake.delay_next("sendMessage", 1.0)
        answering = asyncio.create_task(person.say("/help"))
        await fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls))

        code = await worker.stop(signal.SIGTERM)
        reply = await answering

    delivered = [c for c in fake.calls if c.method == "sendMessage"]
    assert code == 0, worker.logs
    assert len(delivered) == 1 and delivered[0].outcome == "delayed"
    assert delivered[0].result is not None  # the bot got Telegram's answer before exiting
    assert "/start" in reply
    assert "Traceback" not in worker.logs
