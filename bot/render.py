"""The one renderer: Jinja2 templates with gettext, numbers and dates formatted per locale."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.i18n import translations

_BABEL = {"zh_Hans": "zh_Hans_CN", "bo": "bo_CN", "en": "en"}


def _babel_locale(locale: str) -> Locale:
    return Locale.parse(_BABEL.get(locale, locale))


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
    env.install_gettext_translations(translations(locale), newstyle=True)
    babel_locale = _babel_locale(locale)

    def yuan(amount: int | None) -> str:
        return "" if amount is None else format_decimal(amount, locale=babel_locale)

    def date(value: dt.date | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return format_date(value, format="long", locale=babel_locale)

    def years(values: list[int]) -> str:
        return ", ".join(str(v) for v in values)

    env.filters.update(yuan=yuan, date=date, years=years)
    env.globals["locale"] = locale
    return env


def render(template: str, locale: str, **context: Any) -> str:
    """Render `template` in `locale`, trimmed."""
    return environment(locale).get_template(template).render(**context).strip()


def render_macro(template: str, macro: str, locale: str, *args: Any) -> str:
    """Call one macro of a template in `locale`: one paragraph, its white space folded."""
    module = environment(locale).get_template(template).module
    return " ".join(str(getattr(module, macro)(*args)).split())
