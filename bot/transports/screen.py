"""What the terminal shows, as plain text, and what it reads: a screen with numbered buttons,
the button layout every channel shares, and the lines typed, read on a thread."""

from __future__ import annotations

import codecs
import io
import itertools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, TypeVar

from bot.i18n import available
from bot.render import render_macro

if TYPE_CHECKING:
    pass

LANGUAGES_PER_ROW = 3
logger = logging.getLogger(__name__)
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


class LineReader:
    """The lines typed into the terminal, read on a daemon thread from launch: kept until a
    consumer attaches (`yibao chat`'s event loop), then handed to it. None marks the end of
    input."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._kept: list[str | None] = []
        self._sink: Callable[[str | None], bool] | None = None
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="yibao-chat-input", daemon=True).start()

    def attach(self, sink: Callable[[str | None], bool]) -> None:
        """Hand every line, those kept so far first, to `sink`; it returns False once it is gone."""
        with self._changed:
            for line in self._kept:
                sink(line)
            self._kept.clear()
            self._sink = sink

    def _put(self, line: str | None) -> bool:
        with self._changed:
            sink = self._sink
            if sink is None:
                self._kept.append(line)
                self._changed.notify_all()
                return True
        return sink(line)

    def _read(self) -> None:
        """Feed lines until the end of input."""
        stream = self._stream
        try:
            fd = stream.fileno()
        except (io.UnsupportedOperation, AttributeError, ValueError):
            fd = None
        if fd is None:
            while line := stream.readline():
                if not self._put(line):
                    return
        else:
            # Raw reads, not the buffered stream: a daemon thread blocked inside a buffered
            # reader's lock makes interpreter shutdown abort after Ctrl-C.
            decoder = codecs.getincrementaldecoder(getattr(stream, "encoding", None) or "utf-8")(
                errors="replace"
            )
            pending = ""
            while chunk := os.read(fd, 65536):
                pending += decoder.decode(chunk)
                *lines, pending = pending.split("\n")
                for line in lines:
                    if not self._put(line + "\n"):
                        return
            if pending and not self._put(pending):
                return
        self._put(None)
