"""A store that cannot answer: the claim (with or without a conversation) says so as
StoreUnavailable, which the webhook answers with 500 so that Telegram brings the update back."""

from __future__ import annotations

import socket

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from bot.storage.conversations import StoreUnavailable, create_conversations


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_redis_makes_every_claim_unavailable() -> None:
    storage = RedisStorage.from_url(f"redis://127.0.0.1:{_closed_port()}/0")
    conversations = create_conversations(storage)
    try:
        # An update with no conversation (a group's, a member change) ...
        with pytest.raises(StoreUnavailable):
            await conversations.claim(42, 1)
        # ... and a person's message or press.
        key = StorageKey(bot_id=42, chat_id=7, user_id=7)
        with pytest.raises(StoreUnavailable):
            async with conversations.hold(42, 2, key):
                pass
    finally:
        await storage.close()
