"""In groups the bot says once, with a button, that it answers in private; else it is silent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramMigrateToChat
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import GetMe, SendMessage, TelegramMethod
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    Dice,
    ForumTopicCreated,
    Message,
    MessageEntity,
    Update,
    User,
)
from fakes.session import Person, RecordingSession, make_person

from bot.render import render_macro
from bot.settings import Settings

BOT_USERNAME = "yibao_test_bot"
BOT_USER = User(id=1, is_bot=True, first_name="Yibao", username=BOT_USERNAME)
GROUP = Chat(id=-1001234567890, type="supergroup", title="Village")
ADMIN = 501
# Whatever rights this aiogram's ChatMemberAdministrator requires, all off.
ADMIN_RIGHTS = {
    name: False
    for name, field in ChatMemberAdministrator.model_fields.items()
    if field.is_required() and name != "user"
}
POINTER = render_macro("messages.j2", "text", "en", "private_only")


class Session(RecordingSession):
    """RecordingSession that answers getMe, as Telegram does."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, GetMe):
            self.calls.append(method)
            return BOT_USER
        return await super().make_request(bot, method, timeout)


def person(user_id: int = 77, **settings: Any) -> Person:
    """A person in private chat with a fresh app whose session answers getMe."""
    base = make_person(Settings(_env_file=None, **settings), user_id=user_id)
    session = Session()
    return Person(base.dispatcher, Bot("1:TEST", session=session), session, user_id)


class Member:
    """The same person, speaking in a group the bot is in."""

    def __init__(self, me: Person, chat: Chat = GROUP) -> None:
        self.me, self.chat = me, chat

    async def feed(self, **update: Any) -> None:
        await self.me.dispatcher.feed_update(
            self.me.bot, Update(update_id=self.me._next(), **update)
        )

    def message(self, **content: Any) -> Message:
        return Message(
            message_id=20_000 + self.me._next(),
            date=dt.datetime.now(dt.UTC),
            chat=self.chat,
            from_user=self.me.user,
            **content,
        )

    async def send(self, **content: Any) -> None:
        await self.feed(message=self.message(**content))

    async def say(self, text: str, **content: Any) -> None:
        await self.send(text=text, **content)

    async def add_bot(self, status: str = "member") -> None:
        new = (
            ChatMemberMember(user=BOT_USER)
            if status == "member"
            else ChatMemberAdministrator(user=BOT_USER, **ADMIN_RIGHTS)
        )
        event = ChatMemberUpdated(
            chat=self.chat,
            from_user=self.me.user,
            date=dt.datetime.now(dt.UTC),
            old_chat_member=ChatMemberLeft(user=BOT_USER),
            new_chat_member=new,
        )
        await self.feed(my_chat_member=event)


def sent(me: Person, chat_id: int | None = None) -> list[SendMessage]:
    return [
        c
        for c in me.session.calls
        if isinstance(c, SendMessage) and (chat_id is None or c.chat_id == chat_id)
    ]


def check_one_pointer(me: Person, chat_id: int = GROUP.id) -> None:
    """Exactly one message in all, to the group: the pointer with its URL button."""
    messages = sent(me)
    assert len(messages) == 1, [m.text for m in messages]
    pointer = messages[0]
    assert pointer.chat_id == chat_id
    assert pointer.text == POINTER
    buttons = [b for row in pointer.reply_markup.inline_keyboard for b in row]
    assert [b.url for b in buttons] == [f"https://t.me/{BOT_USERNAME}?start"]
    assert buttons[0].callback_data is None


async def test_a_busy_group_gets_one_pointer_and_nothing_else() -> None:
    me = person(ADMIN, admin_ids=[ADMIN], volunteer_ids=[ADMIN])
    group = Member(me)
    await group.add_bot()
    await group.say("hello everyone")
    await group.send(dice=Dice(emoji="🎲", value=4))
    await group.send(
        message_thread_id=7,
        is_topic_message=True,
        forum_topic_created=ForumTopicCreated(name="Insurance", icon_color=0x6FB9F0),
    )
    await group.say("/start@SomeBot")
    await group.say("/report")
    await group.say("/stats")
    await group.say(f"/stats@{BOT_USERNAME}")
    await group.say("/volunteer")
    await group.say("/forget")
    await group.say("/start")
    await group.say(
        f"@{BOT_USERNAME} what is my waiting period?",
        entities=[MessageEntity(type="mention", offset=0, length=len(BOT_USERNAME) + 1)],
    )
    check_one_pointer(me)


async def test_start_in_a_group_points_to_the_private_chat_when_not_added_visibly() -> None:
    me = person()
    group = Member(me)
    await group.say("/start@SomeBot")
    await group.say("2020")
    assert not sent(me)
    await group.say(f"/start@{BOT_USERNAME}")
    await group.say("/start")
    check_one_pointer(me)


async def test_a_mention_gets_the_pointer_and_made_admin_later_not_again() -> None:
    me = person()
    group = Member(me)
    text = f"hi @{BOT_USERNAME.upper()}"
    await group.say(text, entities=[MessageEntity(type="mention", offset=3, length=len(text) - 3)])
    await group.add_bot("administrator")
    check_one_pointer(me)


async def test_each_group_gets_its_own_pointer() -> None:
    me = person()
    other = Chat(id=-555, type="group", title="Neighbours")
    await Member(me).add_bot("administrator")
    await Member(me, other).add_bot()
    assert [m.chat_id for m in sent(me)] == [GROUP.id, other.id]


async def test_group_members_do_not_start_surveys() -> None:
    first = person(81)
    second = Person(first.dispatcher, first.bot, first.session, 82)
    for who in (first, second):
        group = Member(who)
        await group.say("/start")
        await group.say("Xizang")
        await group.say("2020-01-01")
        await group.send(dice=Dice(emoji="🎯", value=2))
    check_one_pointer(first)
    storage = first.dispatcher.storage
    for user_id in (81, 82):
        for chat_id in (GROUP.id, user_id):
            key = StorageKey(bot_id=first.bot.id, chat_id=chat_id, user_id=user_id)
            assert await storage.get_data(key) == {}, (user_id, chat_id)


async def test_the_private_conversation_of_a_group_member_is_unaffected() -> None:
    me = person()
    group = Member(me)
    await group.add_bot()
    await me.start()
    question = me.last.text
    assert me.buttons(), "the first question, with its buttons"
    await group.say("/start")
    await group.say("Xizang")
    await group.send(dice=Dice(emoji="🎲", value=1))
    assert me.last.text == question
    assert len(sent(me, GROUP.id)) == 1
    # A press in the group (say, of an old message copied there) is answered, and that is all.
    pressed = Message(
        message_id=3, date=dt.datetime.now(dt.UTC), chat=GROUP, text="x", from_user=BOT_USER
    )
    query = CallbackQuery(
        id="q1", from_user=me.user, chat_instance="g", data="n:restart", message=pressed
    )
    before = len(sent(me))
    await group.feed(callback_query=query)
    assert len(sent(me)) == before
    # Another bot's command in private is not ours either.
    await me.say("/start@SomeBot")
    assert len(sent(me)) == before
    await me.press(me.buttons()[0])
    assert me.last.text != question, "the survey goes on in private"


async def test_a_channel_gets_nothing() -> None:
    me = person()
    channel = Chat(id=-1009999, type="channel", title="News")
    await Member(me, channel).add_bot("administrator")
    assert not sent(me)


class MigratedSession(Session):
    """The group became a supergroup: sending to its old id fails, as Telegram answers."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, SendMessage) and method.chat_id == -42:
            self.calls.append(method)
            raise TelegramMigrateToChat(method, "Bad Request: group chat was upgraded", -1004242)
        return await super().make_request(bot, method, timeout)


async def test_a_pointer_to_a_migrated_group_fails_quietly_once() -> None:
    base = person()
    session = MigratedSession()
    me = Person(base.dispatcher, Bot("1:TEST", session=session), session)
    old = Member(me, Chat(id=-42, type="group", title="Old"))
    await old.say("/start")
    await old.say("/start")
    assert len(sent(me)) == 1, "tried once, not again"
    await old.send(migrate_to_chat_id=-1004242)
    new = Member(me, Chat(id=-1004242, type="supergroup", title="Old"))
    await new.send(migrate_from_chat_id=-42)
    await new.say("/start")
    assert len(sent(me)) == 1, "the supergroup had its chance as the group"
