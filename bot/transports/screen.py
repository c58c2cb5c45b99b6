"""What the terminal shows, as plain text; no aiogram here, so `yibao chat` can draw its first
screen before aiogram has loaded (importing it takes seconds: pydantic builds ~700 models)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import TypeVar

from bot.i18n import available
from bot.render import render_macro

LANGUAGES_PER_ROW = 3
T = TypeVar("T")


def client_language_code(lang: str | None) -> str | None:
    """A Telegram-style language code from `--lang` or a POSIX locale like `zh_CN.UTF-8`."""
    code = (lang or os.environ.get("LC_ALL") or os.environ.get("LANG") or "").split(".")[0]
    code = code.split("@")[0].replace("_", "-")
    return None if code in ("", "C", "POSIX") else code


def rows_of(items: Sequence[T], per_row: int) -> list[list[T]]:
    """Items in rows of `per_row` (keyboards are built as plain rows: aiogram's keyboard builder
    deep-copies every button on export)."""
    return [list(items[i : i + per_row]) for i in range(0, len(items), per_row)]


def language_choices(preselected: str | None) -> list[tuple[str, str]]:
    """(locale, label) of each language button: in its own script, the client's first, ticked."""
    choices = []
    for locale in sorted(available(), key=lambda locale: locale != preselected):
        label = render_macro("names.j2", "language", "en", locale)
        choices.append((locale, f"✓ {label}" if locale == preselected else label))
    return choices


def screen(text: str, rows: Sequence[Sequence[str]]) -> str:
    """A message as the terminal prints it: the text, then numbered buttons, a line a row."""
    numbers = itertools.count(1)
    return "\n".join([text, *("  ".join(f"[{next(numbers)}] {b}" for b in row) for row in rows)])


def first_screen(locale: str) -> str | None:
    """The greeting and language buttons a first /start shows a client in `locale`, or None
    when it shows something else (with a single language it goes straight to the survey)."""
    if len(available()) < 2:
        return None
    labels = [label for _, label in language_choices(locale)]
    text = render_macro("messages.j2", "text", locale, "welcome")
    return screen(text, rows_of(labels, LANGUAGES_PER_ROW))
