"""Who may post updates and commands, what forged buttons can do, and what is logged or kept."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import signal
import sqlite3
from contextlib import closing
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen, survey_to_result
from fakes.deployment import BOT_ID, CARD_KEY, HEADER, SECRET, serve
from fakes.redis_server import free_port
from fakes.workers import harness

from bot import cli
from bot.render import render_macro
from bot.settings import Settings, SettingsError, load_settings
from bot.survey import AID_CLASSES, BY_ID, GROUP_OPTIONS, INSURANCE_OPTIONS
from bot.transports.webhook import peer_allowed, run_webhook
from rules import REGIONS

_ids = itertools.count(20_000_000)


def message(user_id: int, text: str) -> dict[str, Any]:
    """A private-chat text message update."""
    chat = {"id": user_id, "type": "private"}
    return {
        "message": {
            "message_id": next(_ids),
            "date": 0,
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "X", "language_code": "en"},
            "text": text,
        }
    }


async def post(
    client: aiohttp.ClientSession, url: str, update: dict[str, Any], **headers: str
) -> int:
    """POST an update with the given headers; return the status."""
    async with client.post(url, json={"update_id": next(_ids), **update}, headers=headers) as r:
        return r.status


# -- who may post ----------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_real_worker_checks_the_secret_and_the_peer_and_logs_no_secrets(
    tmp_path: Path,
) -> None:
    token = "42:AAE-sekrit_TOKEN_value"
    async with harness(tmp_path) as (fake, client, w):
        open_, fenced = await asyncio.gather(
            w.start(BOT_TOKEN=token, WEBHOOK_URL="https://bot.example.org/hook"),
            w.start(BOT_TOKEN=token, WEBHOOK_ALLOWED_IPS="10.0.0.0/8, 192.168.0.0/16"),
        )
        update = message(7401, "/help")
        statuses = [
            await post(client, open_.url, update),
            await post(client, open_.url, update, **{HEADER: "wrong"}),
            await post(client, open_.url, update, **{HEADER: SECRET}),
            await post(client, fenced.url, update, **{HEADER: SECRET}),
        ]
        async with client.get(f"http://127.0.0.1:{fenced.port}/healthz") as probe:
            healthz = probe.status
        codes = [await open_.stop(signal.SIGTERM), await fenced.stop(signal.SIGTERM)]
        logs = open_.logs + fenced.logs

    assert statuses == [401, 401, 200, 403]
    assert healthz == 200  # the liveness probe is not fenced
    assert len(fake.sent_messages(7401)) == 1
    assert [c.params["secret_token"] for c in fake.calls if c.method == "setWebhook"] == [SECRET]
    assert codes == [0, 0]
    assert "webhook listening" in logs
    assert token not in logs and token.partition(":")[2] not in logs
    assert SECRET not in logs


@pytest.mark.parametrize(
    ("allowed", "status"),
    [("10.0.0.0/8", 403), ("10.0.0.0/8,127.0.0.0/8", 200), ("::1,127.0.0.1", 200)],
)
async def test_the_allow_list_admits_only_listed_peers(
    tmp_path: Path, allowed: str, status: int
) -> None:
    async with (
        FakeBotAPI() as fake,
        aiohttp.ClientSession() as client,
        serve(fake, data_dir=tmp_path, webhook_allowed_ips=allowed) as (url, _),
    ):
        got = await post(client, url, message(7402, "/help"), **{HEADER: SECRET})
    assert got == status
    assert len(fake.sent_messages(7402)) == (status == 200)


def test_peer_matching() -> None:
    loopback, lan = [ip_network("127.0.0.0/8")], [ip_network("fe80::/10")]
    assert peer_allowed("127.0.0.1", loopback)
    assert peer_allowed("::ffff:127.0.0.1", loopback)  # IPv4 on a dual-stack socket
    assert peer_allowed("fe80::1%eth0", lan)
    assert not peer_allowed("128.0.0.1", loopback)
    assert not peer_allowed(None, loopback)  # a Unix socket has no IP
    assert not peer_allowed("not-an-ip", loopback)


# -- who may use which command ---------------------------------------------------------------


async def test_admin_and_volunteer_commands_are_refused_to_others(tmp_path: Path) -> None:
    admin, volunteer, stranger = 7411, 7412, 7413
    async with (
        FakeBotAPI() as fake,
        aiohttp.ClientSession() as client,
        serve(fake, data_dir=tmp_path, admin_ids=[admin], volunteer_ids=[volunteer]) as (url, dp),
    ):
        people = {
            uid: HttpCitizen(fake, client, [url], SECRET, user_id=uid)
            for uid in (admin, volunteer, stranger)
        }
        refused = [await people[stranger].say("/stats"), await people[stranger].say("/volunteer")]
        refused.append(await people[volunteer].say("/stats"))
        refused.append(await people[admin].say("/volunteer"))
        granted = [await people[admin].say("/stats")]
        await people[volunteer].say("/volunteer")
        granted.append(people[volunteer].texts[-2])  # then the survey's first question
        modes = [await _data(dp, uid) for uid in (admin, volunteer, stranger)]

    unknown = render_macro("campaign.j2", "text", "en", "unknown_command")
    volunteers_only = render_macro("messages.j2", "text", "en", "volunteers_only")
    assert refused == [unknown, volunteers_only, unknown, volunteers_only]
    assert granted[0].startswith("Today") and granted[0] != unknown
    assert granted[1] == render_macro("messages.j2", "text", "en", "volunteer_on")
    assert [m.get("volunteer") for m in modes] == [None, True, None]


async def _data(dp: Dispatcher, user_id: int) -> dict[str, Any]:
    """The FSM data of a user's private chat."""
    key = StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id, destiny="default")
    return await dp.fsm.storage.get_data(key)


# -- forged buttons --------------------------------------------------------------------------

# Every value any question offers, plus junk: for the question being asked, each value it does
# not offer now is forged; other questions get a value that would be fine if they were asked.
OFFERED = {
    *REGIONS,
    *INSURANCE_OPTIONS,
    *GROUP_OPTIONS,
    *AID_CLASSES,
    *("inpatient", "outpatient", "period", "today"),
    *(str(n) for n in range(6)),
    *(str(y) for y in range(2024, 2029)),
}
JUNK = {"", "forged", "-1", "1e3", "2100", "9" * 40, "NONE", "xizang ", "<b>x</b>", "null"}
PLAUSIBLE = {
    "region": "xizang",
    "benefit_year": "2027",
    "insurance": "resident",
    "group": "newborn",
    "birth_date": "2026-01-01",
    "paid_years": "2025",
    "payment": "period",
    "zero_claim_years": "2025",
    "incentive_used_years": "2026",
    "repair_years": "1",
    "aid_class": "catastrophic",
    "aid_expense": "inpatient",
    "aid_cost": "100",
    "aid_income": "100",
}
RAW = ["p:region", "p:region:xizang:x", "p::", "p:region:" + "x" * 80, "p:no_such:1", "x" * 64]
# Three people, so that every question is asked: (insurance, group, years without claims).
PATHS: list[dict[str, str]] = [
    # Every year paid: last year's payment, then the medical-aid questions.
    {"insurance": "Resident insurance", "zero_claim": "2025"},
    {"insurance": "None"},  # nothing paid: the repair question
    # The birth date; a baby's payment is by its day.
    {"insurance": "None", "group": "Baby under one year", "payment_button": "Today"},
    # A job change paid on a typed day in Shanxi, the old cover ending in December 2025: whether
    # that was within the announced period, the day cover stopped, the years insured before.
    {
        "region": "Shanxi",
        "insurance": "Employee insurance",
        "group": "Job change",
        "payment": "2026-02-01",
    },
]


async def _answer(person: HttpCitizen, q: str, path: dict[str, str]) -> None:
    """Answer question q the way a person on `path` would."""
    born = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    typed = {
        "birth_date": born,
        "aid_cost": "12000",
        "aid_income": "30000",
        "left_on": "2025-12-01",
    }
    if "payment" in path:
        typed["payment"] = path["payment"]
    chosen = {
        "region": path.get("region", "Xizang"),
        "benefit_year": "2027",
        "insurance": path["insurance"],
        "group": path.get("group", "None of these"),
        "late_year": "No, on time",
        "payment": path.get("payment_button", "Within the payment period"),
        "in_period": "No, outside it",
        "continuous_years": "Less than 2 years",
        "repair_years": "1 year",
        "aid_class": "Very high medical costs",
        "aid_expense": "Hospital stay",
    }
    if q in typed:
        await person.say(typed[q])
    elif q in chosen:
        await person.press(chosen[q])
    else:  # a years question: tick one year (only on the first path), then Done
        if q == "zero_claim_years" and path.get("zero_claim"):
            await person.press(f"☐ {path['zero_claim']}")
        await person.press("Done")


async def _forge(person: HttpCitizen, current: str, offered_now: set[str]) -> int:
    """Press every forged Pick while `current` is asked; return how many were sent."""
    presses = [f"p:{current}:{v}" for v in sorted((OFFERED | JUNK) - offered_now)]
    presses += [f"p:{q}:{v}" for q, v in PLAUSIBLE.items() if q != current]
    presses += RAW
    for data in presses:
        query = {
            "id": str(next(_ids)),
            "from": person.user,
            "chat_instance": "ci",
            "data": data,
            "message": {"message_id": 1, "date": 0, "chat": person.chat, "text": "..."},
        }
        assert await person.post({"callback_query": query}) == 200
    return len(presses)


def _offered(person: HttpCitizen) -> set[str]:
    """The Pick values on the latest question's buttons."""
    _, markup = person._last_with_buttons()
    data = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
    return {d.split(":", 2)[2] for d in data if d.startswith("p:")}


@pytest.mark.slow
async def test_forged_button_values_never_change_an_answer(tmp_path: Path) -> None:
    covered: set[str] = set()
    forged = 0
    async with (
        FakeBotAPI() as fake,
        aiohttp.ClientSession() as client,
        serve(fake, data_dir=tmp_path) as (url, dp),
    ):
        for user_id, path in enumerate(PATHS, start=7421):
            person = HttpCitizen(fake, client, [url], SECRET, user_id=user_id)
            await person.start()
            for _ in range(2 * len(BY_ID)):  # bounded: each round answers one question
                before = await _data(dp, user_id)
                current = before.get("q")
                if current is None and before.get("mode") == "summary" and path is PATHS[0]:
                    await person.press("Show my result")
                    await person.press("Medical aid")
                    continue
                if current is None:
                    break
                forged += await _forge(person, current, _offered(person))
                after = await _data(dp, user_id)
                assert (after["answers"], after["q"]) == (before["answers"], current), current
                covered.add(current)
                await _answer(person, current, path)

    assert covered == set(BY_ID), set(BY_ID) - covered
    assert forged > 1000


# -- what is logged ---------------------------------------------------------------------------


async def test_logs_at_info_carry_no_message_text_and_no_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user_id = 7355608123
    private = "Tsering Dolma, Lhasa, 13800138000"
    caplog.set_level(logging.INFO)
    async with FakeBotAPI() as fake, aiohttp.ClientSession() as client:
        settings = load_settings(
            _env_file=None,
            bot_token="42:TEST",
            card_keys=CARD_KEY,
            telegram_api_base=fake.base_url,
            webhook_port=free_port(),
            webhook_secret=SECRET,
            data_dir=tmp_path,
        )
        stop = asyncio.Event()
        server = asyncio.create_task(run_webhook(settings, stop))
        url = f"http://127.0.0.1:{settings.webhook_port}/webhook"
        person = HttpCitizen(fake, client, [url], SECRET, user_id=user_id)
        for _ in range(200):
            if await _listening(client, settings.webhook_port):
                break
            await asyncio.sleep(0.05)
        await person.start()
        await person.say(private)  # free text where a button is expected
        await person.press("Tianjin")
        await person.press("2027")
        await person.press("Resident insurance")
        await person.press("None of these")
        await person.press("Done")
        await person.press("No, on time")
        await person.say("2027-01-05")
        await person.press("Done")
        result = await person.press("Show my result")
        await person.say("/forget")
        stop.set()
        await asyncio.wait_for(server, 30)

    lines = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert "Your insurance pays from" in result
    assert any("is handled" in line for line in lines)  # aiogram's own lines were captured
    leaks = [line for line in lines for s in (str(user_id), private, "2027-01-05") if s in line]
    assert not leaks


async def _listening(client: aiohttp.ClientSession, port: int) -> bool:
    """Whether the webhook server answers its liveness probe."""
    try:
        async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


# -- what is kept ----------------------------------------------------------------------------


async def _redis_dump(url: str) -> list[str]:
    """Every key in the database with its whole value, as text."""
    dump = []
    async with redis.asyncio.Redis.from_url(url, decode_responses=True) as db:
        async for key in db.scan_iter(count=1000):
            kind = await db.type(key)
            value: Any = {
                "string": db.get,
                "hash": db.hgetall,
                "list": lambda k: db.lrange(k, 0, -1),
                "set": db.smembers,
                "zset": lambda k: db.zrange(k, 0, -1, withscores=True),
            }[kind](key)
            dump.append(f"{key} {kind} {await value}")
    return dump


def _sqlite_dump(path: Path) -> list[str]:
    """Every row of every table, as text."""
    with closing(sqlite3.connect(path)) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [f"{t} {row}" for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_forget_leaves_no_key_and_no_row_of_the_user(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    user_id, neighbour = 7431, 7432
    where: dict[str, Any] = {"data_dir": tmp_path}
    if backend == "redis":
        where["redis_url"] = request.getfixturevalue("redis_url")
        async with redis.asyncio.Redis.from_url(where["redis_url"]) as flush:
            await flush.flushdb()

    async def dump() -> list[str]:
        if backend == "redis":
            return await _redis_dump(where["redis_url"])
        return _sqlite_dump(tmp_path / "yibao.sqlite3")

    async with (
        FakeBotAPI() as fake,
        aiohttp.ClientSession() as client,
        serve(fake, **where) as (url, _),
    ):
        person, other = (
            HttpCitizen(fake, client, [url], SECRET, user_id=u) for u in (user_id, neighbour)
        )
        await survey_to_result(person)
        await survey_to_result(other)
        reminded = await _press_a_reminder(person)
        kept = await dump()
        await person.say("/forget")
        left = await dump()

    assert any(str(user_id) in entry for entry in kept)  # the dump does see the user's records
    assert reminded == any("reminder" in e and str(user_id) in e for e in kept)
    assert not [entry for entry in left if str(user_id) in entry]
    assert any(str(neighbour) in entry for entry in left)  # only that user was forgotten


async def _press_a_reminder(person: HttpCitizen) -> bool:
    """Opt in to the first reminder the result offers; False when it offers none today."""
    _, markup = person._last_with_buttons()
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    data = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
    for label, value in zip(labels, data, strict=True):
        if value.startswith("rm:"):
            await person.press(label)
            return True
    return False


# -- what is printed ---------------------------------------------------------------------------

TOKEN = "42:AAE-another_sekrit-token"
SETTINGS_ENV = [name.upper() for name in Settings.model_fields]
WEBHOOK_SECRET = "hook-sekrit_value"


def test_settings_never_print_secrets() -> None:
    password = "redis-pass-4711"
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        card_keys=CARD_KEY,
        webhook_secret=WEBHOOK_SECRET,
        redis_url=f"redis://:{password}@127.0.0.1:6379/0",
    )
    shown = [repr(settings), str(settings), f"{settings}", settings.model_dump_json()]
    assert not [s for s in shown if TOKEN in s or WEBHOOK_SECRET in s or password in s]


@pytest.mark.parametrize("bad", ["has spaces sekrit", "sekrit!value", "s" * 300])
def test_a_bad_secret_is_named_but_not_echoed(
    bad: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, bot_token=TOKEN, webhook_secret=bad)
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_SECRET", bad)
    code = cli.main(["webhook"])
    printed = capsys.readouterr()

    assert str(error.value).startswith("WEBHOOK_SECRET")
    assert bad not in str(error.value) and TOKEN not in str(error.value)
    assert code == 2 and printed.err.startswith("yibao: WEBHOOK_SECRET")
    assert bad not in printed.err + printed.out and TOKEN not in printed.err + printed.out


def test_a_malformed_token_is_named_but_not_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "not-a-token-sekrit")
    monkeypatch.setenv("WEBHOOK_PORT", str(free_port()))
    code = cli.main(["webhook"])
    printed = capsys.readouterr()

    assert code == 2 and printed.err.startswith("yibao: BOT_TOKEN")
    assert "sekrit" not in printed.err + printed.out


def _clean_env(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    """No deployment settings in the environment and no .env in the working directory."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(workdir)


@pytest.mark.parametrize(
    ("name", "value"), [("payment_url", "javascript:alert(1)"), ("office_contact", "")]
)
def test_a_bad_contact_setting_stops_start_up_naming_it(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, **{name: value})
    assert name.upper() in str(error.value)
