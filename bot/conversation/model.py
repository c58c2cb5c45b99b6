"""What goes into the conversation core and what comes out of it: plain data, no channel's types.

An event is what a person did (typed a text, pressed a button, sent a command, sent something
that is not text); a screen is what they are shown (a text and rows of buttons); an effect is
what the channel must do besides showing (count an answer, keep a reminder, erase a person).
Button data are short strings (`p:<question>:<option>`, `n:<action>:<question or nothing>`,
`e:<question>`, `l:<locale>`, `rm:<kind>`), at most 64 bytes as Telegram requires; the web page
posts them back the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.survey import Context
from rules import Assessment

State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Text:
    """A text the person typed (not a command)."""

    text: str


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed: its data. `detached`: the screen it was on can no longer be changed
    (Telegram: an old message sent without its content), so a changed screen comes anew."""

    data: str
    detached: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """A command: `name` without the slash, `args` the rest of the line (a deep link's payload)."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class Other:
    """Something a person sent that is not text: a photo, a sticker, a voice note."""


@dataclass(frozen=True, slots=True)
class Look:
    """The person looks again (a web page reloaded): the current question or screen, as it is,
    nothing changed."""


Event = Text | Press | Command | Other | Look


@dataclass(frozen=True, slots=True)
class Button:
    """A button: `data` comes back in a Press; a `url` button opens a page instead."""

    label: str
    data: str = ""
    url: str = ""


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Screen:
    """A message: plain text (no markup; line breaks are kept) and rows of buttons.

    `replace`: it replaces the screen whose button was pressed (a year marked or unmarked)
    instead of coming as a new message; a channel that cannot replace sends it anew.
    """

    text: str
    buttons: Rows = ()
    replace: bool = False


@dataclass(frozen=True, slots=True)
class CountAnswer:
    """Count a survey's first answer: `person` (channel and person, never shown) once a day,
    by region, language and the answer's outcome kinds (bot/campaign/stats.py)."""

    person: str
    region: str
    locale: str
    assessment: Assessment


@dataclass(frozen=True, slots=True)
class AddReminder:
    """Keep an opted-in reminder of `kind`, due on `due`, in `locale`, with its `payload`."""

    kind: str
    due: dt.date
    locale: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Forget:
    """Erase everything kept about the person: conversation, reminders (the state is emptied
    by the core itself)."""


Effect = CountAnswer | AddReminder | Forget


@dataclass(frozen=True, slots=True)
class Turn:
    """What one event is handled with besides the state.

    `ctx`: today, the policies, the deployment's contacts. `person`: a key naming the person on
    their channel, used only to count them once a day. `client_locale`: the channel's guess of
    their language, until they choose one. `volunteer_allowed`: the person is in VOLUNTEER_IDS
    (or holds the web's volunteer token) now. `card_keys`: the keys check codes are sealed
    with (bot.checkcode.Keyring), None for this deployment's. `reminders`: the channel can
    send a reminder later (Telegram can; the terminal and the web page cannot, so they do not
    offer one).
    """

    ctx: Context
    person: str
    client_locale: str
    volunteer_allowed: bool = False
    card_keys: Any = None
    reminders: bool = True


@dataclass(slots=True)
class Outcome:
    """The state after the event, the screens to show in order, and the effects to carry out."""

    state: State
    screens: list[Screen] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def pack(prefix: str, *parts: str) -> str:
    """Button data: `prefix:part:part`. ValueError for a part holding ':' or data over 64 bytes."""
    if any(":" in part for part in parts):
        raise ValueError("a part of button data holds ':'")
    data = ":".join((prefix, *parts))
    if len(data.encode()) > 64:
        raise ValueError("button data over 64 bytes")
    return data


def unpack(data: str) -> tuple[str, list[str]]:
    """(prefix, parts) of button data; anything may come (a forged press): never raises."""
    prefix, *parts = data.split(":")
    return prefix, parts
