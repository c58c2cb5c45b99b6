"""Updates aiogram accepts whose shape the handlers do not expect: no error, no reply."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberUpdated,
    Message,
    Update,
    User,
)
from fakes.session import Person, make_person

from bot.campaign.store import CHINA
from bot.keyboards import Nav

BOT_USER = User(id=1, is_bot=True, first_name="Yibao", username="yibao_test_bot")
FAR_FUTURE = dt.datetime(2100, 1, 1, tzinfo=CHINA)


async def feed(me: Person, **update: Any) -> None:
    await me.dispatcher.feed_update(me.bot, Update(update_id=me._next(), **update))


def sent(me: Person) -> list[SendMessage]:
    return [c for c in me.session.calls if isinstance(c, SendMessage)]


async def test_a_press_without_message_is_answered_and_nothing_else() -> None:
    me = make_person()
    await me.start()
    before = len(sent(me))
    pressed = (Nav(a="restart").pack(), "p:region:xizang", "rm:wait_ends", "junk")
    for data in pressed:
        query = CallbackQuery(
            id=f"inline-{data}",
            from_user=me.user,
            chat_instance="i",
            data=data,
            inline_message_id="AAAA",
        )
        await feed(me, callback_query=query)
    assert len(sent(me)) == before
    answered = [c for c in me.session.calls if isinstance(c, AnswerCallbackQuery)]
    assert {c.callback_query_id for c in answered} >= {f"inline-{data}" for data in pressed}


async def test_a_message_sent_on_behalf_of_a_chat_is_ignored() -> None:
    me = make_person()
    channel = Chat(id=-1007777, type="channel", title="Linked channel")
    for chat in (Chat(id=-1001234, type="supergroup", title="Village"), me.chat):
        for text in ("/start", "hello", "/stats"):
            message = Message(
                message_id=me._next(),
                date=dt.datetime.now(dt.UTC),
                chat=chat,
                sender_chat=channel,
                text=text,
            )
            await feed(me, message=message)
    assert not sent(me)


async def test_a_group_migrating_to_a_supergroup_is_no_error() -> None:
    me = make_person()
    old = Chat(id=-42, type="group", title="Village")
    new = Chat(id=-1004242, type="supergroup", title="Village")
    now = dt.datetime.now(dt.UTC)
    await feed(
        me,
        message=Message(
            message_id=1, date=now, chat=old, from_user=me.user, migrate_to_chat_id=new.id
        ),
    )
    await feed(
        me,
        message=Message(
            message_id=1, date=now, chat=new, from_user=me.user, migrate_from_chat_id=old.id
        ),
    )
    assert not sent(me)


def membership(me: Person, old: Any, new: Any) -> ChatMemberUpdated:
    return ChatMemberUpdated(
        chat=me.chat,
        from_user=me.user,
        date=dt.datetime.now(dt.UTC),
        old_chat_member=old,
        new_chat_member=new,
    )


async def test_blocking_the_bot_drops_the_reminders_at_once() -> None:
    me = make_person(user_id=91)
    campaign = me.dispatcher["campaign"]
    today = dt.date.today()
    await campaign.add_reminder(91, 91, "wait_ends", today, "en", {})
    await campaign.add_reminder(91, 91, "period_closing", today, "en", {})
    await campaign.add_reminder(92, 92, "wait_ends", today, "en", {})
    # Unblocking (kicked → member) changes nothing.
    await feed(
        me,
        my_chat_member=membership(
            me, ChatMemberBanned(user=BOT_USER, until_date=0), ChatMemberMember(user=BOT_USER)
        ),
    )
    assert len(await campaign.due_reminders(FAR_FUTURE, 10)) == 3
    await feed(
        me,
        my_chat_member=membership(
            me, ChatMemberMember(user=BOT_USER), ChatMemberBanned(user=BOT_USER, until_date=0)
        ),
    )
    left = await campaign.due_reminders(FAR_FUTURE, 10)
    assert [r.user_id for r in left] == [92]
    assert not sent(me)
