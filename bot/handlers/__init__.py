"""Routers of the bot, one module each."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    """Fresh routers (a Router can belong to one Dispatcher only)."""
    from bot.handlers import chats, commands, survey

    # chats last: it takes what the others, private chats only, leave.
    return [commands.create_router(), survey.create_router(), chats.create_router()]
