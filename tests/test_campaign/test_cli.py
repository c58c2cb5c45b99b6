"""`yibao stats`: the counters printed as CSV or a table from the bot's own store."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path

import pytest
from aiogram.fsm.storage.redis import RedisStorage

from bot.app import SQLITE_FILE
from bot.campaign import add_cli, create_campaign_store
from bot.storage import SQLiteStorage

DAY = dt.date(2026, 9, 1)
BOT_ID = 777001


def yibao(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="yibao")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


async def _seed(storage: SQLiteStorage | RedisStorage) -> None:
    store = create_campaign_store(storage)
    store.bind(BOT_ID)
    await store.record_answer(DAY, "tianjin", "en", ["wait_4", "answers"])
    await store.record_answer(DAY, "tianjin", "en", ["wait_4", "answers"])
    await store.record_answer(
        DAY + dt.timedelta(days=1), "xizang", "zh_Hans", ["exempt", "answers"]
    )
    await store.record_answer(DAY + dt.timedelta(days=40), "xizang", "bo", ["no_wait", "answers"])
    await store.close()
    await storage.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A deployment whose settings come from the environment only, data in tmp_path."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("REDIS_URL", "DEFAULT_LOCALE", "ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("BOT_TOKEN", f"{BOT_ID}:AAEexampleexampleexampleexample-1234")
    return data


CSV = (
    "day,region,locale,outcome,count\n"
    "2026-09-01,tianjin,en,answers,2\n"
    "2026-09-01,tianjin,en,wait_4,2\n"
    "2026-09-02,xizang,zh_Hans,answers,1\n"
    "2026-09-02,xizang,zh_Hans,exempt,1\n"
)


def test_stats_prints_csv_from_the_sqlite_file(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(SQLiteStorage(env / SQLITE_FILE)))
    assert yibao("stats", "--since", "2026-09-01", "--until", "2026-09-30", "--format", "csv") == 0
    assert capsys.readouterr().out == CSV


def test_stats_prints_an_aligned_table(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_seed(SQLiteStorage(env / SQLITE_FILE)))
    assert (
        yibao("stats", "--since", "2026-10-11", "--until", "2026-10-11", "--format", "table") == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "day         region  locale  outcome  count",
        "2026-10-11  xizang  bo      answers      1",
        "2026-10-11  xizang  bo      no_wait      1",
    ]


def test_stats_reads_redis_when_redis_url_is_set(
    env: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed() -> None:
        storage = RedisStorage.from_url(redis_url)
        await storage.redis.flushdb()
        await _seed(storage)

    asyncio.run(seed())
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert yibao("stats", "--since", "2026-09-01", "--until", "2026-09-30") == 0
    assert capsys.readouterr().out == CSV
    assert not env.exists()  # nothing was read from (or made in) DATA_DIR


def test_a_bad_setting_exits_2_naming_it(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEFAULT_LOCALE", "klingon")
    assert yibao("stats", "--since", "2026-09-01") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("yibao stats: DEFAULT_LOCALE: ")


def test_an_unreachable_redis_exits_2_naming_redis_url(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert yibao("stats", "--since", "2026-09-01") == 2
    assert capsys.readouterr().err.startswith("yibao stats: REDIS_URL: ")


def test_another_bots_counters_are_not_shown(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A staging bot beside the real one on the same store: its stats are its own.
    asyncio.run(_seed(SQLiteStorage(env / SQLITE_FILE)))
    monkeypatch.setenv("BOT_TOKEN", "777002:AAEexampleexampleexampleexample-1234")
    assert yibao("stats", "--since", "2026-09-01", "--until", "2026-09-30") == 0
    assert capsys.readouterr().out == "day,region,locale,outcome,count\n"


def test_without_a_token_stats_exit_2_naming_bot_token(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_TOKEN")
    assert yibao("stats", "--since", "2026-09-01") == 2
    assert capsys.readouterr().err.startswith("yibao stats: BOT_TOKEN is not set")


def test_until_before_since_is_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert yibao("stats", "--since", "2026-09-02", "--until", "2026-09-01") == 2
    assert "--until" in capsys.readouterr().err


def test_a_malformed_date_is_an_argparse_error(env: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        yibao("stats", "--since", "1 September")
    assert exit_.value.code == 2
