"""Factories that assemble the application, so each test builds a fresh one."""

from __future__ import annotations

import datetime as dt
import sqlite3

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import RedisError

from bot import handlers
from bot.campaign import setup_campaign
from bot.retry import install_retry, register_error_handlers
from bot.settings import Settings, SettingsError
from bot.storage import SQLiteStorage
from bot.storage.conversations import create_conversations
from bot.storage.health import StateFileError, open_store, probe_store, verify_store
from bot.throttle import ThrottlingMiddleware
from bot.updates import ConversationMiddleware, Dispatcher
from rules import load_policies

SQLITE_FILE = "yibao.sqlite3"


def create_storage(settings: Settings, *, memory: bool = False) -> BaseStorage:
    """Memory for the terminal, Redis when REDIS_URL is set, else a SQLite file in DATA_DIR."""
    if memory:
        return MemoryStorage()
    if settings.redis_url:
        return RedisStorage.from_url(
            settings.redis_url.get_secret_value(),
            # Keys name the bot, so a staging bot can share the database (bot/storage/migrate.py).
            key_builder=DefaultKeyBuilder(with_bot_id=True, with_destiny=True),
            # Every write renews the key's expiry: a conversation untouched this long is gone.
            state_ttl=dt.timedelta(days=settings.state_ttl_days),
            data_ttl=dt.timedelta(days=settings.state_ttl_days),
        )
    return SQLiteStorage(settings.data_dir / SQLITE_FILE, ttl_days=settings.state_ttl_days)


async def start_store(settings: Settings, bot_id: int | None) -> BaseStorage:
    """The store the settings name, checked, and adopted for `bot_id` (open_store); None (the
    web page) checks it without adopting: what was kept before keys named a bot is Telegram's.

    A damaged state file or an unreachable Redis stops start-up: SettingsError naming the
    setting; the file is left untouched.
    """
    storage = create_storage(settings)
    try:
        if bot_id is None:
            verify_store(storage)
            reason = await probe_store(storage)
        else:
            await open_store(storage, bot_id)
            reason = None
    except StateFileError as error:
        await storage.close()
        raise SettingsError(
            f"DATA_DIR: {error}; it was left untouched: restore it from a backup, or move it "
            "away to start with no saved conversations"
        ) from None
    except sqlite3.Error as error:
        await storage.close()
        raise SettingsError(f"DATA_DIR: the state file cannot be used ({error})") from None
    except (RedisError, OSError) as error:
        await storage.close()
        raise SettingsError(f"REDIS_URL: Redis cannot be used ({type(error).__name__})") from None
    if reason is not None:
        await storage.close()
        name = "REDIS_URL" if settings.redis_url else "DATA_DIR"
        raise SettingsError(f"{name}: the store cannot be used ({reason})")
    return storage


def create_dispatcher(settings: Settings, storage: BaseStorage) -> Dispatcher:
    """The one Dispatcher every Telegram transport feeds.

    aiogram's FSM is off: ConversationMiddleware claims each update and holds a person's
    conversation (isolated, read once) and the handler writes it once; aiogram's would read
    the state on every update and lock in a further round trip. `storage` is still closed by
    the Dispatcher at shutdown.
    """
    dispatcher = Dispatcher(
        storage=storage,
        disable_fsm=True,
        settings=settings,
        policies=load_policies(settings.policy_overrides),
    )
    conversations = ConversationMiddleware(create_conversations(storage), settings.default_locale)
    dispatcher.update.outer_middleware(conversations)
    # After the conversation's middleware: the warning is in the person's language.
    dispatcher.update.outer_middleware(
        ThrottlingMiddleware(settings.throttle_rate, settings.throttle_burst)
    )
    setup_campaign(dispatcher, settings, storage)  # its router first
    dispatcher.include_routers(*handlers.routers())
    register_error_handlers(dispatcher)
    return dispatcher


def create_bot(token: str, session: BaseSession | None = None) -> Bot:
    """A Bot on `session` (aiohttp by default) that retries Bot API faults with backoff."""
    return install_retry(Bot(token, session=session))
