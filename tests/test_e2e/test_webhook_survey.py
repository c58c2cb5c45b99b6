"""Whole surveys over real HTTP: webhook servers, the fake Bot API, SQLite and Redis state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestServer
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen

from bot.app import create_bot, create_dispatcher, create_storage
from bot.settings import Settings
from bot.transports.session import ApiSession
from bot.transports.webhook import create_webhook_app

SECRET = "s3cret-token_1"


@asynccontextmanager
async def webhook(fake: FakeBotAPI, **settings: object) -> AsyncIterator[str]:
    """One webhook process's application on a loopback port; yields its URL."""
    config = Settings(_env_file=None, webhook_secret=SECRET, **settings)
    bot = create_bot("42:TEST", ApiSession(api=TelegramAPIServer.from_base(fake.base_url)))
    app = create_webhook_app(config, create_dispatcher(config, create_storage(config)), bot)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(config.webhook_path))
    finally:
        await server.close()


async def survey_to_result(
    person: HttpCitizen, region: str, insurance: str, *, payment: str = "Within the payment period"
) -> str:
    await person.start()
    await person.press(region)
    await person.say("2027")
    await person.press(insurance)
    await person.press("None of these")
    await person.press("Done")
    if "paid late" in person.last_text:
        await person.press("No, on time")
    if "pay nothing" not in person.last_text and "How many" not in person.last_text:
        await (person.press(payment) if payment.startswith("Within") else person.say(payment))
    while "Your answers" not in person.last_text:
        await person.press("Done" if "pay nothing" in person.last_text else "None")
    return await person.press("Show my result")


EXPECTED = [
    (
        "Xizang",
        "None",
        [
            "4 months. Your insurance pays from May 1, 2027",
            "132,000 yuan, 8,000 yuan below the usual 140,000 yuan",
        ],
    ),
    (
        "Shanxi",
        "None",
        ["4 months. Your insurance pays from May 1, 2027", "6,000 yuan below your region's"],
    ),
    (
        "Chongqing",
        "None",
        [
            "draft for comment",
            "4 months. Your insurance pays from May 1, 2027",
            "8,000 yuan below your region's original cap",
        ],
    ),
    (
        "Tianjin",
        "None",
        ["4 months. Your insurance pays from May 1, 2027", "2,000 yuan below your region's"],
    ),
    (
        "Another region",
        "None",
        ["4 months. Your insurance pays from May 1, 2027", "your province sets each step"],
    ),
]


@pytest.mark.parametrize(("region", "insurance", "expected"), EXPECTED)
async def test_a_whole_survey_for_each_region(
    fake: FakeBotAPI,
    client: aiohttp.ClientSession,
    tmp_path: Path,
    region: str,
    insurance: str,
    expected: list[str],
) -> None:
    async with webhook(fake, data_dir=tmp_path) as url:
        person = HttpCitizen(fake, client, [url], SECRET)
        result = await survey_to_result(person, region, insurance)
    for fragment in expected:
        assert fragment in result, f"{fragment!r} not in {result!r}"
    assert "1 year: wait 3 months, from April 1, 2027" in result


async def test_an_update_without_the_secret_is_refused(
    fake: FakeBotAPI, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with webhook(fake, data_dir=tmp_path) as url:
        intruder = HttpCitizen(fake, client, [url], secret="wrong")
        status = await intruder.post(
            {
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "text": "/start",
                    "chat": intruder.chat,
                    "from": intruder.user,
                }
            }
        )
    assert status == 401
    assert not [c for c in fake.calls if c.method == "sendMessage"]


async def test_a_restart_mid_survey_resumes_at_the_same_question(
    fake: FakeBotAPI, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with webhook(fake, data_dir=tmp_path) as url:
        person = HttpCitizen(fake, client, [url], SECRET)
        await person.start()
        await person.press("Tianjin")
        await person.say("2027")
        question = await person.press("Resident insurance")
    assert "Does one of these apply" in question
    assert (tmp_path / "yibao.sqlite3").exists()
    async with webhook(fake, data_dir=tmp_path) as url:  # a new process on the same file
        person = HttpCitizen(fake, client, [url], SECRET)
        await person.press("None of these")
        await person.press("Done")
        await person.press("No, on time")
        await person.say("2027-01-05")
        await person.press("Done")
        summary = person.last_text
        assert "Region: Tianjin" in summary and "Benefit year: 2027" in summary
        result = await person.press("Show my result")
    assert "3 months. Your insurance pays from April 5, 2027" in result


async def test_two_webhook_processes_share_one_conversation_in_redis(
    fake: FakeBotAPI, client: aiohttp.ClientSession, tmp_path: Path, redis_url: str, redis_client
) -> None:
    async with (
        webhook(fake, redis_url=redis_url) as first,
        webhook(fake, redis_url=redis_url) as second,
    ):
        person = HttpCitizen(fake, client, [first, second], SECRET, user_id=9001)
        result = await survey_to_result(person, "Xizang", "None")
        keys = [key async for key in redis_client.scan_iter("fsm:*")]
    assert "4 months. Your insurance pays from May 1, 2027" in result
    assert keys and all(b":9001:" in key for key in keys)
