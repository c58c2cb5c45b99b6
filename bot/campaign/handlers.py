"""The campaign's handlers: /stats for admins, and the reminder opt-in buttons."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from pydantic import ValidationError

from bot.campaign.reminders import (
    TEMPLATE,
    Remind,
    reminder_due,
    reminder_options,
    reminder_payload,
)
from bot.campaign.stats import campaign_start, summarise
from bot.campaign.store import CampaignStore
from bot.handlers.chats import PrivateChat
from bot.render import environment, render_macro
from bot.settings import Settings
from bot.survey import Context, evaluate
from rules import Assessment, PolicySet

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


def _assessment(data: dict[str, Any], today: dt.date, policies: PolicySet) -> Assessment | None:
    """The person's current answer, or None when their answers no longer give one."""
    answers = data.get("answers")
    if not answers:
        return None
    try:
        return evaluate(answers, Context(today=today, policies=policies))
    except (ValidationError, KeyError, ValueError, TypeError):
        return None


def create_router(settings: Settings) -> Router:
    """/stats (ADMIN_IDS only) and the Remind buttons; include it before catch-all routers."""
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

    @router.callback_query(Remind.filter())
    async def on_remind(
        query: CallbackQuery,
        callback_data: Remind,
        bot: Bot,
        state: FSMContext,
        campaign: CampaignStore,
        policies: PolicySet,
        locale: str,
    ) -> None:
        await query.answer()
        user_id = query.from_user.id
        chat_id = query.message.chat.id if query.message else user_id
        today = dt.date.today()
        kind = callback_data.kind
        assessment = _assessment(await state.get_data(), today, policies)
        if assessment is None or kind not in reminder_options(assessment, today, policies):
            await bot.send_message(
                chat_id, render_macro(TEMPLATE, "text", locale, "reminder_unavailable")
            )
            return
        due = reminder_due(kind, assessment, today, policies)
        payload = reminder_payload(kind, assessment, policies)
        await campaign.add_reminder(user_id, chat_id, kind, due, locale, payload)
        log.info("reminder added: %s", kind)
        await bot.send_message(
            chat_id, render_macro(TEMPLATE, "reminder_set", locale, kind, due, payload)
        )

    return router
