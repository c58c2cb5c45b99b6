"""The one renderer: Jinja2 templates with gettext, numbers and dates formatted per locale."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache, lru_cache
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.i18n import CLDR, translations

# CLDR has no list patterns for Tibetan (Babel falls back to the root's ASCII ", ", and to English
# for "or"). Tibetan lists: "ཀ་དང་། ཁ། ག" and "ཀ། ཁ་ཡང་ན་ག"; the joiner takes a tsheg after a
# Tibetan letter, a space after a digit or Latin character.
_TIBETAN_LETTER = re.compile(r"[\u0F40-\u0FBC]$")
_TIBETAN_CONJUNCTION = {"standard": "དང་། ", "or": "ཡང་ན་"}
# The list styles used: "and" and "or" (two of CLDR's, the two Tibetan has here).
ListStyle = Literal["standard", "or"]


def _babel_locale(locale: str) -> Locale:
    return Locale.parse(CLDR.get(locale, locale))


def _tibetan_list(items: list[str], style: ListStyle) -> str:
    def joined(item: str, word: str) -> str:
        return item + ("་" if _TIBETAN_LETTER.search(item) else " ") + word

    if len(items) < 2:
        return "".join(items)
    head = [joined(items[0], _TIBETAN_CONJUNCTION["standard"]), *items[1:-1]]
    if style == "or":
        last = joined(items[-2], _TIBETAN_CONJUNCTION["or"])
        if not _TIBETAN_LETTER.match(items[-1][:1]):
            last += " "  # before a digit
        return "། ".join([*items[:-2], last]) + items[-1]
    return head[0] + "། ".join([*head[1:], items[-1]])


def listing(items: Any, locale: str, style: ListStyle = "standard") -> str:
    """Items as a list people read in `locale`: "2025, 2026, and 2027", "2025、2026和2027",
    "2025 དང་། 2026། 2027"; `style` "or" for a choice."""
    texts = [str(item).strip() for item in items]
    texts = [text for text in texts if text]
    if locale == "bo":
        return _tibetan_list(texts, style)
    if not texts:
        return ""
    return format_list(texts, style=style, locale=_babel_locale(locale))


STEP_LINES_KEPT = 16384


@cache
def environment(locale: str) -> Environment:
    """A Jinja2 environment with this locale's catalogue and formatters installed."""
    env = Environment(
        loader=PackageLoader("bot", "templates"),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    catalogue = translations(locale)

    # Jinja2's new-style gettext, without its two extra calls through the template context per
    # message (an answer with its reasons has hundreds): the same semantics, a translation
    # always formatted with its variables, `num` given to ngettext's.
    def gettext(message: str, **variables: Any) -> str:
        return catalogue.gettext(message) % variables

    def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return catalogue.ngettext(singular, plural, num) % variables

    env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext)

    def step_text(step: Any) -> str:
        """A step's sentence (steps.j2 `step`, white space folded), as `yibao assess` keeps
        them: the reasons of one answer repeat the sentences of thousands of others."""
        from bot.assess import step_text as kept

        return kept(step, locale)

    lines: dict[tuple[Any, ...], str] = {}

    def step_line(step: Any) -> str:
        """A step as the reasons list it (steps.j2 `line`: the sentence, the clause, whose
        reading), kept like the sentences (at most STEP_LINES_KEPT a language)."""
        key = (step.rule, repr(step.params), step.cite, step.interpretation, step.source)
        found = lines.get(key)
        if found is None:
            if len(lines) >= STEP_LINES_KEPT:
                lines.clear()
            found = lines[key] = render_macro("steps.j2", "line", locale, step)
        return found

    env.globals.update(step_text=step_text, step_line=step_line)
    babel_locale = _babel_locale(locale)

    # Babel formats an amount or a date in tens of microseconds, and an answer shows dozens of
    # them, mostly the same few (a cap, a premium, the benefit start): each is formatted once.
    @lru_cache(maxsize=4096)
    def yuan(amount: int | None) -> str:
        return "" if amount is None else format_decimal(amount, locale=babel_locale)

    @lru_cache(maxsize=4096)
    def date(value: dt.date | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return format_date(value, format="long", locale=babel_locale)

    def years(values: list[int]) -> str:
        return listing(values, locale)

    def as_list(values: Any, style: ListStyle = "standard") -> str:
        return listing(values, locale, style)

    env.filters.update(yuan=yuan, date=date, years=years, listing=as_list)
    env.globals["locale"] = locale
    return env


# Chinese sets no space after its own punctuation: the templates join sentences and clauses
# with one, which in Chinese text reads as a stray gap ("起享受待遇。 如在…").
_CHINESE_GAP = re.compile(r"(?<=[。？！：；，、）】」』])[ \t]+")


def _finish(text: str, locale: str) -> str:
    return _CHINESE_GAP.sub("", text) if locale.startswith("zh") else text


def render(template: str, locale: str, **context: Any) -> str:
    """Render `template` in `locale`, trimmed."""
    return _finish(environment(locale).get_template(template).render(**context).strip(), locale)


def render_macro(template: str, macro: str, locale: str, *args: Any) -> str:
    """Call one macro of a template in `locale`: one paragraph, its white space folded."""
    module = environment(locale).get_template(template).module
    return _finish(" ".join(str(getattr(module, macro)(*args)).split()), locale)
