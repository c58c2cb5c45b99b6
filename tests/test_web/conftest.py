"""The web page on a loopback port, as `yibao web` builds it, and people using it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.app import create_storage
from bot.web.app import create_web_app, open_store
from bot.web.settings import WebSettings

KEY = b"k" * 32
VOLUNTEER_TOKEN = "desk-token-0123456789"


def web_settings(**settings: Any) -> WebSettings:
    return WebSettings(_env_file=None, **settings)


@asynccontextmanager
async def serve(
    *, memory: bool = False, key: bytes = KEY, **settings: Any
) -> AsyncIterator[tuple[str, WebSettings]]:
    """The web app on a loopback port, its store opened as at start-up (memory when asked);
    yields its base URL and settings."""
    config = web_settings(**settings)
    storage = create_storage(config, memory=True) if memory else await open_store(config)
    server = TestServer(create_web_app(config, storage, key), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/")), config
    finally:
        await server.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def site(data_dir: Path) -> AsyncIterator[str]:
    """The web page on a fresh SQLite state file; yields its base URL."""
    async with serve(data_dir=data_dir) as (url, _):
        yield url
