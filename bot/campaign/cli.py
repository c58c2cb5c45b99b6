"""`yibao stats`: the anonymous counters as CSV or a table, read from the bot's store."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import sqlite3
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.campaign.store import Row
    from bot.cli import Commands

# The store (and so aiogram and redis) is imported by the command when it runs, not when
# `yibao` registers it.

HEADER = ("day", "region", "locale", "outcome", "count")


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-09-01") from None


def add_cli(subparsers: Commands) -> None:
    """Add `stats` to the `yibao` command's subparsers."""
    parser = subparsers.add_parser("stats", help="print the anonymous campaign statistics")
    parser.add_argument(
        "--since", type=_day, help="first day, YYYY-MM-DD (default: the campaign's September 1)"
    )
    parser.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument("--format", choices=("csv", "table"), default="csv")
    parser.set_defaults(handler=run_stats)


async def read_rows(since: dt.date, until: dt.date) -> list[Row]:
    """The counters from the store the settings point at."""
    from bot.app import create_storage
    from bot.campaign.store import create_campaign_store
    from bot.settings import load_settings

    settings = load_settings()
    bot_id = settings.require_bot_id()
    storage = create_storage(settings)
    store = create_campaign_store(storage)
    # The counters are filed by bot: the token says whose (bot/storage/migrate.py).
    store.bind(bot_id)
    try:
        return await store.counts(since, until)
    finally:
        await store.close()
        await storage.close()


def write_rows(rows: list[Row], output: TextIO, form: str) -> None:
    """CSV with a header, or a table aligned for reading."""
    lines = [HEADER, *((r.day.isoformat(), *r[1:4], str(r.count)) for r in rows)]
    if form == "csv":
        csv.writer(output, lineterminator="\n").writerows(lines)
        return
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        output.write("  ".join([*cells, line[-1].rjust(widths[-1])]) + "\n")


def run_stats(args: argparse.Namespace) -> int:
    """Print the counters; a bad setting or an unreachable store is one line and exit 2."""
    from redis.exceptions import RedisError

    from bot.campaign.stats import campaign_start
    from bot.settings import SettingsError

    today = dt.date.today()
    since = args.since or campaign_start(today)
    until = args.until or today
    if until < since:
        print("yibao stats: --until is before --since", file=sys.stderr)
        return 2
    try:
        rows = asyncio.run(read_rows(since, until))
    except SettingsError as error:
        print(f"yibao stats: {error}", file=sys.stderr)
        return 2
    except RedisError as error:
        print(f"yibao stats: REDIS_URL: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    except (sqlite3.Error, OSError) as error:
        print(f"yibao stats: DATA_DIR: {error}", file=sys.stderr)
        return 2
    write_rows(rows, sys.stdout, args.format)
    return 0
