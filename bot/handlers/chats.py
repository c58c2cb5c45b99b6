"""Where the bot talks: private chats only. Groups get one pointer to the private chat.

Every other router takes `PrivateChat()` as its router-level filter; this router, included
last, receives what they leave: updates from groups, supergroups and channels, messages sent
on behalf of a chat, service messages in private chats (a pin, an auto-delete timer), commands
addressed to another bot, button presses without a message (inline mode), and the bot's own
membership changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from aiogram import Bot, Router
from aiogram.enums import ChatType, ContentType, MessageEntityType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import JOIN_TRANSITION, KICKED, ChatMemberUpdatedFilter, Filter
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.campaign import CampaignStore
from bot.render import render_macro
from bot.storage.migrate import bot_keys

log = logging.getLogger("yibao.chats")

GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
POINTED = "pointed"  # in the group chat's own FSM record: the pointer was sent (or tried)
# What a person sends. Any other message in a private chat is a service message that nobody
# wrote to the bot (a pin, an auto-delete timer, a Mini App's write access, a gift, a content
# kind newer than this aiogram): answering it "I can only read text" would answer nothing.
SENT_BY_PEOPLE = frozenset(
    {
        ContentType.TEXT,
        ContentType.ANIMATION,
        ContentType.AUDIO,
        ContentType.CHECKLIST,
        ContentType.CONTACT,
        ContentType.DICE,
        ContentType.DOCUMENT,
        ContentType.GAME,
        ContentType.GIVEAWAY,
        ContentType.GIVEAWAY_WINNERS,
        ContentType.INVOICE,
        ContentType.LIVE_PHOTO,
        ContentType.LOCATION,
        ContentType.PAID_MEDIA,
        ContentType.PHOTO,
        ContentType.POLL,
        ContentType.STICKER,
        ContentType.STORY,
        ContentType.VENUE,
        ContentType.VIDEO,
        ContentType.VIDEO_NOTE,
        ContentType.VOICE,
    }
)


async def addressed_elsewhere(message: Message, bot: Bot) -> bool:
    """A command with another bot's @username (`/start@SomeBot`): not for this bot."""
    text = message.text or ""
    if not text.startswith("/"):
        return False
    _, at, mention = text.split(maxsplit=1)[0].partition("@")
    if not at:
        return False
    username = (await bot.me()).username or ""
    return mention.lower() != username.lower()


class PrivateChat(Filter):
    """A person's update from their private chat with the bot, and meant for this bot.

    A press needs its message (inline-mode presses have none) in a private chat; a message
    needs a sender (not a chat speaking for itself), must be something a person sends (not a
    service message) and must not be another bot's command.
    """

    async def __call__(self, event: Message | CallbackQuery, bot: Bot) -> bool:
        if isinstance(event, CallbackQuery):
            return event.message is not None and event.message.chat.type == ChatType.PRIVATE
        if event.chat.type != ChatType.PRIVATE or event.from_user is None:
            return False
        if event.content_type not in SENT_BY_PEOPLE:
            return False
        return not await addressed_elsewhere(event, bot)


async def _asks_for_us(message: Message, bot: Bot) -> bool:
    """/start (not another bot's) or a mention of this bot, in a group."""
    text = message.text or message.caption or ""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    if first.partition("@")[0].lower() == "/start":
        return not await addressed_elsewhere(message, bot)
    entities = message.entities or message.caption_entities or []
    if not entities:
        return False
    me = await bot.me()
    for entity in entities:
        if entity.type == MessageEntityType.TEXT_MENTION and entity.user is not None:
            if entity.user.id == me.id:
                return True
        elif (
            entity.type == MessageEntityType.MENTION
            and me.username
            and entity.extract_from(text).lower() == f"@{me.username.lower()}"
        ):
            return True
    return False


def _key(bot: Bot, chat_id: int) -> StorageKey:
    # No person has a chat's id as user id, so the record is the group's alone.
    return StorageKey(bot_id=bot.id, chat_id=chat_id, user_id=chat_id)


class PointerMarks:
    """Whether a group has had its pointer, claimed atomically so that it is sent once.

    On Redis, where several workers serve one bot, a SET NX key `yibao:<bot_id>:pointed:<chat>`
    decides (expiring with the conversations); elsewhere one process owns the store, and a lock
    around the group's own FSM record does.
    """

    def __init__(self) -> None:
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    @staticmethod
    def _redis_key(bot: Bot, chat_id: int) -> str:
        return f"{bot_keys(bot.id)}pointed:{chat_id}"

    async def claim(self, bot: Bot, storage: BaseStorage, chat_id: int) -> bool:
        """True for the first claim of the group's pointer, False ever after."""
        if isinstance(storage, RedisStorage):
            ttl = storage.data_ttl
            return bool(await storage.redis.set(self._redis_key(bot, chat_id), 1, nx=True, ex=ttl))
        async with self.locks[chat_id]:
            key = _key(bot, chat_id)
            if (await storage.get_data(key)).get(POINTED):
                return False
            await storage.update_data(key, {POINTED: True})
        self.locks.pop(chat_id, None)
        return True

    async def carry(self, bot: Bot, storage: BaseStorage, old: int, new: int) -> None:
        """A group migrated to a supergroup: the new id keeps the old one's mark."""
        if isinstance(storage, RedisStorage):
            if await storage.redis.exists(self._redis_key(bot, old)):
                await self.claim(bot, storage, new)
        elif (await storage.get_data(_key(bot, old))).get(POINTED):
            await storage.update_data(_key(bot, new), {POINTED: True})


def create_router() -> Router:
    """The router for everything outside private chats; include it after all the others."""
    router = Router(name="chats")
    marks = PointerMarks()

    async def point_to_private(bot: Bot, storage: BaseStorage, chat_id: int, locale: str) -> None:
        """Say once per group where the bot answers, with a button to its private chat."""
        # Marked before sending: a failed pointer is not tried again either.
        if not await marks.claim(bot, storage, chat_id):
            return
        username = (await bot.me()).username
        markup = None
        if username:
            button = InlineKeyboardButton(
                text=render_macro("messages.j2", "button", locale, "open_private"),
                url=f"https://t.me/{username}?start",
            )
            markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
        text = render_macro("messages.j2", "text", locale, "private_only")
        try:
            await bot.send_message(chat_id, text, reply_markup=markup)
        except TelegramAPIError as error:
            # TelegramMigrateToChat (the group became a supergroup), removed, muted: a courtesy
            # that failed must not fail the update, and is not sent anywhere else.
            log.info("group pointer not sent (%s)", type(error).__name__)

    @router.my_chat_member(ChatMemberUpdatedFilter(KICKED))
    async def on_blocked(event: ChatMemberUpdated, campaign: CampaignStore) -> None:
        """A person blocked the bot: their reminders could not reach them, so they go now."""
        if event.chat.type == ChatType.PRIVATE:
            await campaign.forget(event.chat.id)

    @router.my_chat_member(ChatMemberUpdatedFilter(JOIN_TRANSITION))
    async def on_added(
        event: ChatMemberUpdated, bot: Bot, fsm_storage: BaseStorage, locale: str
    ) -> None:
        """Added to a group: the natural moment for the pointer (channels get nothing)."""
        if event.chat.type in GROUPS:
            await point_to_private(bot, fsm_storage, event.chat.id, locale)

    @router.callback_query()
    async def on_press_elsewhere(query: CallbackQuery) -> None:
        """A press in a group or from an inline message: stop the client's spinner, no more."""
        await query.answer()

    @router.message()
    async def on_message_elsewhere(
        message: Message, bot: Bot, fsm_storage: BaseStorage, locale: str
    ) -> None:
        """Silence, except the one pointer for /start or a mention of the bot in a group."""
        if message.chat.type not in GROUPS:
            return  # another bot's command or a service message in private, a channel
        if message.migrate_to_chat_id:
            # The group became a supergroup with a new id: it has had its pointer (or its
            # chance at one), and the old id can no longer be written to.
            await marks.carry(bot, fsm_storage, message.chat.id, message.migrate_to_chat_id)
            return
        if message.from_user is None or message.sender_chat is not None:
            # A chat speaking for itself: an anonymous admin (from is @GroupAnonymousBot), a
            # member posting as their channel (@Channel_Bot), a linked channel's post forwarded
            # automatically (777000). Telegram fills `from` with such a stand-in for them.
            return
        if await _asks_for_us(message, bot):
            await point_to_private(bot, fsm_storage, message.chat.id, locale)

    return router
