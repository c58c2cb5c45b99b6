"""A corpus of real-shaped Telegram updates, posted over real HTTP to a running `yibao webhook`.

Each file in tests/corpus/updates/ is one update as Telegram sends it (ids and names invented),
with the situation it stands for and what a person watching the chats would expect:

- "nothing": no message anywhere (a button press is only answered, to stop its spinner);
- "pointer_once": in a group, the one pointer to the private chat if the group has not had it yet,
  else nothing;
- "one_reply": one message, to the sender's private chat;
- "reply_and_question": two, to the sender's private chat: a line saying what was wrong (or what
  a link chose), then the current question or screen again. The bot's one designed exception to
  "at most one message per update".

Every private text and name in the corpus carries a marker (made unique per file here); neither
the markers nor the shared phone number may reach the process's logs or the state store. One
process per state backend, with the deployment's default flood limit, takes the whole corpus,
then a member flooding a group and a business account's customer writing a burst, then a new
person's /start, and must stop cleanly on SIGTERM.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from aiogram.types import Update
from fakes.bot_api import BOT_USERNAME, Call
from fakes.deployment import BOT_ID, post_raw, stored
from fakes.workers import harness

from bot.render import render_macro
from bot.settings import Settings

CORPUS = Path(__file__).parents[1] / "corpus" / "updates"
MARK = "zqx-secret"  # in the files; replaced by a marker unique to each file
PHONE = "13800138000"  # the shared contact's number: never logged, never stored
ADMIN_ID, VOLUNTEER_ID = 8801, 8802
FRESH_PERSON = 8999
EXPECTATIONS = ("nothing", "pointer_once", "one_reply", "reply_and_question")
FLOOD = 12  # updates from one sender in a row: more than the default burst of 10
POINTER = render_macro("messages.j2", "text", "en", "private_only")
WELCOME = render_macro("messages.j2", "text", "en", "welcome")
UNKNOWN_COMMAND = render_macro("campaign.j2", "text", "en", "unknown_command")


@dataclass(frozen=True)
class Case:
    """One corpus file: its update (with its own marker) and what should follow it."""

    name: str
    situation: str
    expect: str
    update: dict[str, Any]
    marker: str

    @property
    def kind(self) -> str:
        return next(key for key in self.update if key != "update_id")

    @property
    def event(self) -> dict[str, Any]:
        return self.update[self.kind]

    @property
    def sender(self) -> int | None:
        user = self.event.get("from") or self.event.get("user")
        return user["id"] if user else None

    @property
    def chat(self) -> int | None:
        chat = self.event.get("chat")
        return chat["id"] if chat else None


def load_corpus() -> list[Case]:
    """The corpus in file-name order, each file's marker made unique."""
    cases = []
    for number, path in enumerate(sorted(CORPUS.glob("*.json"))):
        marker = f"zqx-{number:03d}-secret"
        entry = json.loads(path.read_text(encoding="utf-8").replace(MARK, marker))
        cases.append(Case(path.stem, entry["situation"], entry["expect"], entry["update"], marker))
    return cases


CASES = load_corpus()


def test_the_corpus_covers_what_telegram_sends() -> None:
    kinds = {case.kind for case in CASES}
    assert len(CASES) >= 35
    assert all(case.expect in EXPECTATIONS for case in CASES), [c.name for c in CASES]
    assert all(MARK not in json.dumps(case.update) for case in CASES)
    assert {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "message_reaction",
        "message_reaction_count",
        "poll",
        "poll_answer",
        "pre_checkout_query",
        "shipping_query",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "chat_boost",
        "removed_chat_boost",
        "purchased_paid_media",
    } <= kinds
    assert len(kinds - set(Update.model_fields)) >= 2  # kinds newer than this aiogram
    chat_types = {case.event["chat"]["type"] for case in CASES if "chat" in case.event}
    assert chat_types == {"private", "group", "supergroup", "channel"}
    # Entities point at what they mark, as Telegram's do (offsets in UTF-16 code units).
    for case in CASES:
        for text_key, entities_key in (("text", "entities"), ("caption", "caption_entities")):
            encoded = str(case.event.get(text_key, "")).encode("utf-16-le")
            for entity in case.event.get(entities_key, []):
                start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
                marked = encoded[start:end].decode("utf-16-le")
                if entity["type"] == "mention":
                    assert re.fullmatch(r"@\w+", marked), (case.name, marked)
                if entity["type"] == "bot_command":
                    assert re.fullmatch(r"/\w+(@\w+)?", marked), (case.name, marked)
    # The bot in the corpus is the bot of the token the webhook process is given.
    bots = [c.event["new_chat_member"]["user"] for c in CASES if c.kind == "my_chat_member"]
    assert {(b["id"], b["username"]) for b in bots} == {(BOT_ID, BOT_USERNAME)}


def is_reply(call: Call) -> bool:
    """A call that puts something in front of someone: a message sent, copied or edited."""
    return call.method.lower().startswith(("send", "edit", "copy", "forward"))


def chat_of(call: Call) -> int | None:
    chat_id = call.params.get("chat_id")
    return int(chat_id) if chat_id not in (None, "") else None


def describe(calls: list[Call]) -> list[tuple[str, Any, str]]:
    return [(c.method, c.params.get("chat_id"), str(c.params.get("text", ""))[:60]) for c in calls]


def is_pointer(call: Call, chat_id: int) -> bool:
    """The pointer: the private-only line with one button opening the bot's private chat."""
    markup = call.params.get("reply_markup") or {}
    buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
    return (
        call.method == "sendMessage"
        and chat_of(call) == chat_id
        and call.params.get("text") == POINTER
        and [b.get("url") for b in buttons] == [f"https://t.me/{BOT_USERNAME}?start"]
    )


def check_replies(case: Case, replies: list[Call], pointed: set[int]) -> list[str]:
    """What is wrong with the replies to one update, as sentences (none: all is well)."""
    problems = []
    shown = describe(replies)
    for call in replies:
        chat = chat_of(call)
        pointer = case.expect == "pointer_once" and chat is not None and is_pointer(call, chat)
        if (chat is None or chat < 0) and not pointer:
            problems.append(f"sent to a group/channel or to no chat: {describe([call])}")
    if case.expect == "nothing" and replies:
        problems.append(f"expected no message, got {shown}")
    elif case.expect == "pointer_once":
        assert case.chat is not None and case.chat < 0, case.name
        if case.chat in pointed:
            if replies:
                problems.append(f"the group had its pointer already, got {shown}")
        elif len(replies) != 1 or not is_pointer(replies[0], case.chat):
            problems.append(f"expected the one pointer to the private chat, got {shown}")
        else:
            pointed.add(case.chat)
    elif case.expect in ("one_reply", "reply_and_question"):
        wanted = 1 if case.expect == "one_reply" else 2
        texts = [str(call.params.get("text")) for call in replies]
        if len(replies) != wanted or any(chat_of(c) != case.sender for c in replies):
            problems.append(f"expected {wanted} message(s) to {case.sender}, got {shown}")
        elif len(set(texts)) != len(texts):
            problems.append(f"the same message twice: {shown}")
    return problems


def check_press_answered(case: Case, calls: list[Call]) -> list[str]:
    """A button press must be answered once, or the person's button keeps spinning."""
    if case.kind != "callback_query":
        return []
    answers = [c for c in calls if c.method == "answerCallbackQuery"]
    ids = [str(c.params.get("callback_query_id")) for c in answers]
    if ids != [case.event["id"]]:
        return [f"the press was answered {len(ids)} time(s): {ids}"]
    return []


def private_start(user_id: int) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Yudron", "language_code": "en"}
    return {
        "message": {
            "message_id": 1,
            "date": 1757900000,
            "chat": {"id": user_id, "type": "private", "first_name": "Yudron"},
            "from": user,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def stored_bytes(data_dir: Path, redis_url: str | None) -> bytes:
    """Everything the state store holds: the SQLite files' bytes, or every Redis key and value."""
    if redis_url is None:
        return b"\n".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
    chunks: list[bytes] = []
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        async for key in client.scan_iter():
            chunks.append(key)
            kind = (await client.type(key)).decode()
            if kind == "string":
                chunks.append(await client.get(key) or b"")
            elif kind == "hash":
                for field, value in (await client.hgetall(key)).items():
                    chunks += [field, value]
            elif kind == "list":
                chunks += await client.lrange(key, 0, -1)
            elif kind == "set":
                chunks += list(await client.smembers(key))
            elif kind == "zset":
                chunks += await client.zrange(key, 0, -1)
            else:
                chunks.append(repr(await client.dump(key)).encode())
    return b"\n".join(chunks)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_every_update_in_the_corpus_is_taken_quietly(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    if redis_url is not None:
        async with redis.asyncio.Redis.from_url(redis_url) as flush:
            await flush.flushdb()
    env = {"ADMIN_IDS": str(ADMIN_ID), "VOLUNTEER_IDS": str(VOLUNTEER_ID)}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    problems: list[str] = []
    pointed: set[int] = set()

    async with harness(tmp_path) as (fake, client, workers):
        worker = await workers.start(**env)
        update_ids = itertools.count(910_000)

        async def post(update: dict[str, Any]) -> tuple[int, list[Call]]:
            """POST one update with a fresh update_id; the status and the calls it caused."""
            before = len(fake.calls)
            body = json.dumps({**update, "update_id": next(update_ids)}).encode()
            status, _ = await post_raw(client, worker.url, body)
            return status, fake.calls[before:]

        for case in CASES:
            status, calls = await post(case.update)
            found = [] if status == 200 else [f"HTTP {status}"]
            found += check_replies(case, [c for c in calls if is_reply(c)], pointed)
            found += check_press_answered(case, calls)
            moved_to = case.event.get("migrate_to_chat_id")
            if moved_to and case.chat in pointed:
                pointed.add(moved_to)  # the supergroup it became has had its pointer too
            problems += [f"{case.name} ({case.situation}): {p}" for p in found]
            if case.name == "130_private_stats_by_admin" and any(
                c.params.get("text") == UNKNOWN_COMMAND for c in calls
            ):
                problems.append(f"{case.name}: the admin's /stats was not recognised")

        # /start twice in the basic group and after its migration, the bot added to a group
        # and then mentioned there, a mention in a forum: one pointer a group, no more.
        pointers = Counter(chat_of(c) for c in fake.calls if is_reply(c) and (chat_of(c) or 0) < 0)
        if len(pointers) < 3 or set(pointers.values()) != {1}:
            problems.append(f"pointers per group: {dict(pointers)}")

        # A member sends /start a dozen times in a row in the group that had its pointer, and
        # a business account's customer writes a dozen lines: neither is written to the bot.
        for name in ("031_group_start", "101_business_message"):
            flood = next(c for c in CASES if c.name == name)
            before = len(fake.calls)
            for _ in range(FLOOD):
                status, _ = await post(flood.update)
                if status != 200:
                    problems.append(f"{name} {FLOOD} times: HTTP {status}")
            sent = [c for c in fake.calls[before:] if is_reply(c)]
            if sent:
                problems.append(f"{name} {FLOOD} times in a row: {describe(sent)}")

        # After all that, a new person still gets the greeting.
        status, calls = await post(private_start(FRESH_PERSON))
        greeting = [c.params.get("text") for c in calls if is_reply(c)]
        if status != 200 or greeting != [WELCOME]:
            problems.append(f"a new person's /start after the corpus: {status} {greeting}")

        exit_code = await worker.stop(signal.SIGTERM)
        logs = worker.logs

    assert exit_code == 0, logs[-3000:]
    # Refused in the group: the admin's /forget there left their private conversation alone.
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", redis_url=redis_url)
    admin_state = await stored(settings, ADMIN_ID)
    if not admin_state[1].get("await_language"):
        problems.append(
            f"the admin's private conversation is gone after /forget in a group: {admin_state}"
        )

    if "Traceback" in logs:
        problems.append("a traceback in the logs")
    errors = [line for line in logs.splitlines() if re.match(r"(ERROR|CRITICAL)\b", line)]
    if errors:
        problems.append(f"ERROR lines in the logs: {errors[:5]}")
    leaked = [case.name for case in CASES if case.marker in logs]
    if leaked:
        problems.append(f"message text or names in the logs, from: {leaked}")
    if PHONE in logs:
        problems.append("the shared phone number is in the logs")
    kept = await stored_bytes(tmp_path / "data", redis_url)
    kept_from = [case.name for case in CASES if case.marker.encode() in kept]
    if kept_from or PHONE.encode() in kept:
        problems.append(f"the state store keeps text, names or the phone number: {kept_from}")
    assert not problems, "\n".join(problems) + "\n--- webhook log ---\n" + logs[-4000:]
