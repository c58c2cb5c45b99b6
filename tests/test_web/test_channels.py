"""One conversation, three channels: the same script on Telegram (real HTTP, the fake Bot API),
in the terminal and on the web page (real HTTP) gives the same answer, word for word."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from fakes.bot_api import FakeBotAPI
from fakes.citizen import HttpCitizen
from fakes.deployment import SECRET, webhook
from fakes.screen import Screen

from bot.settings import Settings
from bot.transports.terminal import Terminal

from .citizen import WebCitizen
from .conftest import serve

BUTTON_LINE = re.compile(r"^\[\d+\] ")


class TerminalPerson:
    """A person at `yibao chat`'s terminal: presses a button by typing its number."""

    def __init__(self) -> None:
        self.screen = Screen()
        self.terminal = Terminal(Settings(_env_file=None), self.screen, "en")

    async def start(self) -> None:
        self.terminal.feed("/start")
        await self.press("English")

    async def press(self, label: str) -> None:
        labels = [b.label for b in self.terminal.buttons]
        found = [i for i, text in enumerate(labels) if text == label] or [
            i for i, text in enumerate(labels) if label in text
        ]
        assert found, f"no button {label!r} in {labels}"
        self.terminal.feed(str(found[0] + 1))

    async def say(self, text: str) -> None:
        self.terminal.feed(text)

    @property
    def text(self) -> str:
        """The last block printed, without its numbered buttons."""
        lines = self.screen.blocks[-1].splitlines()
        while lines and BUTTON_LINE.match(lines[-1]):
            lines.pop()
        return "\n".join(lines)


class HttpPerson:
    """A person over real HTTP: in a private chat with the bot behind its webhook, or on the
    web page; `read` gives the text they see last."""

    def __init__(self, citizen: HttpCitizen | WebCitizen, read: Callable[[], str]) -> None:
        self.citizen = citizen
        self.read = read

    async def start(self) -> None:
        await self.citizen.start()

    async def press(self, label: str) -> None:
        await self.citizen.press(label)

    async def say(self, text: str) -> None:
        await self.citizen.say(text)

    @property
    def text(self) -> str:
        return self.read()


@asynccontextmanager
async def telegram(tmp_path: Path) -> AsyncIterator[HttpPerson]:
    async with (
        FakeBotAPI() as fake,
        webhook(fake, data_dir=tmp_path / "bot") as url,
        aiohttp.ClientSession() as client,
    ):
        citizen = HttpCitizen(fake, client, [url], SECRET)
        yield HttpPerson(citizen, lambda: citizen.last_text)


@asynccontextmanager
async def terminal(tmp_path: Path) -> AsyncIterator[TerminalPerson]:
    yield TerminalPerson()


@asynccontextmanager
async def web(tmp_path: Path) -> AsyncIterator[HttpPerson]:
    async with serve(data_dir=tmp_path / "web") as (url, _), WebCitizen(url) as citizen:
        yield HttpPerson(citizen, lambda: citizen.page.text)


CHANNELS: dict[str, Callable[[Path], object]] = {
    "telegram": telegram,
    "terminal": terminal,
    "web": web,
}


def normal(text: str) -> str:
    """A text as a reader compares it: its non-blank lines, trailing spaces dropped."""
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


async def script(person: HttpPerson | TerminalPerson) -> list[str]:
    """A survey with a typed year, a marked year, Back and an edit from the summary; returns
    the summary, the answer and its reasons as shown."""
    step: Callable[[str], Awaitable[None]] = person.press
    await person.start()
    await step("Xizang")
    await person.say("2027")
    await step("Employee insurance")
    await step("« Back")  # the insurance question again
    await step("None")
    await step("None of these")
    await step("2025")  # marked
    await step("Done")
    if "paid late" in person.text:
        await step("No, on time")
    await step("Within the payment period")
    for _ in range(10):
        if "Your answers" in person.text:
            break
        await step("Done" if "pay nothing" in person.text else "None")
    await step("Situation")  # edit from the summary: the special situation
    await step("None of these")
    for _ in range(10):
        if "Your answers" in person.text:
            break
        await step("Done" if "pay nothing" in person.text else "None")
    summary = person.text
    await step("Show my result")
    answer = person.text
    await step("Why?")
    return [summary, answer, person.text]


async def test_the_same_script_gives_the_same_answer_on_every_channel(tmp_path: Path) -> None:
    shown: dict[str, list[str]] = {}
    for name, channel in CHANNELS.items():
        async with channel(tmp_path) as person:  # type: ignore[attr-defined]
            shown[name] = [normal(text) for text in await script(person)]
    summary, answer, why = shown["telegram"]
    assert "Years paid: 2025" in summary
    assert "Waiting period (待遇等待期): 3 months" in answer and "yuan" in answer
    assert why.startswith("Why")
    assert shown["terminal"] == shown["telegram"]
    assert shown["web"] == shown["telegram"]


@pytest.mark.parametrize("channel", sorted(CHANNELS))
async def test_each_channel_answers_the_script(channel: str, tmp_path: Path) -> None:
    """Each channel on its own, so a failure names the channel that went astray."""
    async with CHANNELS[channel](tmp_path) as person:  # type: ignore[attr-defined]
        summary, answer, why = await script(person)
    assert "Your answers" in summary
    assert "Your insurance in 2027 (Xizang)" in answer
    assert "[Xizang" in why
