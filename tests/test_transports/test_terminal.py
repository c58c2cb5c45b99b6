"""`yibao chat`: the bot driven through text streams, and the real console script."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.screen import Screen, console_chat

from bot.settings import load_settings
from bot.transports.terminal import client_language_code, run_terminal

BUTTON = re.compile(r"^\[1\] \S", re.MULTILINE)


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A handler failing inside the terminal is only logged, so fail the test on it."""
    yield
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def chat(lines: str) -> tuple[int, Screen]:
    """Run the terminal over `lines` until their end; return the exit code and the screen."""
    screen = Screen()
    code = await run_terminal(load_settings(), io.StringIO(lines), screen, "en")
    return code, screen


async def test_launch_shows_numbered_buttons_and_eof_exits_0(clean_env: Path) -> None:
    code, screen = await chat("")
    assert code == 0
    assert screen.blocks, "nothing printed at launch"
    first = screen.blocks[0]
    assert BUTTON.search(first), first
    assert not first.startswith("["), "the question text comes before the buttons"


async def test_typing_a_number_presses_that_button(clean_env: Path) -> None:
    _, before = await chat("")
    _, after = await chat("1\n")
    assert len(after.blocks) > len(before.blocks)
    assert after.blocks[-1] != before.blocks[-1]
    assert BUTTON.search(after.blocks[-1])


async def test_help_command_is_answered(clean_env: Path) -> None:
    _, before = await chat("\n\n")  # empty lines are ignored
    _, after = await chat("/help\n")
    # The help, then the screen it interrupted (the language choice) with its buttons again.
    assert len(after.blocks) == len(before.blocks) + 2
    assert "/start" in after.blocks[-2]
    assert BUTTON.search(after.blocks[-1])


async def test_number_without_such_button_is_text(clean_env: Path) -> None:
    code, screen = await chat("99\n")
    assert code == 0
    assert len(screen.blocks) >= 1


async def test_reads_a_pipe_without_blocking_the_loop(clean_env: Path) -> None:
    read_fd, write_fd = os.pipe()
    screen = Screen()
    with open(read_fd, encoding="utf-8") as reader:
        task = asyncio.create_task(run_terminal(load_settings(), reader, screen, "en"))
        # The loop keeps running while nothing has been typed yet.
        for _ in range(200):
            await asyncio.sleep(0.01)
            if screen.blocks:
                break
        assert screen.blocks and not task.done()
        os.write(write_fd, b"1\n")
        os.close(write_fd)
        assert await asyncio.wait_for(task, 20) == 0
    assert len(screen.blocks) >= 2


@pytest.mark.parametrize(
    ("lang", "env", "expected"),
    [
        ("bo", "en_US.UTF-8", "bo"),
        (None, "zh_CN.UTF-8", "zh-CN"),
        (None, "C.UTF-8", None),
        (None, "", None),
    ],
)
def test_language_code(
    monkeypatch: pytest.MonkeyPatch, lang: str | None, env: str, expected: str | None
) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", env)
    assert client_language_code(lang) == expected


@pytest.mark.slow
def test_console_script_chat(tmp_path: Path) -> None:
    result = console_chat(tmp_path, "1\n/help\n\n")
    assert result.returncode == 0, result.stderr
    assert BUTTON.search(result.stdout)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("lang", "ticked"),
    [("en", "English"), ("zh-CN", "中文"), ("bo", "བོད་ཡིག"), ("fr", "English"), (None, "中文")],
)
async def test_the_greeting_ticks_the_clients_language_first(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, lang: str | None, ticked: str
) -> None:
    # No --lang: the POSIX locale ($LANG) is the client's language.
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    screen = Screen()
    await run_terminal(load_settings(), io.StringIO(""), screen, lang)
    assert re.search(rf"^\[1\] ✓ {ticked}  \[2\] ", screen.blocks[0], re.MULTILINE)


@pytest.mark.slow
def test_console_script_shows_the_greeting_once(tmp_path: Path) -> None:
    result = console_chat(tmp_path, "1\n", "--lang", "bo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("[1] ✓ བོད་ཡིག") == 1
    # then the first question, in Tibetan, with its own buttons
    assert result.stdout.index("[1] ✓ བོད་ཡིག") < result.stdout.rindex("[1] ")


def test_light_commands_do_not_load_aiogram() -> None:
    # Seconds of start-up: only the Telegram transports need it; the conversation and the
    # terminal (`yibao chat`) do not.
    code = (
        "import sys; from bot.cli import build_parser; build_parser();"
        "import bot.transports.screen, bot.transports.terminal, bot.conversation, bot.ledger,"
        " bot.assess;"
        "print('aiogram' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
