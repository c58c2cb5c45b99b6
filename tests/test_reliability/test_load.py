"""Many citizens at once against two webhook workers on one Redis: nothing lost, figures shown."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from fakes.bot_api import Call, FakeBotAPI
from fakes.citizen import HttpCitizen, survey_to_result
from fakes.deployment import SECRET
from fakes.workers import NO_THROTTLE, harness

# Two real workers and 200 whole surveys at once: over ten seconds.
pytestmark = pytest.mark.slow

USERS = 200
REGIONS = ["Xizang", "Shanxi", "Chongqing", "Tianjin", "Another region"]
REPLIES = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})


class CallIndex:
    """The fake's calls grouped by chat, read incrementally so no citizen rescans them all."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self._seen = 0
        self._by_chat: defaultdict[str, list[Call]] = defaultdict(list)

    def of(self, chat_id: int) -> list[Call]:
        """The calls made for one chat so far."""
        new = self.fake.calls[self._seen :]
        self._seen += len(new)
        for call in new:
            self._by_chat[str(call.params.get("chat_id"))].append(call)
        return self._by_chat[str(chat_id)]


class ChatView:
    """Stands in for the FakeBotAPI of one citizen: `calls` are only its own chat's."""

    def __init__(self, index: CallIndex, chat_id: int) -> None:
        self.index, self.chat_id = index, chat_id

    @property
    def calls(self) -> list[Call]:
        """The calls made for this chat so far."""
        return self.index.of(self.chat_id)


class TimedCitizen(HttpCitizen):
    """An HttpCitizen that times each POST and reads replies through a ChatView."""

    def __init__(
        self, index: CallIndex, client: aiohttp.ClientSession, urls: list[str], user_id: int
    ) -> None:
        view = ChatView(index, user_id)
        super().__init__(view, client, urls, SECRET, user_id=user_id)  # type: ignore[arg-type]
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self.query_ids: list[str] = []

    async def post(self, update: dict[str, Any]) -> int:
        """POST as usual, recording the time to the response and its status."""
        started = time.perf_counter()
        status = await super().post(update)
        self.latencies.append(time.perf_counter() - started)
        self.statuses.append(status)
        if "callback_query" in update:
            self.query_ids.append(update["callback_query"]["id"])
        return status


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1..99) of values."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def test_two_hundred_citizens_at_once_lose_nothing(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with redis.asyncio.Redis.from_url(redis_url) as flush:
        await flush.flushdb()
    env = {"REDIS_URL": redis_url, **NO_THROTTLE}
    async with harness(tmp_path) as (fake, _, w):
        workers = await asyncio.gather(w.start(**env), w.start(**env))
        index = CallIndex(fake)
        # One connection per citizen: the client pool must not queue the POSTs it times.
        connector = aiohttp.TCPConnector(limit=USERS)
        async with aiohttp.ClientSession(connector=connector) as client:
            people = [
                TimedCitizen(index, client, [x.url for x in workers], user_id=800_000 + n)
                for n in range(USERS)
            ]
            started = time.perf_counter()
            results = await asyncio.gather(
                *(survey_to_result(p, REGIONS[n % len(REGIONS)]) for n, p in enumerate(people)),
                return_exceptions=True,
            )
            elapsed = time.perf_counter() - started
        logs = [x.logs for x in workers]

    errors = [r for r in results if isinstance(r, BaseException)]
    latencies = [s for p in people for s in p.latencies]
    updates = len(latencies)
    with capsys.disabled():
        print(
            f"\nload: {USERS} users, {updates} updates in {elapsed:.1f} s = "
            f"{updates / elapsed:.0f} updates/s; POST-to-200 latency "
            f"p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
    assert not errors, errors[:3]
    assert all(status == 200 for p in people for status in p.statuses)
    assert not [c for c in fake.calls if c.outcome != "ok"]
    for p in people:
        # Every update of the survey asks for exactly one reply: none lost, none doubled.
        replies = sum(c.method in REPLIES for c in index.of(p.chat["id"]))
        assert replies == len(p.statuses), p.user["id"]
    # And every button press is acknowledged exactly once.
    answered = Counter(
        str(c.params["callback_query_id"]) for c in fake.calls if c.method == "answerCallbackQuery"
    )
    assert answered == Counter(q for p in people for q in p.query_ids)
    assert all("Your insurance pays from" in r for r in results)
    assert not [log for log in logs if "Traceback" in log or "ERROR" in log]
    assert not [p for p in people for log in logs if str(p.user["id"]) in log]  # no ids logged
