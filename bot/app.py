"""Factories that assemble the application, so each test builds a fresh one."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage

from bot import handlers
from bot.campaign import setup_campaign
from bot.middlewares import LocaleMiddleware
from bot.retry import install_retry, register_error_handlers
from bot.settings import Settings
from bot.storage import SQLiteStorage
from bot.throttle import ThrottlingMiddleware
from rules import load_policies

SQLITE_FILE = "yibao.sqlite3"


def create_storage(settings: Settings, *, memory: bool = False) -> BaseStorage:
    """Memory for the terminal, Redis when REDIS_URL is set, else a SQLite file in DATA_DIR."""
    if memory:
        return MemoryStorage()
    if settings.redis_url:
        return RedisStorage.from_url(
            settings.redis_url.get_secret_value(), key_builder=DefaultKeyBuilder(with_destiny=True)
        )
    return SQLiteStorage(settings.data_dir / SQLITE_FILE)


def create_dispatcher(settings: Settings, storage: BaseStorage) -> Dispatcher:
    """The one Dispatcher every transport feeds."""
    isolation = (
        storage.create_isolation() if isinstance(storage, RedisStorage) else SimpleEventIsolation()
    )
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,
        policies=load_policies(settings.policy_overrides),
    )
    dispatcher.update.outer_middleware(LocaleMiddleware(settings.default_locale))
    dispatcher.update.outer_middleware(
        ThrottlingMiddleware(settings.throttle_rate, settings.throttle_burst)
    )
    dispatcher.include_routers(*handlers.routers())
    setup_campaign(dispatcher, settings, storage)
    register_error_handlers(dispatcher)
    return dispatcher


def create_bot(token: str, session: BaseSession | None = None) -> Bot:
    """A Bot on `session` (aiohttp by default) that retries Bot API faults with backoff."""
    return install_retry(Bot(token, session=session))
