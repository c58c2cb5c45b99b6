"""The conversation on Telegram: an adapter between aiogram and the core (bot/conversation).

For a person's message or press in their private chat, the conversation was claimed, locked
and read once before the handler runs (bot/updates.py ConversationMiddleware). The handler
turns the update into an event, calls `step`, saves the new state once, carries out the
effects, and sends the screens. The state is saved before anything is sent: if a send fails
or the process dies, the person's next message finds them at the question they were shown.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, Message

from bot.campaign import CampaignStore, outcome_kinds
from bot.checkcode import keyring
from bot.conversation import (
    AddReminder,
    Command,
    CountAnswer,
    Event,
    Forget,
    Other,
    Press,
    Screen,
    Text,
    Turn,
    step,
)
from bot.handlers.chats import PrivateChat
from bot.keyboards import markup
from bot.settings import Settings
from bot.storage import forget_user
from bot.storage.conversations import Held
from bot.survey import Context
from rules import PolicySet

log = logging.getLogger("yibao.conversation")


context = Context.now  # today's context for one update


def event_of(message: Message) -> Event:
    """A message as the core's event: a command (`/start xizang-bo`), a text, or other."""
    text = message.text
    if text is None:
        return Other()
    if text.startswith("/"):
        head, _, args = text.partition(" ")
        return Command(head[1:].partition("@")[0], args.strip())
    return Text(text)


class Adapter:
    """Runs one event of one person through the core and shows the outcome on Telegram."""

    def __init__(self, bot: Bot, chat_id: int, user_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.user_id = user_id

    async def run(
        self,
        event: Event,
        held: Held,
        data: dict[str, Any],
        pressed: Message | None = None,
    ) -> None:
        """Step, save once, carry out the effects, send the screens; `pressed`: the message
        whose button was pressed, when it can still be edited."""
        policies: PolicySet = data["policies"]
        settings: Settings | None = data.get("settings")
        turn = Turn(
            ctx=context(policies, settings),
            person=str(self.chat_id),
            client_locale=data["client_locale"],  # ConversationMiddleware's
            volunteer_allowed=settings is not None and self.user_id in settings.volunteer_ids,
            card_keys=keyring(settings),
        )
        outcome = step(held.state, event, turn)
        await held.save(outcome.state)
        for effect in outcome.effects:
            await self.carry_out(effect, turn, data)
        for screen in outcome.screens:
            await self.show(screen, pressed)

    async def carry_out(self, effect: Any, turn: Turn, data: dict[str, Any]) -> None:
        campaign: CampaignStore = data["campaign"]
        match effect:
            case CountAnswer():
                # A person counts once a day however often they change answers and look again.
                kinds = outcome_kinds(effect.assessment)
                await campaign.count_answer(
                    effect.person, turn.ctx.today, effect.region, effect.locale, kinds
                )
            case AddReminder():
                await campaign.add_reminder(
                    self.user_id,
                    self.chat_id,
                    effect.kind,  # type: ignore[arg-type]
                    effect.due,
                    effect.locale,
                    effect.payload,
                )
                log.info("reminder added: %s", effect.kind)
            case Forget():
                storage: BaseStorage = data["fsm_storage"]
                await forget_user(storage, self.user_id)  # every bot's record of them
                await campaign.forget(self.user_id)  # reminders are the only other record

    async def show(self, screen: Screen, pressed: Message | None) -> None:
        keyboard = markup(screen.buttons)
        if screen.replace and pressed is not None:
            try:
                await pressed.edit_reply_markup(reply_markup=keyboard)
                return
            except TelegramBadRequest as error:
                if "message is not modified" in error.message:
                    return  # an older copy of the question already shows these marks
                # Deleted, too old to edit, or otherwise not editable: the marks (saved)
                # come in a new copy of the question instead, once.
                log.info("question not edited (%s): sent again", type(error).__name__)
        await self.bot.send_message(self.chat_id, screen.text, reply_markup=keyboard)


def create_router() -> Router:
    """The conversation's router: every message and press of a person in a private chat."""
    router = Router(name="conversation")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())

    @router.callback_query()
    async def on_press(query: CallbackQuery, bot: Bot, conversation: Held, **data: Any) -> None:
        await query.answer()
        message = query.message
        assert message is not None  # PrivateChat: a press in a private chat has its message
        pressed = message if isinstance(message, Message) else None
        adapter = Adapter(bot, message.chat.id, query.from_user.id)
        event = Press(query.data or "", detached=pressed is None)
        await adapter.run(event, conversation, data, pressed)

    @router.message()
    async def on_message(message: Message, bot: Bot, conversation: Held, **data: Any) -> None:
        user_id = message.from_user.id if message.from_user else message.chat.id
        adapter = Adapter(bot, message.chat.id, user_id)
        await adapter.run(event_of(message), conversation, data)

    return router
