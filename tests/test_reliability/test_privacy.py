"""Nothing the project writes names a person: a whole survey with a distinctive name, a phone
number and an ID-card number typed where a year was asked, then every byte searched.

Searched: the log (every logger, DEBUG and up), the state file with its -wal and -shm files
(SQLite) or every key and value (Redis), the messages sent (answer, answer card), the
campaign figures as `yibao stats` prints them, and a village ledger run through `yibao batch`.
After /forget the Telegram user id is searched for too.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen
from fakes.deployment import SECRET, webhook

from bot.campaign.cli import write_rows
from bot.campaign.store import create_campaign_store
from bot.cli import main as yibao
from bot.storage.sqlite import SQLiteStorage

USER = 8_642_097_531
NAME, SURNAME, HANDLE = "Dawazhuoma", "Tserinqunpei", "dawa_zhuoma_1987"
PHONE, ID_CARD = "13987654321", "54010219870315002X"
SECRETS = (NAME, SURNAME, HANDLE, PHONE, ID_CARD)


def found_in(blob: bytes, needles: tuple[str, ...]) -> list[str]:
    """Which needles occur in `blob`, as UTF-8 text or (digits) spelled with separators."""
    return [needle for needle in needles if needle.encode() in blob]


def redis_bytes(url: str) -> bytes:
    """Every key and every value in the database, as one blob."""
    parts: list[bytes] = []
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(count=1000):
            parts.append(key)
            kind = client.type(key)
            if kind == b"string":
                parts.append(client.get(key) or b"")
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    parts += [field, value]
            elif kind == b"zset":
                parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == b"set":
                parts += list(client.smembers(key))
            else:
                parts.append(client.dump(key) or b"")
    return b"\n".join(parts)


def stored_bytes(store: dict[str, Any]) -> bytes:
    if "redis_url" in store:
        return redis_bytes(store["redis_url"])
    folder: Path = store["data_dir"]
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


async def stats_export(store: dict[str, Any]) -> bytes:
    """The campaign figures as `yibao stats` writes them (CSV)."""
    from bot.app import create_storage
    from bot.settings import Settings

    storage = create_storage(Settings(_env_file=None, **store))
    campaign = create_campaign_store(storage)
    campaign.bind(42)
    today = dt.date.today()
    out = io.StringIO()
    write_rows(await campaign.counts(today, today), out, "csv")
    await campaign.close()
    await storage.close()
    return out.getvalue().encode()


async def test_no_byte_written_names_the_person(
    fake: FakeBotAPI,
    client: aiohttp.ClientSession,
    store: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with webhook(fake, **store) as url:
        person = HttpCitizen(fake, client, [url], SECRET, user_id=USER)
        person.user.update(first_name=NAME, last_name=SURNAME, username=HANDLE)
        await person.start()
        await person.press("Tianjin")
        # Typed where the benefit year is asked: refused, and not kept.
        for typed in (PHONE, f"My name is {NAME}, ID {ID_CARD}", "139 8765 4321"):
            assert "For which year" in await person.say(typed) or "year" in person.last_text
        await person.say(str(dt.date.today().year + 1))
        await person.press("None")
        await person.press("None of these")
        await person.press("Done")
        if "paid late" in person.last_text:
            await person.press("No, on time")
        await person.press("Within the payment period")
        while "Your answers" not in person.last_text:
            await person.press("Done" if "pay nothing" in person.last_text else "None")
        await person.press("Show my result")
        await person.press("Remind me when my waiting period ends")
        await person.press("Answer card with check code")
        sent = "\n".join(str(call.params) for call in fake.calls).encode()

        written = stored_bytes(store)
        assert found_in(written, SECRETS) == []
        assert found_in(sent, SECRETS) == []
        assert found_in(await stats_export(store), (*SECRETS, str(USER))) == []

        await person.say("/forget")
        if "data_dir" in store:  # the running bot's connections have emptied the log
            assert found_in(stored_bytes(store), (str(USER),)) == []
    after = stored_bytes(store)
    assert found_in(after, (*SECRETS, str(USER))) == []
    log = "\n".join(record.getMessage() for record in caplog.records).encode()
    assert found_in(log, (*SECRETS, str(USER))) == []


def test_a_ledger_with_names_phones_and_ids_writes_none_of_them(tmp_path: Path) -> None:
    ledger = tmp_path / "village.csv"
    ledger.write_text(
        "id,name,phone,region,benefit_year,coverage\n"
        f"{ID_CARD},{NAME} {SURNAME},{PHONE},tianjin,2027,2025:none;2026:resident\n"
        f"{NAME} {PHONE},x,y,{PHONE},2027,\n",
        encoding="utf-8",
    )
    for suffix in ("csv", "xlsx"):
        result = tmp_path / f"result.{suffix}"
        yibao(["batch", str(ledger), "-o", str(result)])
        assert result.exists()
        raw = result.read_bytes()
        if suffix == "xlsx":
            import zipfile

            with zipfile.ZipFile(result) as book:
                raw = b"".join(book.read(name) for name in book.namelist())
        assert found_in(raw, SECRETS) == []


def test_the_state_file_left_after_forget_holds_no_user_id_even_unopened(tmp_path: Path) -> None:
    """The bytes on disk after the process ends (a backup would copy them)."""
    import asyncio

    from aiogram.fsm.storage.base import StorageKey

    async def run() -> None:
        storage = SQLiteStorage(tmp_path / "yibao.sqlite3")
        key = StorageKey(bot_id=42, chat_id=USER, user_id=USER)
        await storage.set_data(key, {"answers": {"region": "tianjin"}})
        await storage.forget_user(USER)
        await storage.close()

    asyncio.run(run())
    assert found_in(stored_bytes({"data_dir": tmp_path}), (str(USER),)) == []
