"""Telegram adapters only: the conversation (the core's adapter) and chats outside it."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    """Fresh routers (a Router can belong to one Dispatcher only)."""
    from bot.handlers import chats, conversation

    # chats last: it takes what the conversation, private chats only, leaves.
    return [conversation.create_router(), chats.create_router()]
