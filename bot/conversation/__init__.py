"""The conversation core: one `step` for every channel (bot/conversation/core.py), its plain-data
events, screens and effects (model.py), and the screens' text and buttons (screens.py)."""

from bot.conversation.core import locale_of, step
from bot.conversation.model import (
    AddReminder,
    Button,
    Command,
    CountAnswer,
    Effect,
    Event,
    Forget,
    Look,
    Other,
    Outcome,
    Press,
    Screen,
    State,
    Text,
    Turn,
)

__all__ = [
    "AddReminder",
    "Button",
    "Command",
    "CountAnswer",
    "Effect",
    "Event",
    "Forget",
    "Look",
    "Other",
    "Outcome",
    "Press",
    "Screen",
    "State",
    "Text",
    "Turn",
    "locale_of",
    "step",
]
