"""The campaign's Telegram handler: /stats for admins (the reminder opt-ins are the
conversation's: bot/conversation/core.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.campaign.reminders import TEMPLATE
from bot.campaign.stats import campaign_start, summarise
from bot.campaign.store import CampaignStore
from bot.handlers.chats import PrivateChat
from bot.render import environment, render_macro
from bot.settings import Settings

log = logging.getLogger("yibao.campaign")


def render_block(locale: str, macro: str, *args: Any) -> str:
    """Call a macro of campaign.j2 keeping its line breaks (render_macro folds them)."""
    module = environment(locale).get_template(TEMPLATE).module
    return str(getattr(module, macro)(*args)).strip()


async def stats_text(store: CampaignStore, today: dt.date, locale: str) -> str:
    """Today's figures and the campaign's so far, as an admin reads them."""
    since = campaign_start(today)
    rows = await store.counts(since, today)
    daily = summarise(row for row in rows if row.day == today)
    return render_block(locale, "stats", today, daily, since, summarise(rows))


def create_router(settings: Settings) -> Router:
    """/stats (ADMIN_IDS only); include it before the conversation's catch-all router."""
    router = Router(name="campaign")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    admins = frozenset(settings.admin_ids)

    @router.message(Command("stats"))
    async def on_stats(message: Message, campaign: CampaignStore, locale: str) -> None:
        if message.from_user is None or message.from_user.id not in admins:
            await message.answer(render_macro(TEMPLATE, "text", locale, "unknown_command"))
            return
        await message.answer(await stats_text(campaign, dt.date.today(), locale))

    return router
