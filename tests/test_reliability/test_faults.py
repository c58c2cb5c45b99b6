"""Bot API faults during whole surveys over real HTTP: retried, bounded, never doubled."""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiohttp.test_utils import TestServer
from fakes.bot_api import Call, FakeBotAPI
from fakes.citizen import HttpCitizen

from bot.app import create_bot, create_dispatcher, create_storage
from bot.retry import RetryMiddleware, install_retry
from bot.settings import Settings
from bot.transports.session import ApiSession
from bot.transports.webhook import create_webhook_app

SECRET = "s3cret-token_1"
TIMEOUT = 1.5  # session request timeout: generous, so a loaded machine does not time out by itself
SLOW = 3.0  # an injected delay, well past TIMEOUT
FAST = {"base": 0.02, "cap": 0.1}  # small backoff keeps the suite quick

Fault = int | str  # an HTTP status to answer with, "drop" or "delay"
TARGETS = ("sendMessage", "answerCallbackQuery", "editMessageReplyMarkup")
# Per method, the faults put before successive survey steps that call it. Each survey step calls
# sendMessage and answerCallbackQuery at most once, ten steps each: the slow faults (429 waits a
# second, a delay a whole timeout) come last in their cycle so that they happen only once.
CYCLES: dict[str, list[list[Fault]]] = {
    "sendMessage": [[500], ["drop"], [502, 502], ["drop", 500], [500, 500, 500, 500], [429]],
    "answerCallbackQuery": [[500], ["drop"], [503], [500, "drop"], [429], ["delay"]],
    "editMessageReplyMarkup": [[429], [500, "drop"]],
}
STEPS = [
    ("say", "/start"),
    ("press", "English"),
    ("press", "Xizang"),
    ("say", "2027"),
    ("press", "None"),
    ("press", "None of these"),
    ("press", "☐"),  # mark a paid year (the keyboard is edited) ...
    ("press", "☑"),  # ... and unmark it again, so the answers stay the same
    ("press", "Done"),
    ("press", "Within the payment period"),
    ("press", "None"),
    ("press", "Show my result"),
]

injected: Counter[str] = Counter()
checked: Counter[str] = Counter()


@pytest.fixture(scope="session", autouse=True)
def fault_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many faults the suite injected and how many survey messages it checked."""
    yield
    kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(injected.items()))
    line = (
        f"reliability: {injected.total()} Bot API faults injected ({kinds}); "
        f"{checked['survey']} survey messages checked"
    )
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        # Teardown output is captured and shown only on failure; this line is for every run.
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n{line}")


def inject(fake: FakeBotAPI, method: str, fault: Fault) -> None:
    """Queue one fault for the next call of `method` and count it."""
    if fault == "drop":
        fake.drop_next(method)
    elif fault == "delay":
        fake.delay_next(method, SLOW)
    else:
        fake.fail_next(method, status=int(fault), retry_after=1 if fault == 429 else None)
    injected[f"{fault} {method}"] += 1


def faulty(calls: list[Call]) -> int:
    """How many of `calls` met a fault (or a late error after one)."""
    return sum(call.outcome != "ok" for call in calls)


def session(fake: FakeBotAPI) -> ApiSession:
    """An aiohttp session on the fake Bot API with a short request timeout."""
    return ApiSession(api=TelegramAPIServer.from_base(fake.base_url), timeout=TIMEOUT)


@asynccontextmanager
async def webhook(fake: FakeBotAPI) -> AsyncIterator[str]:
    """A webhook app as `yibao webhook` builds it, with fast retries. Yields its URL."""
    config = Settings(_env_file=None, webhook_secret=SECRET)
    bot = install_retry(create_bot("42:TEST", session(fake)), RetryMiddleware(**FAST))
    dispatcher = create_dispatcher(config, create_storage(config, memory=True))
    server = TestServer(create_webhook_app(config, dispatcher, bot), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(config.webhook_path))
    finally:
        await server.close()


@asynccontextmanager
async def retrying_bot(fake: FakeBotAPI, middleware: RetryMiddleware) -> AsyncIterator[Bot]:
    """A bot on the fake Bot API with `middleware` installed."""
    bot = install_retry(create_bot("42:TEST", session(fake)), middleware)
    try:
        yield bot
    finally:
        await bot.session.close()


class Sleeps(list[float]):
    """A sleep that only records how long it was asked to wait."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def start_update(person: HttpCitizen) -> dict[str, Any]:
    """A /start message from `person`, for posting without HttpCitizen's status check."""
    message = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": person.chat,
        "from": person.user,
        "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }
    return {"message": message}


async def run_survey(
    fake: FakeBotAPI, person: HttpCitizen, plan: list[list[tuple[str, Fault]]] | None = None
) -> list[list[Call]]:
    """Take the citizen through STEPS, injecting `plan[i]` before step i; the calls per step."""
    per_step = []
    for i, (action, label) in enumerate(STEPS):
        for method, fault in plan[i] if plan else []:
            inject(fake, method, fault)
        before = len(fake.calls)
        await getattr(person, action)(label)
        per_step.append(fake.calls[before:])
    return per_step


def delivered(calls: list[Call]) -> list[str]:
    """Texts of the messages Telegram created, including any that answered too late."""
    return [c.params["text"] for c in calls if c.method == "sendMessage" and c.result]


def edited(calls: list[Call]) -> list[Any]:
    """Keyboards of the edits Telegram applied."""
    return [
        c.params["reply_markup"]
        for c in calls
        if c.method == "editMessageReplyMarkup" and c.outcome == "ok"
    ]


def answered(calls: list[Call]) -> int:
    """How many callback queries were answered successfully."""
    return sum(c.method == "answerCallbackQuery" and c.outcome == "ok" for c in calls)


@pytest.mark.slow
async def test_a_whole_survey_through_faults_gets_every_reply_exactly_once(
    fake: FakeBotAPI, client: aiohttp.ClientSession
) -> None:
    async with webhook(fake) as url:
        baseline = await run_survey(fake, HttpCitizen(fake, client, [url], SECRET, user_id=601))
        cycles = {method: itertools.cycle(faults) for method, faults in CYCLES.items()}
        plan = [
            [(m, f) for m in TARGETS if any(c.method == m for c in calls) for f in next(cycles[m])]
            for calls in baseline
        ]
        person = HttpCitizen(fake, client, [url], SECRET, user_id=602)
        survey = await run_survey(fake, person, plan)
        result = person.last_text
    assert {m for faults in plan for m, _ in faults} == set(TARGETS)
    for step, (expected, got, faults) in enumerate(zip(baseline, survey, plan, strict=True)):
        assert faulty(got) == len(faults), f"step {step}: a fault was not met in its step"
        assert delivered(got) == delivered(expected), f"step {step}: replies missing or doubled"
        assert edited(got) == edited(expected), f"step {step}: edits missing or doubled"
        assert answered(got) == answered(expected), f"step {step}: callbacks not answered once"
        checked["survey"] += 1
    assert result == delivered(baseline[-1])[-1]
    assert "4 months. Your insurance pays from May 1, 2027" in result
    assert "8,000 yuan below the usual 140,000 yuan" in result


async def test_a_blocked_user_is_tried_once_and_the_webhook_still_answers_200(
    fake: FakeBotAPI, client: aiohttp.ClientSession
) -> None:
    # Without the error handler create_dispatcher registers, aiogram re-raises the 403, the
    # webhook answers 500 and Telegram would redeliver the update again and again.
    async with webhook(fake) as url:
        blocked = HttpCitizen(fake, client, [url], SECRET, user_id=701)
        inject(fake, "sendMessage", 403)
        before = len(fake.calls)
        assert await blocked.post(start_update(blocked)) == 200
        attempts = fake.calls[before:]
        other = HttpCitizen(fake, client, [url], SECRET, user_id=702)
        greeting = await other.start()
    assert [(c.method, c.outcome) for c in attempts] == [("sendMessage", "error")]
    assert "Where are you insured" in greeting


@pytest.mark.parametrize(
    ("status", "retry_after", "error"),
    [
        (400, None, TelegramBadRequest),
        (403, None, TelegramForbiddenError),
        (413, None, TelegramEntityTooLarge),
        (429, 60, TelegramRetryAfter),  # longer than max_wait: not worth waiting for
    ],
)
async def test_errors_that_a_retry_cannot_fix_propagate_after_one_attempt(
    fake: FakeBotAPI, status: int, retry_after: int | None, error: type[TelegramAPIError]
) -> None:
    sleeps = Sleeps()
    async with retrying_bot(fake, RetryMiddleware(sleep=sleeps)) as bot:
        fake.fail_next("sendMessage", status=status, retry_after=retry_after)
        injected[f"{status} sendMessage"] += 1
        with pytest.raises(error):
            await bot.send_message(801, "hello")
    assert len(fake.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("fault", "error"), [(500, TelegramServerError), ("drop", TelegramNetworkError)]
)
async def test_retries_are_bounded_and_back_off_exponentially(
    fake: FakeBotAPI, fault: Fault, error: type[TelegramAPIError], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="yibao.retry")
    sleeps = Sleeps()
    async with retrying_bot(fake, RetryMiddleware(sleep=sleeps, jitter=lambda: 1.0)) as bot:
        for _ in range(6):
            inject(fake, "sendMessage", fault)
        with pytest.raises(error):
            await bot.send_message(802, "private words")
        assert len(fake.calls) == 5
        assert sleeps == [0.2, 0.4, 0.8, 1.6]
        assert (await bot.send_message(802, "again")).text == "again"  # the 6th fault, then ok
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:4] == [f"retrying sendMessage, attempt {n}" for n in (2, 3, 4, 5)]
    assert not any("802" in m or "words" in m for m in messages)


def test_the_backoff_is_capped_and_jittered() -> None:
    top = RetryMiddleware(base=1.0, cap=5.0, jitter=lambda: 1.0)
    bottom = RetryMiddleware(base=1.0, cap=5.0, jitter=lambda: 0.0)
    assert [top.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert [bottom.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 2.5, 2.5, 2.5]


async def test_flood_control_waits_retry_after(fake: FakeBotAPI) -> None:
    sleeps = Sleeps()
    async with retrying_bot(fake, RetryMiddleware(sleep=sleeps)) as bot:
        inject(fake, "sendMessage", 429)
        await bot.send_message(803, "hello")
    assert sleeps == [1]
    assert [c.outcome for c in fake.calls] == ["error", "ok"]


async def test_exhausted_retries_leave_the_update_handled_and_a_redelivery_changes_nothing(
    fake: FakeBotAPI, client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Answering 500 would only bring the update back to be ignored: its effect (the person's
    # place in the survey) is saved, so the answer is 200 and the lost reply is logged.
    async with webhook(fake) as url:
        for _ in range(5):
            inject(fake, "sendMessage", 500)
        person = HttpCitizen(fake, client, [url], SECRET, user_id=804)
        update = {"update_id": 804_001, **start_update(person)}
        with caplog.at_level(logging.WARNING, logger="yibao.updates"):
            status = await person.post(update)
        assert status == 200
        assert [c.outcome for c in fake.calls] == ["error"] * 5
        assert "sendMessage failed (TelegramServerError), reply not sent" in caplog.text
        again = await person.post(update)  # Telegram's redelivery, or a second worker's copy
    assert again == 200
    assert len(fake.calls) == 5


@pytest.mark.slow
async def test_a_timed_out_send_message_is_not_sent_again(fake: FakeBotAPI) -> None:
    # Telegram got the first request but answered too late: a second one would arrive twice.
    async with retrying_bot(fake, RetryMiddleware(**FAST)) as bot:
        inject(fake, "sendMessage", "delay")
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(805, "hello")
        calls = await fake.wait_for(lambda calls: all(c.result for c in calls), timeout=SLOW * 2)
    assert [c.outcome for c in calls] == ["delayed"]
    assert delivered(calls) == ["hello"]


@pytest.mark.slow
async def test_a_timed_out_edit_is_made_again(fake: FakeBotAPI) -> None:
    # An edit repeated gives the same message: safe to retry.
    async with retrying_bot(fake, RetryMiddleware(**FAST)) as bot:
        sent = await bot.send_message(806, "hello")
        inject(fake, "editMessageText", "delay")
        edited = await bot.edit_message_text("hello again", chat_id=806, message_id=sent.message_id)
    assert [c.outcome for c in fake.calls if c.method == "editMessageText"] == ["delayed", "ok"]
    assert not isinstance(edited, bool) and edited.text == "hello again"
