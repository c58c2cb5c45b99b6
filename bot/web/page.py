"""The conversation's screens as one HTML page, in the page's language.

The screens' words come from the core (rendered with the bot's templates and catalogues);
the page around them is bot/templates/web/page.j2, rendered by the same Jinja2 environment
(bot/render.py) with HTML escaping on. Nothing is loaded from anywhere: the style sheet is
inline, the fonts are the system's.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from bot.conversation import Screen
from bot.render import environment
from bot.survey import BY_ID

# The commands every page offers at its foot, as the bot's slash commands.
COMMANDS = ("help", "about", "language", "restart", "forget")
_URL = re.compile(r"https?://[^\s<>\"'()（），。、]+")
_LANG = {"zh_Hans": "zh-Hans"}


def html_lang(locale: str) -> str:
    """The `lang` attribute of a locale: a BCP 47 tag (zh-Hans, bo, en)."""
    return _LANG.get(locale, locale)


@cache
def _html(locale: str) -> Environment:
    """The renderer's environment for `locale` (catalogue, filters), escaping HTML."""
    return environment(locale).overlay(autoescape=True)


@cache
def style() -> tuple[Markup, str]:
    """The inline style sheet, and its hash for the Content-Security-Policy."""
    css = _html("en").get_template("web/style.css.j2").render().strip()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return Markup(css), f"'sha256-{digest}'"  # our own file, no person's text


def _parts(paragraph: str) -> list[tuple[str, bool]]:
    """A paragraph as (text, is_link) runs: web addresses become links."""
    parts: list[tuple[str, bool]] = []
    last = 0
    for found in _URL.finditer(paragraph):
        parts += [(paragraph[last : found.start()], False), (found.group(), True)]
        last = found.end()
    parts.append((paragraph[last:], False))
    return [part for part in parts if part[0]]


@dataclass(frozen=True)
class WebButton:
    label: str
    data: str
    url: str
    lang: str | None  # a language button's own language
    pressed: bool | None  # a year marked (True) or not (False); None for other buttons


def _button(label: str, data: str, url: str) -> WebButton:
    lang = html_lang(data[2:]) if data.startswith("l:") else None
    pressed = None
    if label[:1] in ("☑", "☐"):
        pressed = label[:1] == "☑"
    return WebButton(label, data, url, lang, pressed)


def _screen(screen: Screen) -> dict[str, Any]:
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", screen.text) if p.strip()]
    return {
        "paragraphs": [_parts(p) for p in paragraphs],
        "rows": [[_button(b.label, b.data, b.url) for b in row] for row in screen.buttons],
    }


def typed_input(question: str | None) -> str | None:
    """Whether the question asked now takes a typed answer: "numeric" for a year, "text" for a
    date or an amount, None for one answered with its buttons only."""
    found = BY_ID.get(question or "")
    if found is None:
        return None
    if found.bounds is not None and found.kind in ("choice", "years"):
        return "numeric"
    return None if found.kind in ("choice", "years") else "text"


def render_page(
    locale: str,
    screens: list[Screen],
    *,
    form: str,
    question: str | None = None,
    notice: str | None = None,
    volunteer_link: bool = False,
    volunteer_form: bool = False,
    bare: bool = False,
) -> str:
    """The page: a notice (the page's own words), the screens in order, the answer box when
    `question` takes a typed answer, and the commands; `form` signs every form. `bare`: a
    page of a notice only, with a link to the questions instead of the commands."""
    css, _ = style()
    return (
        _html(locale)
        .get_template("web/page.j2")
        .render(
            lang=html_lang(locale),
            css=css,
            notice=notice,
            screens=[_screen(s) for s in screens],
            form=form,
            typed=typed_input(question),
            commands=COMMANDS,
            volunteer_link=volunteer_link,
            volunteer_form=volunteer_form,
            bare=bare,
        )
    )
