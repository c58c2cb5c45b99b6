"""`yibao chat` answers a press on the greeting while aiogram still loads: the same words, and
the same conversation afterwards, as when the bot answers it itself."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.screen import Screen, console_chat

from bot.i18n import available, client_locale
from bot.settings import Settings, load_settings
from bot.transports.screen import (
    LineReader,
    client_language_code,
    first_screen,
    first_tap_reply,
    load_while_shown,
    survey_context,
)
from bot.transports.terminal import run_terminal


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A handler failing inside the terminal is only logged, so fail the test on it."""
    yield
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    return load_settings()


async def bot_alone(settings: Settings, typed: str, lang: str | None) -> list[str]:
    """What the bot prints for `typed`, answering everything itself."""
    screen = Screen()
    await run_terminal(settings, io.StringIO(typed), screen, lang)
    return screen.blocks


def greeting_locale(settings: Settings, lang: str | None) -> str:
    return client_locale(client_language_code(lang), settings.default_locale)


LANGS = ["en", "zh-CN", "bo", None]
BUTTONS = [str(n) for n in range(1, 4)]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("button", BUTTONS)
async def test_the_early_reply_is_the_bots_own(
    settings: Settings, lang: str | None, button: str
) -> None:
    if int(button) > len(available()):
        pytest.skip("fewer languages")
    locale = greeting_locale(settings, lang)
    early = first_tap_reply(locale, button, survey_context(settings))
    blocks = await bot_alone(settings, f"{button}\n", lang)
    assert blocks[0] == first_screen(locale)
    assert early == blocks[1], "the region question, in the language chosen"


@pytest.mark.parametrize("line", ["0", "4", "99", "/help", "hello", "English"])
def test_only_a_language_press_is_answered_early(settings: Settings, line: str) -> None:
    assert len(available()) == 3
    assert first_tap_reply("en", line, survey_context(settings)) is None


@pytest.mark.parametrize("lang", LANGS)
async def test_before_aiogram_loads_the_press_is_answered_and_the_chat_goes_on_alike(
    settings: Settings, lang: str | None
) -> None:
    typed = "2\n1\n/help\n"
    alone = await bot_alone(settings, typed, lang)
    locale = greeting_locale(settings, lang)
    greeting = first_screen(locale)
    assert greeting == alone[0]
    early = Screen()

    def load() -> None:
        """Loading lasts until the press has been answered without it."""
        deadline = time.monotonic() + 20
        while not early.blocks and time.monotonic() < deadline:
            time.sleep(0.01)

    read_fd, write_fd = os.pipe()
    os.write(write_fd, typed.encode())
    os.close(write_fd)
    with open(read_fd, encoding="utf-8") as stream:
        lines = LineReader(stream)
        shown = load_while_shown(greeting, locale, settings, lines, early, load)
        assert early.blocks == [alone[1]], "answered before loading ended, as the bot does"
        assert shown == alone[:2]
        later = Screen()
        assert await run_terminal(settings, lines, later, lang, shown) == 0
    assert later.blocks == alone[2:], "the bot answered the press again, silently, and goes on"


async def test_after_aiogram_loads_the_bot_answers_the_press(settings: Settings) -> None:
    alone = await bot_alone(settings, "1\n1\n", "en")
    greeting = first_screen("en")
    early = Screen()
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8") as stream:
        lines = LineReader(stream)
        shown = load_while_shown(greeting, "en", settings, lines, early, lambda: None)
        assert shown == [greeting] and early.blocks == []
        os.write(write_fd, b"1\n1\n")
        os.close(write_fd)
        later = Screen()
        await run_terminal(settings, lines, later, "en", shown)
    assert later.blocks == alone[1:]


async def test_an_early_block_the_bot_does_not_say_is_not_taken_for_its_own(
    settings: Settings,
) -> None:
    alone = await bot_alone(settings, "1\n", "en")
    later = Screen()
    await run_terminal(settings, io.StringIO("1\n"), later, "en", [alone[0], "Something else"])
    assert later.blocks == alone[1:]


def test_line_reader_keeps_lines_until_attached() -> None:
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8") as stream:
        lines = LineReader(stream)
        os.write(write_fd, "\n  \n 1 \n中文\n".encode())
        assert lines.first(threading.Event()) == "1"
        os.close(write_fd)
        got: list[str | None] = []
        done = threading.Event()

        def sink(line: str | None) -> bool:
            got.append(line)
            if line is None:
                done.set()
            return True

        lines.attach(sink)
        assert done.wait(10)
    assert got == ["\n", "  \n", " 1 \n", "中文\n", None]


@pytest.mark.slow
async def test_console_chat_shows_what_the_bot_says(tmp_path: Path, settings: Settings) -> None:
    # The real script, "1" typed ahead (answered early, before aiogram loads), then a region.
    result = console_chat(tmp_path, "1\n1\n", "--lang", "bo")
    assert result.returncode == 0, result.stderr
    alone = await bot_alone(settings, "1\n1\n", "bo")
    assert result.stdout == "".join(f"\n{block}\n" for block in alone)
