"""Bad input at every survey state, in every language, driven by hypothesis.

Each state (every question of QUESTIONS and AID_QUESTIONS, the summary, the result with and
without what-if buttons, the Why screen, the aid result, and the first-contact language
chooser) is reached once per locale by pressing through the survey; its FSM data and messages
are kept as a snapshot. Each example restores one snapshot into the memory storage and feeds
one bad input: random text up to 4096 characters (emoji, CJK, Tibetan, control characters),
numbers and dates out of range or malformed, stickers, photos, locations, contacts, voice,
documents, dice, edited messages, commands mid-survey, and forged or stale button data
(also on old messages Telegram sends without content). Then:

- no exception leaves Dispatcher.feed_update and nothing is logged at ERROR or above;
- the person gets a non-empty reply in their language, the current screen shown again;
- the FSM data (answers, current question `q`, mode, history, pending year toggles, locale)
  is exactly as before: bad input changes nothing, not even a half-marked years question.
  Only `screen` (the id of the message showing the current question) moves to the copy
  asked again.

Edited messages are ignored on purpose: an edit changes an earlier message, not the current
question; re-reading it would change answers behind the person's back (an edited "2027" from
three questions ago), and answering every typo fix would be noise. So for an edit the bot must
send nothing and change nothing.

What is legitimate, and so never generated as bad input: /start, /restart and /forget (they
restart or erase by design), a language button of an available language, the "Start over"
button, "Back to my result" from an earlier answer, reminder opt-ins (the campaign's buttons
are checked against the current answer by their own handler), toggling an offered year of
the current years question, any button of the current screen, and text the current question
accepts.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    GetMe,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Contact,
    Dice,
    Document,
    InaccessibleMessage,
    Location,
    Message,
    PhotoSize,
    Sticker,
    Update,
    User,
    Voice,
)
from fakes.session import Person, RecordingSession
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.app import create_dispatcher, create_storage
from bot.handlers.conversation import context
from bot.i18n import available
from bot.keyboards import Lang, Nav, Pick
from bot.render import render_macro
from bot.settings import Settings
from bot.survey import AID_QUESTIONS, BY_ID, QUESTIONS, Context, InvalidAnswer, parse_text

TODAY = dt.date.today()
NEXT = TODAY.year + 1
LOCALES = ("en", "zh_Hans", "bo")
CLIENT_LANGUAGE = {"en": "en", "zh_Hans": "zh-hans", "bo": "bo"}
BOT_USERNAME = "yibao_bot"
# A Latin word in a Chinese or Tibetan reply is English that leaked through. /commands and
# @mentions are not words (the look-behind skips them); the language chooser's buttons name
# each language in its own script and are skipped. No other exception is needed: the replies
# at these states carry no product name or code in Latin letters, so the allow-list is empty.
LATIN_WORD = re.compile(r"(?<![/@\w])[A-Za-z]{3,}")
LATIN_ALLOWED: frozenset[str] = frozenset()

TRIED = 0  # bad inputs fed to the dispatcher, over the whole session

# ---------------------------------------------------------------------------------------
# The world: one dispatcher on memory storage, one person per (locale, state).


class Session(RecordingSession):
    """RecordingSession that answers getMe (for `/help@yibao_bot`) and refuses what Telegram
    refuses: editing a message that is not there, or into what it already shows."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        if isinstance(method, GetMe):
            self.calls.append(method)
            return User(id=1, is_bot=True, first_name="Yibao", username=BOT_USERNAME)
        if isinstance(method, EditMessageReplyMarkup):
            old = self.messages.get(method.message_id or 0)
            if old is None:
                raise TelegramBadRequest(method, "Bad Request: message to edit not found")
            if old.reply_markup == method.reply_markup:
                raise TelegramBadRequest(method, "Bad Request: message is not modified")
        return await super().make_request(bot, method, timeout)


def pick(q: str, v: object) -> str:
    return Pick(q=q, v=str(v)).pack()


def nav(a: str, q: str = "") -> str:
    """A navigation press; Back and Done name the question they stand under."""
    return Nav(a=a, q=q).pack()


Step = tuple[str, str]  # ("press", callback data) or ("say", text)
_TO_GROUP: list[Step] = [
    ("press", pick("region", "xizang")),
    ("press", pick("benefit_year", NEXT)),
    ("press", pick("insurance", "none")),
]
_TO_PAID = [*_TO_GROUP, ("press", pick("group", "none"))]
_TO_SUMMARY = [
    *_TO_PAID,
    ("press", nav("done", "paid_years")),  # no year paid: repair is useful
    ("press", pick("payment", "period")),
    ("press", pick("repair_years", 0)),
]
_TO_RESULT = [*_TO_SUMMARY, ("press", nav("result"))]
_TO_AID = [*_TO_RESULT, ("press", nav("aid"))]
_ALL_PAID = [
    *[("press", pick("paid_years", year)) for year in range(2025, NEXT)],
    ("press", nav("done", "paid_years")),
]
_TO_LATE = [*_TO_PAID, *_ALL_PAID]
_TO_ZERO = [
    *_TO_LATE,
    ("press", pick("late_year", "on_time")),
    ("press", pick("payment", "period")),
]
# A job change in Xizang, paid on a typed day: the period is unknown, then the day cover stopped.
_TO_IN_PERIOD = [
    *_TO_GROUP,
    ("press", pick("group", "job_change")),
    *_ALL_PAID,
    ("press", pick("late_year", "on_time")),
    ("say", f"{NEXT}-03-15"),
]
# Shanxi, this year, insured from 2025, the old cover ending in December 2025: were the years
# before 2025 insured? (Asked only when 2025 is the one year known: this year is 2026.)
_TO_CONTINUOUS = [
    ("press", pick("region", "shanxi")),
    ("press", pick("benefit_year", NEXT - 1)),
    ("press", pick("insurance", "employee")),
    ("press", pick("group", "job_change")),
    ("press", nav("done", "paid_years")),  # employee insurance: every year is marked paid already
    ("press", pick("late_year", "on_time")),
    ("say", f"{NEXT - 1}-02-01"),
    ("press", pick("in_period", "no")),
    ("say", "2025-12-01"),
]

# state -> (steps after the language is chosen, what the FSM data must then say)
SCRIPTS: dict[str, tuple[list[Step], dict[str, Any]]] = {
    "region": ([], {"q": "region"}),
    "benefit_year": (_TO_GROUP[:1], {"q": "benefit_year"}),
    "insurance": (_TO_GROUP[:2], {"q": "insurance"}),
    "group": (_TO_GROUP, {"q": "group"}),
    "birth_date": ([*_TO_GROUP, ("press", pick("group", "newborn"))], {"q": "birth_date"}),
    # One year marked, so that losing the pending toggles would show.
    "paid_years": ([*_TO_PAID, ("press", pick("paid_years", 2025))], {"q": "paid_years"}),
    "late_year": (_TO_LATE, {"q": "late_year"}),
    "payment": ([*_TO_PAID, ("press", nav("done", "paid_years"))], {"q": "payment"}),
    "in_period": (_TO_IN_PERIOD, {"q": "in_period"}),
    "left_on": ([*_TO_IN_PERIOD, ("press", pick("in_period", "yes"))], {"q": "left_on"}),
    "continuous_years": (_TO_CONTINUOUS, {"q": "continuous_years"}),
    "zero_claim_years": (
        [*_TO_ZERO, ("press", pick("zero_claim_years", 2025))],
        {"q": "zero_claim_years"},
    ),
    "incentive_used_years": (
        [
            *_TO_ZERO,
            ("press", pick("zero_claim_years", 2025)),
            ("press", nav("done", "zero_claim_years")),
            ("press", pick("incentive_used_years", NEXT - 1)),
        ],
        {"q": "incentive_used_years"},
    ),
    "repair_years": (_TO_SUMMARY[:-1], {"q": "repair_years"}),
    "summary": (_TO_SUMMARY, {"q": None, "mode": "summary"}),
    "result": (_TO_RESULT, {"q": None, "mode": "result"}),
    "why": ([*_TO_RESULT, ("press", nav("why"))], {"q": None, "mode": "result"}),
    # Every year paid: no what-if buttons, so forged what-ifs are bad input here.
    "result_all_paid": (
        [*_TO_ZERO, ("press", nav("done", "zero_claim_years")), ("press", nav("result"))],
        {"q": None, "mode": "result"},
    ),
    "aid_class": (_TO_AID, {"q": "aid_class", "mode": "aid"}),
    "aid_expense": (
        [*_TO_AID, ("press", pick("aid_class", "catastrophic"))],
        {"q": "aid_expense"},
    ),
    "aid_cost": (
        [
            *_TO_AID,
            ("press", pick("aid_class", "catastrophic")),
            ("press", pick("aid_expense", "inpatient")),
        ],
        {"q": "aid_cost"},
    ),
    "aid_income": (
        [
            *_TO_AID,
            ("press", pick("aid_class", "catastrophic")),
            ("press", pick("aid_expense", "inpatient")),
            ("say", "20000"),
        ],
        {"q": "aid_income"},
    ),
    "aid_result": (
        [
            *_TO_AID,
            ("press", pick("aid_class", "catastrophic")),
            ("press", pick("aid_expense", "inpatient")),
            ("say", "20000"),
            ("say", "50000"),
        ],
        {"q": None, "mode": "aid_result"},
    ),
}
STATES = ("choose_language", *SCRIPTS)


@dataclass(repr=False)
class Snapshot:
    """One person at one state: their FSM data and the messages they were sent."""

    locale: str
    name: str
    person: Person
    data: dict[str, Any]
    screen: list[Message]  # the message(s) showing the current position, last one last
    earlier: list[Message]  # every earlier message with buttons (stale data lives there)
    ctx: Context
    screen_buttons: set[str] = field(default_factory=set)
    stale_buttons: list[tuple[str, Message]] = field(default_factory=list)

    @property
    def key(self) -> StorageKey:
        user = self.person.user.id
        return StorageKey(bot_id=self.person.bot.id, chat_id=user, user_id=user)

    @property
    def question(self) -> str | None:
        return self.data.get("q")

    def __repr__(self) -> str:
        return f"world().snapshots[{self.locale!r}, {self.name!r}]"


@dataclass
class World:
    person_args: tuple[Any, Any, Session]  # dispatcher, bot, session
    snapshots: dict[tuple[str, str], Snapshot]
    log: list[logging.LogRecord]  # every ERROR record, from aiogram or the bot
    handler: logging.Handler


class _ErrorLog(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _buttons(message: Message) -> list[str]:
    markup = message.reply_markup
    if markup is None:
        return []
    return [b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data]


async def _play(person: Person, steps: list[Step]) -> None:
    for kind, value in steps:
        if kind == "say":
            await person.say(value)
        else:
            await person.press_data(value)


def _messages_of(session: Session, user_id: int) -> list[Message]:
    return [m for _, m in sorted(session.messages.items()) if m.chat.id == user_id]


async def _build_world() -> World:
    # No flood control here: each snapshot person gets hundreds of updates a second.
    unthrottled = {"throttle_rate": 1e9, "throttle_burst": 10**9}
    settings = Settings(
        _env_file=None, **{k: v for k, v in unthrottled.items() if k in Settings.model_fields}
    )
    session = Session()
    dispatcher = create_dispatcher(settings, create_storage(settings, memory=True))
    bot = Bot("1:TEST", session=session)
    snapshots: dict[tuple[str, str], Snapshot] = {}
    user_id = 5000
    for locale in LOCALES:
        for name in STATES:
            user_id += 1
            person = Person(dispatcher, bot, session, user_id, CLIENT_LANGUAGE[locale])
            await person.say("/start")
            if name != "choose_language":
                await person.press_data(Lang(v=locale).pack())
                steps, expected = SCRIPTS[name]
                await _play(person, steps)
            else:
                expected = {"await_language": True, "q": None}
            key = StorageKey(bot_id=bot.id, chat_id=user_id, user_id=user_id)
            data = await dispatcher.storage.get_data(key)
            for k, v in expected.items():
                assert data.get(k) == v, (locale, name, k, data)
            if expected.get("q", name) is not None:
                assert data.get("q") == name, (locale, name, data)
            assert data.get("locale", locale) == locale
            messages = _messages_of(session, user_id)
            screen = messages[-2:] if name == "why" else messages[-1:]
            earlier = [m for m in messages[: len(messages) - len(screen)] if m.reply_markup]
            ctx = context(dispatcher["policies"])
            snap = Snapshot(locale, name, person, copy.deepcopy(data), screen, earlier, ctx)
            snap.screen_buttons = {b for m in screen for b in _buttons(m)}
            snap.stale_buttons = [
                (b, m) for m in earlier for b in _buttons(m) if not legit_press(snap, b, m)
            ]
            snapshots[locale, name] = snap
    records: list[logging.LogRecord] = []
    handler = _ErrorLog(records)
    logging.getLogger().addHandler(handler)
    return World((dispatcher, bot, session), snapshots, records, handler)


_RUNNER: asyncio.Runner | None = None
_WORLD: World | None = None


def run(coro: Any) -> Any:
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = asyncio.Runner()
    return _RUNNER.run(coro)


def world() -> World:
    global _WORLD
    if _WORLD is None:
        _WORLD = run(_build_world())
    return _WORLD


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        sys.stderr.write(f"\nbad inputs tried: {TRIED}\n")
    if _WORLD is not None:
        logging.getLogger().removeHandler(_WORLD.handler)
    if _RUNNER is not None:
        _RUNNER.close()


# ---------------------------------------------------------------------------------------
# What is legitimate input at a state (never generated as bad input).


def accepts_text(snap: Snapshot, text: str) -> bool:
    """Whether `text` is an answer the current question takes (so not bad input)."""
    question = BY_ID.get(snap.question or "")
    if question is None or text.startswith("/"):
        return False
    try:
        parse_text(question, text, snap.data.get("answers", {}), snap.ctx)
    except InvalidAnswer:
        return False
    return True


def _unpack(cls: type[CallbackData], data: str) -> Any:
    try:
        return cls.unpack(data)
    except (TypeError, ValueError):
        return None


def legit_press(snap: Snapshot, data: str | None, message: Message | InaccessibleMessage) -> bool:
    """Whether pressing `data` on `message` is a real choice at this state, not bad input."""
    if data is None:
        return False
    on_screen = message.message_id in {m.message_id for m in snap.screen}
    if (on_screen and data in snap.screen_buttons) or data == nav("restart"):
        return True
    if data.startswith("rm:"):
        return True
    lang = _unpack(Lang, data)
    if lang is not None and lang.v in available():
        return True
    if data == nav("result") and snap.data.get("mode") in ("aid", "aid_result", "result"):
        return True  # "Back to my result" under an earlier Why or aid answer
    question = BY_ID.get(snap.question or "")
    chosen = _unpack(Pick, data)
    if question is not None and question.kind == "years" and chosen is not None:
        offered = question.options(snap.data.get("answers", {}), snap.ctx)
        return chosen.q == question.id and chosen.v in offered  # an older copy's toggle
    return False


# ---------------------------------------------------------------------------------------
# Feeding one input to a restored snapshot, and the checks every input must pass.


@dataclass
class Outcome:
    sent: list[SendMessage]
    calls: list[TelegramMethod[Any]]
    data: dict[str, Any]


async def _restore(snap: Snapshot) -> None:
    storage = world().person_args[0].storage
    await storage.set_state(snap.key, None)
    await storage.set_data(snap.key, copy.deepcopy(snap.data))


async def _feed(snap: Snapshot, update: Update) -> Outcome:
    global TRIED
    dispatcher, bot, session = world().person_args
    await _restore(snap)
    start, errors = len(session.calls), len(world().log)
    TRIED += 1
    await dispatcher.feed_update(bot, update)  # a handler's exception would propagate here
    assert world().log[errors:] == [], [r.getMessage() for r in world().log[errors:]]
    calls = session.calls[start:]
    sent = [c for c in calls if isinstance(c, SendMessage)]
    return Outcome(sent, calls, await dispatcher.storage.get_data(snap.key))


def _update_id(snap: Snapshot) -> int:
    return snap.person._next()


def _message(snap: Snapshot, **content: Any) -> Message:
    return Message(
        message_id=10_000 + _update_id(snap),
        date=dt.datetime.now(dt.UTC),
        chat=snap.person.chat,
        from_user=snap.person.user,
        **content,
    )


def feed_message(snap: Snapshot, **content: Any) -> Outcome:
    update = Update(update_id=_update_id(snap), message=_message(snap, **content))
    return run(_feed(snap, update))


def feed_edit(snap: Snapshot, **content: Any) -> Outcome:
    edited = _message(snap, edit_date=int(dt.datetime.now(dt.UTC).timestamp()), **content)
    return run(_feed(snap, Update(update_id=_update_id(snap), edited_message=edited)))


def feed_press(snap: Snapshot, data: str | None, message: Message | InaccessibleMessage) -> Outcome:
    query = CallbackQuery(
        id=str(_update_id(snap)),
        from_user=snap.person.user,
        chat_instance="c",
        data=data,
        message=message,
    )
    return run(_feed(snap, Update(update_id=_update_id(snap), callback_query=query)))


def latin_words(text: str) -> list[str]:
    return [w for w in LATIN_WORD.findall(text) if w not in LATIN_ALLOWED]


def check_language(snap: Snapshot, outcome: Outcome) -> None:
    for method in outcome.sent:
        assert method.text and method.text.strip(), "an empty reply"
        if snap.locale != "en":
            assert not latin_words(method.text), (snap.locale, method.text)
            for row in method.reply_markup.inline_keyboard if method.reply_markup else []:
                for button in row:
                    if _unpack(Lang, button.callback_data or "") is None:  # own script each
                        assert not latin_words(button.text), (snap.locale, button.text)


# Which message shows the current question: it moves to the copy sent again after bad input.
MOVES = frozenset({"screen"})


def check_unchanged(snap: Snapshot, outcome: Outcome) -> None:
    def kept(data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if k not in MOVES}

    assert kept(outcome.data) == kept(snap.data), (snap.locale, snap.name)


def check_screen_again(snap: Snapshot, outcome: Outcome) -> None:
    """The reply ends by showing the current position again, with its buttons."""
    assert outcome.sent, "no reply"
    last = outcome.sent[-1]
    assert last.reply_markup is not None and last.reply_markup.inline_keyboard, last.text
    if snap.name == "choose_language":  # the language is asked again, with its buttons
        labels = [b.text for row in last.reply_markup.inline_keyboard for b in row]
        assert "中文" in " ".join(labels) and "English" in " ".join(labels), labels
        return
    if snap.question is not None:
        assert last.text == snap.screen[-1].text
        assert last.reply_markup == snap.screen[-1].reply_markup, "toggles lost"


def check_bad(snap: Snapshot, outcome: Outcome) -> None:
    check_language(snap, outcome)
    check_unchanged(snap, outcome)
    check_screen_again(snap, outcome)


# ---------------------------------------------------------------------------------------
# Strategies.

SNAPSHOT_KEYS = [(locale, name) for locale in LOCALES for name in STATES]
snapshots = st.sampled_from(SNAPSHOT_KEYS).map(lambda key: world().snapshots[key])

_SCRIPTS_ALPHABET = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),  # anything, controls too
    st.characters(min_codepoint=0x0F00, max_codepoint=0x0FFF),  # Tibetan, digits included
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
    st.characters(max_codepoint=0x1F),  # C0 controls
    st.sampled_from("0123456789 .,-/年月日元¥"),
)
random_text = st.text(_SCRIPTS_ALPHABET, min_size=1, max_size=200)
long_text = st.tuples(st.text(_SCRIPTS_ALPHABET, min_size=1, max_size=8), st.integers(3000, 4096))
long_text = long_text.map(lambda t: (t[0] * 4096)[: t[1]])
_numbers = st.one_of(
    st.integers(-(10**15), 10**15),
    st.integers(10_000_001, 10**12),  # above every amount's bound
    st.integers(0, 2024),  # years before the first one
    st.integers(NEXT + 1, 99_999),  # years after the last one
)
numbers = st.one_of(
    _numbers.map(str),
    _numbers.map(lambda n: f"{n:,}"),
    st.tuples(_numbers, st.sampled_from(["元", " yuan", "¥", ".5", "e3", "%", " km"])).map(
        lambda t: f"{t[0]}{t[1]}" if t[1] != "¥" else f"¥{t[0]}"
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%Y", "%Y.%m.%d", "%Y年%m月%d日")
_future = st.dates(min_value=TODAY + dt.timedelta(days=1))
_past = st.dates(max_value=TODAY - dt.timedelta(days=800))
dates = st.one_of(
    st.tuples(st.one_of(_future, _past, st.dates()), st.sampled_from(_FORMATS)).map(
        lambda t: t[0].strftime(t[1])
    ),
    st.tuples(st.integers(-99, 99_999), st.integers(-1, 99), st.integers(-1, 99)).map(
        lambda t: f"{t[0]}-{t[1]}-{t[2]}"
    ),
    st.sampled_from(["2026-02-30", "31.02.2027", "2027年13月1日", "tomorrow", "明天", "--", "0"]),
)
bad_text = st.one_of(random_text, long_text, numbers, dates)

_files = st.text("abcdefABCDEF0123456789_-", min_size=1, max_size=40)
non_text = st.one_of(
    st.builds(
        lambda f, u, e: {
            "sticker": Sticker(
                file_id=f,
                file_unique_id=u,
                type="regular",
                width=512,
                height=512,
                is_animated=False,
                is_video=False,
                emoji=e,
            )
        },
        _files,
        _files,
        st.sampled_from(["😀", "🙏", None]),
    ),
    st.builds(
        lambda f, u, caption: {
            "photo": [PhotoSize(file_id=f, file_unique_id=u, width=90, height=90)],
            "caption": caption,
        },
        _files,
        _files,
        # A caption is not an answer, even a valid one; a /command in a caption is a command
        # (aiogram's Command filter reads captions too), so it is left to the command tests.
        st.one_of(st.none(), bad_text, st.just("2027")).filter(
            lambda c: not (c or "").startswith("/")
        ),
    ),
    st.builds(
        lambda lat, lon: {"location": Location(latitude=lat, longitude=lon)},
        st.floats(-90, 90),
        st.floats(-180, 180),
    ),
    st.builds(
        lambda phone, name: {"contact": Contact(phone_number=phone, first_name=name)},
        st.from_regex(r"\+?[0-9]{5,15}", fullmatch=True),
        st.text(min_size=1, max_size=30),
    ),
    st.builds(
        lambda f, u, d: {"voice": Voice(file_id=f, file_unique_id=u, duration=d)},
        _files,
        _files,
        st.integers(0, 3600),
    ),
    st.builds(
        lambda f, u: {"document": Document(file_id=f, file_unique_id=u, file_name="2027.pdf")},
        _files,
        _files,
    ),
    st.builds(
        lambda v: {"dice": Dice(emoji="🎲", value=v)},
        st.integers(1, 6),
    ),
)

HARMLESS_COMMANDS = ("help", "about", "language", "stats", "volunteer", "explain")
KNOWN_COMMANDS = (*HARMLESS_COMMANDS, "start", "restart", "forget")
_mention = st.sampled_from(["", f"@{BOT_USERNAME}", "@other_bot"])
_args = st.one_of(st.just(""), random_text.map(lambda s: " " + s))
unknown_command = st.tuples(
    st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True).filter(
        lambda c: c.lower() not in KNOWN_COMMANDS
    ),
    _mention,
    _args,
).map(lambda t: f"/{t[0]}{t[1]}{t[2]}")
harmless_command = st.tuples(st.sampled_from(HARMLESS_COMMANDS), _mention, _args).map(
    lambda t: (t[0], f"/{t[0]}{t[1]}{t[2]}")
)
# /start, /restart and /forget addressed to another bot are not for us.
other_bots_command = st.tuples(st.sampled_from(("start", "restart", "forget")), _args).map(
    lambda t: f"/{t[0]}@other_bot{t[1]}"
)

_ACTIONS = (
    "back",
    "done",
    "result",
    "why",
    "whatif_repair",
    "whatif_paid",
    "aid",
    "edit",
    "restart",
    "bilingual",
    "card",
    "next_person",
    "",
    "mars",
)
_VALUES = st.one_of(
    st.sampled_from(
        [
            "mars",
            "",
            "0",
            "-1",
            "9",
            "50",
            "1999",
            "2024",
            str(NEXT + 1),
            "today",
            "period",
            *(str(y) for y in range(2025, NEXT + 1)),
            "none",
            "xizang",
            "national",
            "resident",
            "newborn",
            "catastrophic",
            "inpatient",
        ]
    ),
    st.text(max_size=20),
)
_QUESTION_IDS = st.one_of(st.sampled_from([*BY_ID, "mars", ""]), st.text(max_size=10))


def _fit(data: str) -> str:
    """Telegram's limit: 1 to 64 bytes of callback data."""
    raw = data.encode()[:64].decode(errors="ignore")
    return raw or "x"


forged_data = st.one_of(
    st.text(max_size=64).map(_fit),
    st.binary(min_size=1, max_size=64).map(lambda b: _fit(b.decode(errors="replace"))),
    st.tuples(_QUESTION_IDS, _VALUES).map(lambda t: _fit(f"p:{t[0]}:{t[1]}")),
    st.sampled_from(_ACTIONS).map(lambda a: f"n:{a}"),
    _QUESTION_IDS.map(lambda q: _fit(f"e:{q}")),
    st.one_of(st.sampled_from(["xx", "de", "zh", "EN", "", "en:x"]), st.text(max_size=8)).map(
        lambda v: _fit(f"l:{v}")
    ),
    st.sampled_from(["p", "n", "e", "l", "p:region", "p:region:xizang:x", "rm", "::"]),
)

BAD = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)

# ---------------------------------------------------------------------------------------
# The properties.


@pytest.mark.slow
@BAD
@given(snap=snapshots, data=st.data())
def test_bad_text_changes_nothing(snap: Snapshot, data: st.DataObject) -> None:
    text = data.draw(bad_text.filter(lambda t: not t.startswith("/")), label="text")
    assume(not accepts_text(snap, text))
    outcome = feed_message(snap, text=text)
    check_bad(snap, outcome)


@pytest.mark.slow
@BAD
@given(snap=snapshots, content=non_text)
def test_stickers_photos_locations_and_other_media_change_nothing(
    snap: Snapshot, content: dict[str, Any]
) -> None:
    outcome = feed_message(snap, **content)
    check_bad(snap, outcome)
    not_text = render_macro("questions.j2", "invalid", snap.locale, "not_text", {})
    assert outcome.sent[0].text == not_text


@pytest.mark.slow
@BAD
@given(snap=snapshots, command=unknown_command)
def test_unknown_commands_are_answered_and_change_nothing(snap: Snapshot, command: str) -> None:
    outcome = feed_message(snap, text=command)
    if "@other_bot" in command.split(" ")[0]:
        # Addressed to another bot: not ours to answer, even to say it is unknown.
        assert not outcome.sent, command
        check_unchanged(snap, outcome)
        return
    check_bad(snap, outcome)
    unknown = render_macro("campaign.j2", "text", snap.locale, "unknown_command")
    assert outcome.sent[0].text == unknown, command


@BAD
@given(snap=snapshots, command=other_bots_command)
def test_other_bots_commands_are_ignored(snap: Snapshot, command: str) -> None:
    outcome = feed_message(snap, text=command)
    assert not outcome.sent, command
    check_unchanged(snap, outcome)


@settings(BAD, max_examples=150)
@given(snap=snapshots, command=harmless_command)
def test_help_about_and_other_commands_mid_survey_change_nothing(
    snap: Snapshot, command: tuple[str, str]
) -> None:
    name, text = command
    outcome = feed_message(snap, text=text)
    check_language(snap, outcome)
    check_unchanged(snap, outcome)
    if "@other_bot" in text.split(" ")[0]:
        assert not outcome.sent, text  # addressed to another bot: ignored
        return
    assert outcome.sent, text
    unknown = render_macro("campaign.j2", "text", snap.locale, "unknown_command")
    # /stats from someone not an admin: not a command for them.
    assert (outcome.sent[0].text == unknown) == (name == "stats"), text


@settings(BAD, max_examples=150)
@given(
    snap=snapshots,
    content=st.one_of(
        bad_text.map(lambda t: {"text": t}),
        st.sampled_from(["2027", "20000", "/start", "/forget", "/help"]).map(lambda t: {"text": t}),
        non_text,
    ),
)
def test_edited_messages_are_ignored(snap: Snapshot, content: dict[str, Any]) -> None:
    outcome = feed_edit(snap, **content)
    assert not outcome.sent, "an edit is not answered"
    check_unchanged(snap, outcome)


@pytest.mark.slow
@settings(BAD, max_examples=700)
@given(snap=snapshots, data=st.data())
def test_forged_and_stale_buttons_change_nothing(snap: Snapshot, data: st.DataObject) -> None:
    choices = [forged_data.map(lambda d: (d, None))]
    if snap.stale_buttons:
        choices.append(st.sampled_from(snap.stale_buttons))
    pressed, origin = data.draw(st.one_of(*choices), label="press")
    where = data.draw(st.sampled_from(["origin", "screen", "too old"]), label="message")
    message: Message | InaccessibleMessage = (
        origin if where != "screen" and origin is not None else snap.screen[-1]
    )
    if where == "too old":  # hours or days old: Telegram sends InaccessibleMessage, no content
        message = InaccessibleMessage(chat=snap.person.chat, message_id=message.message_id)
    assume(not legit_press(snap, pressed, message))
    outcome = feed_press(snap, pressed, message)
    assert any(isinstance(c, AnswerCallbackQuery) for c in outcome.calls), "spinner left on"
    check_bad(snap, outcome)


@settings(BAD, max_examples=60)
@given(snap=snapshots)
def test_a_press_without_data_changes_nothing(snap: Snapshot) -> None:
    outcome = feed_press(snap, None, snap.screen[-1])
    check_bad(snap, outcome)


@pytest.mark.parametrize("name", STATES)
def test_every_navigation_button_not_offered_changes_nothing(name: str) -> None:
    """Every Nav action at every state and locale, on the current message: a small, whole space."""
    for locale in LOCALES:
        snap = world().snapshots[locale, name]
        for action in _ACTIONS:
            if legit_press(snap, nav(action), snap.screen[-1]):
                continue
            outcome = feed_press(snap, nav(action), snap.screen[-1])
            try:
                check_bad(snap, outcome)
            except AssertionError as error:
                raise AssertionError(f"{locale} {name} n:{action}: {error}") from None


def test_every_state_is_covered() -> None:
    questions = {q.id for q in (*QUESTIONS, *AID_QUESTIONS)}
    assert questions <= set(STATES)
    assert {locale for locale, _ in world().snapshots} == set(LOCALES) <= set(available())
    assert len(world().snapshots) == len(LOCALES) * len(STATES)


def test_a_years_toggle_on_a_current_message_edits_its_buttons() -> None:
    """The legitimate toggle the years properties exclude, to show the oracle is right."""
    snap = world().snapshots["en", "zero_claim_years"]
    outcome = feed_press(snap, pick("zero_claim_years", NEXT - 1), snap.screen[-1])
    assert any(isinstance(c, EditMessageReplyMarkup) for c in outcome.calls)
    assert outcome.data["pending"] == ["2025", str(NEXT - 1)]


# ---------------------------------------------------------------------------------------
# Regressions: the bugs these properties found, one example each.


def _sent_since(start: int) -> list[SendMessage]:
    return [c for c in world().person_args[2].calls[start:] if isinstance(c, SendMessage)]


def test_bug_bad_input_unmarked_the_years_marked_so_far() -> None:
    snap = world().snapshots["en", "paid_years"]
    assert snap.data["pending"] == ["2025"]
    outcome = feed_message(snap, text="hello")
    assert outcome.data["pending"] == ["2025"]
    assert "☑ 2025" in [
        b.text for row in outcome.sent[-1].reply_markup.inline_keyboard for b in row
    ]


def test_bug_bad_input_at_the_aid_answer_said_send_start() -> None:
    snap = world().snapshots["en", "aid_result"]
    outcome = feed_message(snap, text="hello")
    assert "/start" not in outcome.sent[-1].text  # /start would erase every answer
    assert outcome.sent[-1].text == snap.screen[-1].text


def test_bug_an_unknown_command_was_answered_as_not_text() -> None:
    snap = world().snapshots["zh_Hans", "group"]
    outcome = feed_message(snap, text="/foo")
    assert outcome.sent[0].text == render_macro("campaign.j2", "text", "zh_Hans", "unknown_command")
    assert outcome.sent[-1].text == snap.screen[-1].text


def test_bug_a_year_toggle_on_a_message_too_old_to_edit_crashed() -> None:
    snap = world().snapshots["en", "zero_claim_years"]
    old = InaccessibleMessage(chat=snap.person.chat, message_id=snap.screen[-1].message_id)
    outcome = feed_press(snap, pick("zero_claim_years", NEXT - 1), old)
    assert outcome.data["pending"] == ["2025", str(NEXT - 1)]
    buttons = [b.text for row in outcome.sent[-1].reply_markup.inline_keyboard for b in row]
    assert {"☑ 2025", f"☑ {NEXT - 1}"} <= set(buttons), "sent again, with both marks"


def test_bug_a_year_toggle_on_an_older_copy_crashed_as_not_modified() -> None:
    snap = world().snapshots["en", "paid_years"]  # 2025 marked on copy A
    first = snap.screen[-1]
    run(_restore(snap))
    person = snap.person
    copy_b = run(person.say("hello"))  # asked again: copy B, 2025 still marked
    run(person.press_data(pick("paid_years", 2025), copy_b))  # unmarked on B
    start = len(world().person_args[2].calls)
    run(person.press_data(pick("paid_years", 2025), first))  # marked again: A already shows it
    assert run(world().person_args[0].storage.get_data(snap.key))["pending"] == ["2025"]
    assert not _sent_since(start), "nothing to say: the pressed message shows the marks"


def test_bug_back_or_done_under_an_earlier_question_moved_the_survey() -> None:
    snap = world().snapshots["en", "insurance"]
    year_back = nav("back", "benefit_year")
    earlier = next(m for m in snap.earlier if year_back in _buttons(m))  # the year question
    outcome = feed_press(snap, year_back, earlier)
    check_bad(snap, outcome)
    snap = world().snapshots["en", "zero_claim_years"]
    paid = next(m for m in snap.earlier if pick("paid_years", 2025) in _buttons(m))
    outcome = feed_press(snap, nav("done", "paid_years"), paid)
    check_bad(snap, outcome)
    # The current question's own Back still goes back.
    outcome = feed_press(snap, nav("back", "zero_claim_years"), snap.screen[-1])
    assert outcome.data["q"] == "payment"


def test_bug_a_forged_what_if_not_offered_changed_the_answers() -> None:
    snap = world().snapshots["en", "result_all_paid"]
    for action in ("whatif_repair", "whatif_paid"):
        assert nav(action) not in snap.screen_buttons
        check_bad(snap, feed_press(snap, nav(action), snap.screen[-1]))


@pytest.mark.parametrize("locale", LOCALES)
def test_a_forged_button_is_not_called_an_earlier_questions(locale: str) -> None:
    """A press no question of ours makes (forged, or typed into the web page's form) is not
    'a button of an earlier question': that sends the person looking for one. A real earlier
    question's button still says so. Either way nothing changes."""
    snap = world().snapshots[locale, "payment"]
    english = world().snapshots["en", "payment"]
    for data in ("forged", pick("no_such_question", 1)):
        outcome = feed_press(snap, data, snap.screen[-1])
        check_bad(snap, outcome)
        said = outcome.sent[0].text
        assert said != feed_press(snap, pick("region", "xizang"), snap.screen[-1]).sent[0].text
        if locale == "en":
            assert "not one this assistant offers" in said
            assert "earlier question" not in said
    stale = feed_press(english, pick("region", "xizang"), english.screen[-1])
    check_bad(english, stale)
    assert "belongs to an earlier question" in stale.sent[0].text
