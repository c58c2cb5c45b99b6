"""Several webhook workers of one bot on one Redis: what must happen once happens once."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import redis.asyncio
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen
from fakes.deployment import SECRET, webhook

GROUP = {"id": -1_009_900_001, "type": "supergroup", "title": "Village office"}


def group_start(update_id: int, user: dict[str, object]) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": GROUP,
            "from": user,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_a_group_gets_one_pointer_when_two_workers_see_starts_at_once(
    fake: FakeBotAPI,
    client: aiohttp.ClientSession,
    redis_url: str,
    redis_client: redis.asyncio.Redis,
) -> None:
    async with webhook(fake, redis_url=redis_url) as one, webhook(fake, redis_url=redis_url) as two:
        people = [
            HttpCitizen(fake, client, [url], SECRET, user_id=user)
            for url, user in ((one, 4101), (two, 4102), (one, 4103), (two, 4104))
        ]
        statuses = await asyncio.gather(
            *(p.post(group_start(9_410_000 + n, p.user)) for n, p in enumerate(people))
        )
    assert statuses == [200] * 4
    to_group = [c for c in fake.calls if str(c.params.get("chat_id")) == str(GROUP["id"])]
    assert [c.method for c in to_group] == ["sendMessage"]
    assert "private chat" in to_group[0].params["text"]


async def test_a_redelivered_update_is_applied_once_across_workers(
    fake: FakeBotAPI,
    client: aiohttp.ClientSession,
    redis_url: str,
    redis_client: redis.asyncio.Redis,
) -> None:
    # Telegram gave up on worker one (a timeout) and sends the update to worker two.
    async with webhook(fake, redis_url=redis_url) as one, webhook(fake, redis_url=redis_url) as two:
        person = HttpCitizen(fake, client, [one], SECRET, user_id=4105)
        await person.start()
        update = person.press_update("Xizang")
        both = await asyncio.gather(
            HttpCitizen(fake, client, [one], SECRET, user_id=4105).post(update),
            HttpCitizen(fake, client, [two], SECRET, user_id=4105).post(update),
        )
    assert both == [200, 200]
    asked = [t for t in person.texts if "For which year" in t]
    assert len(asked) == 1
