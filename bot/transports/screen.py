"""What the terminal shows, as plain text, and what it reads; no aiogram here, so `yibao chat`
can draw its first screen, read the person's lines and answer the first press while aiogram
loads (importing it takes seconds: pydantic builds ~700 models)."""

from __future__ import annotations

import codecs
import datetime as dt
import importlib
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
    from bot.settings import Settings
    from bot.survey import Context

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


def first_screen(locale: str) -> str | None:
    """The greeting and language buttons a first /start shows a client in `locale`, or None
    when it shows something else (with a single language it goes straight to the survey)."""
    if len(available()) < 2:
        return None
    labels = [label for _, label in language_choices(locale)]
    text = render_macro("messages.j2", "text", locale, "welcome")
    return screen(text, rows_of(labels, LANGUAGES_PER_ROW))


# How a question's options are laid out (keyboards.question and the terminal's first screen):
# three a row for these and for years, else one a row.
_THREE_A_ROW = ("benefit_year", "repair_years")


def options_per_row(question_id: str, years: bool = False) -> int:
    """How many option buttons a question shows on one row."""
    return 3 if years or question_id in _THREE_A_ROW else 1


def survey_screen(locale: str, ctx: Context) -> str | None:
    """The first question of a fresh survey as the terminal shows it, or None when it is not a
    plain choice (those are all this renders; the bot itself shows the others)."""
    from bot.survey import QUESTIONS, example_date

    answers: dict[str, object] = {}
    question = next((q for q in QUESTIONS if q.relevant(answers, ctx)), None)
    if question is None or question.kind != "choice":
        return None
    example = example_date(question.id, answers, ctx)
    text = render_macro("questions.j2", "prompt", locale, question.id, answers, example)
    options = question.options(answers, ctx)
    labels = [render_macro("questions.j2", "option", locale, question.id, v) for v in options]
    return screen(text, rows_of(labels, options_per_row(question.id)))


def survey_context(settings: Settings) -> Context:
    """What the survey's questions depend on, as the bot builds it for an update."""
    from bot.survey import Context
    from rules import load_policies

    return Context(today=dt.date.today(), policies=load_policies(settings.policy_overrides))


def first_tap_reply(locale: str, line: str, ctx: Context) -> str | None:
    """What the bot answers `line` typed on the first screen shown in `locale`: a language
    button's number starts the survey in that language (commands.on_language_chosen), so its
    first question. None for any other line: only the bot itself can answer those."""
    choices = language_choices(locale)
    if not (line.isdigit() and 0 < int(line) <= len(choices)):
        return None
    return survey_screen(choices[int(line) - 1][0], ctx)


class LineReader:
    """The lines typed into the terminal, read on a daemon thread from launch, so none waits for
    aiogram: kept until a consumer attaches (`yibao chat`'s event loop), then handed to it.
    None marks the end of input."""

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

    def first(self, stop: threading.Event) -> str | None:
        """The first non-blank line, stripped, once typed; None at the end of input or once
        `stop` is set (call wake() after setting it). Kept lines stay kept."""
        with self._changed:
            found: list[str | None] = []

            def ready() -> bool:
                for line in self._kept:
                    if line is None or line.strip():
                        found.append(line and line.strip())
                        return True
                return stop.is_set() or self._sink is not None

            self._changed.wait_for(ready)
            return found[0] if found else None

    def wake(self) -> None:
        """Have first() look at its `stop` again."""
        with self._changed:
            self._changed.notify_all()

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


BOT_MODULE = "bot.transports.terminal"


def _import_bot() -> None:
    importlib.import_module(BOT_MODULE)


def load_while_shown(
    greeting: str,
    locale: str,
    settings: Settings,
    lines: LineReader,
    output: IO[str],
    load: Callable[[], object] = _import_bot,
) -> list[str]:
    """Run `load` (import the bot: aiogram takes seconds) on a thread while the person reads
    `greeting`, on screen already in `locale`; answer a press of its buttons meanwhile, as the
    bot will. Returns once loaded.

    Returns the blocks shown, for run_terminal: it feeds the bot /start and every line typed,
    as always, and does not print again what was shown (the bot's own words, as the tests
    check), so the bot's state is its own, the same as if it had answered from the start.
    """
    loaded = threading.Event()

    def run() -> None:
        try:
            load()
        except Exception:
            pass  # the main thread's own import raises it again, with its traceback
        finally:
            loaded.set()
            lines.wake()

    ctx = survey_context(settings)  # and the survey's modules, before the thread competes
    loader = threading.Thread(target=run, name="yibao-chat-load", daemon=True)
    loader.start()
    shown = [greeting]
    line = lines.first(loaded)
    if line is not None and not loaded.is_set():
        try:
            reply = first_tap_reply(locale, line, ctx)
        except Exception:  # only a head start: the bot answers the line in any case
            logger.debug("no early answer to %r", line, exc_info=True)
            reply = None
        if reply is not None:
            output.write(f"\n{reply}\n")
            output.flush()
            shown.append(reply)
    loaded.wait()
    return shown
