"""`yibao chat`: the conversation in a terminal, no token, no network, no aiogram.

An adapter of the conversation core (bot/conversation) like the Telegram handlers: each line
typed is an event (a number naming a button on screen is a press of it, `/help` a command,
anything else a text), the core answers, and its screens are printed with numbered buttons.
The conversation lives in memory and ends with the process: nothing is counted, no reminder
is kept, nothing is written to disk.
"""

from __future__ import annotations

import asyncio
import logging
from typing import IO

from bot.checkcode import keyring
from bot.conversation import (
    Button,
    Command,
    Event,
    Press,
    Screen,
    State,
    Text,
    Turn,
    step,
)
from bot.i18n import client_locale
from bot.settings import Settings
from bot.survey import Context
from bot.transports.screen import LineReader, client_language_code, screen
from rules import PolicySet, load_policies

__all__ = ["Terminal", "client_language_code", "run_terminal"]

logger = logging.getLogger(__name__)


class Terminal:
    """One person's conversation in this terminal: the state, and the buttons on screen."""

    def __init__(self, settings: Settings, output: IO[str], language_code: str | None) -> None:
        self.settings = settings
        self.policies: PolicySet = load_policies(settings.policy_overrides)
        self.output = output
        self.client_locale = client_locale(language_code, settings.default_locale)
        self.state: State = {}
        self.buttons: list[Button] = []

    def turn(self) -> Turn:
        settings = self.settings
        ctx = Context.now(self.policies, settings)
        # Whoever sits at the terminal may use the volunteer desk: it is their own machine.
        # No reminders: the conversation ends with the process, nobody would send them.
        return Turn(
            ctx=ctx,
            person="terminal",
            client_locale=self.client_locale,
            volunteer_allowed=True,
            card_keys=keyring(settings),
            reminders=False,
        )

    def event_for(self, line: str) -> Event | None:
        """The event a typed line stands for; None for a link button (its address is shown)."""
        if line.isdigit() and 0 < int(line) <= len(self.buttons):
            button = self.buttons[int(line) - 1]
            if button.url:
                self.write(button.url)
                return None
            return Press(button.data)
        if line.startswith("/"):
            head, _, args = line.partition(" ")
            return Command(head[1:].partition("@")[0], args.strip())
        return Text(line)

    def feed(self, line: str) -> None:
        """Answer one line typed."""
        event = self.event_for(line)
        if event is None:
            return
        outcome = step(self.state, event, self.turn())
        self.state = outcome.state  # effects (counts, reminders) are not kept here
        for shown in outcome.screens:
            self.show(shown)

    def show(self, shown: Screen) -> None:
        rows = [[button.label for button in row] for row in shown.buttons]
        self.write(screen(shown.text, rows))
        if shown.buttons:
            self.buttons = [button for row in shown.buttons for button in row]

    def write(self, text: str) -> None:
        """Print one block, separated from the previous one by a blank line."""
        self.output.write(f"\n{text}\n")
        self.output.flush()


def _lines(
    source: IO[str] | LineReader, loop: asyncio.AbstractEventLoop
) -> asyncio.Queue[str | None]:
    """The lines typed, in a queue of the loop; None marks the end of input."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(line: str | None) -> bool:
        """Hand a line to the loop; False once the loop is gone."""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:
            return False
        return True

    reader = source if isinstance(source, LineReader) else LineReader(source)
    reader.attach(put)
    return queue


async def run_terminal(
    settings: Settings,
    input_stream: IO[str] | LineReader,
    output_stream: IO[str],
    lang_code: str | None = None,
) -> int:
    """Chat over the streams until end of input, as a client in `lang_code`; return the exit
    code."""
    terminal = Terminal(settings, output_stream, client_language_code(lang_code))
    lines = _lines(input_stream, asyncio.get_running_loop())
    terminal.feed("/start")
    while (line := await lines.get()) is not None:
        if line := line.strip():
            try:
                terminal.feed(line)
            except Exception:
                logger.exception("answering a line failed")
    return 0
