"""Commands: /start, /restart, /help, /about, /language, /forget."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.campaign import CampaignStore
from bot.cards import explain_text, unverifiable_text
from bot.checkcode import InvalidCode, UnverifiableCode, keyring
from bot.handlers.chats import PrivateChat
from bot.handlers.survey import context, reask, show_current, start_survey
from bot.i18n import available
from bot.keyboards import Lang
from bot.render import render, render_macro
from bot.settings import Settings
from bot.storage import forget_user
from bot.survey import parse_deep_link
from rules import PolicySet


def create_router() -> Router:
    router = Router(name="commands")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())

    @router.message(CommandStart())
    @router.message(Command("restart"))
    async def on_start(
        message: Message,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        command: CommandObject | None = None,
        settings: Settings | None = None,
    ) -> None:
        link = parse_deep_link(command.args if command else None, available())
        if link is not None:
            # A poster's link (`/start xizang-bo`) settles the region and the language.
            region, chosen = link
            if chosen:
                await state.update_data(locale=chosen, await_language=False)
            locale = chosen or locale
            ctx = context(policies, settings)
            # One line confirms what the link chose, with a way to change either.
            await message.answer(
                render_macro("messages.j2", "linked", locale, region, locale),
                reply_markup=keyboards.linked(locale),
            )
            await start_survey(message, state, ctx, locale, keep={"region": region}, linked=True)
            return
        if await state.get_value("locale") is None and len(available()) > 1:
            # First contact: the language is asked once, the client's own pre-selected.
            await state.set_data({"await_language": True})
            await message.answer(
                render_macro("messages.j2", "text", locale, "welcome"),
                reply_markup=keyboards.languages(preselected=locale),
            )
            return
        await start_survey(message, state, context(policies, settings), locale)

    @router.message(Command("help"))
    async def on_help(message: Message, locale: str) -> None:
        await message.answer(render("help.j2", locale))

    @router.message(Command("about"))
    async def on_about(message: Message, policies: PolicySet, locale: str) -> None:
        await message.answer(
            render("about.j2", locale, policies=list(policies.values()), version=policies.version)
        )

    @router.message(Command("language"))
    async def on_language(message: Message, locale: str) -> None:
        await message.answer(
            render_macro("messages.j2", "text", locale, "choose_language"),
            reply_markup=keyboards.languages(preselected=locale),
        )

    @router.callback_query(Lang.filter())
    async def on_language_chosen(
        query: CallbackQuery,
        callback_data: Lang,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        await query.answer()
        ctx = context(policies, settings)
        if callback_data.v not in available():
            await reask(query.message, state, ctx, locale, "stale_button")
            return
        locale = callback_data.v
        await state.update_data(locale=locale)
        if await state.get_value("await_language"):
            await state.update_data(await_language=False)
            await start_survey(query.message, state, ctx, locale)
        elif not await show_current(query.message, state, ctx, locale):
            await query.message.answer(render_macro("messages.j2", "text", locale, "no_survey"))

    @router.message(Command("volunteer"))
    async def on_volunteer(
        message: Message, state: FSMContext, settings: Settings, policies: PolicySet, locale: str
    ) -> None:
        if message.from_user.id not in settings.volunteer_ids:
            await message.answer(render_macro("messages.j2", "text", locale, "volunteers_only"))
            return
        await state.update_data(volunteer=True)
        await message.answer(render_macro("messages.j2", "text", locale, "volunteer_on"))
        await start_survey(message, state, context(policies, settings), locale)

    @router.message(Command("explain"))
    async def on_explain(
        message: Message,
        command: CommandObject,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        try:
            text = explain_text(command.args or "", policies, locale, keyring(settings))
        except UnverifiableCode:
            text = unverifiable_text(locale)
        except InvalidCode:
            text = render_macro("messages.j2", "text", locale, "bad_code")
        await message.answer(text)

    @router.message(Command("forget"))
    async def on_forget(
        message: Message,
        state: FSMContext,
        fsm_storage: BaseStorage,
        campaign: CampaignStore,
        locale: str,
    ) -> None:
        await state.clear()
        await forget_user(fsm_storage, message.from_user.id)
        await campaign.forget(message.from_user.id)  # reminders are the only other record
        await message.answer(render_macro("messages.j2", "text", locale, "forgotten"))

    return router
