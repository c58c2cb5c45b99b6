"""Languages: the one place that maps language codes and loads the gettext catalogues."""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
LOCALES = ("zh_Hans", "bo", "en")

_CODES = {
    "zh": "zh_Hans",
    "zh-hans": "zh_Hans",
    "zh-cn": "zh_Hans",
    "zh-sg": "zh_Hans",
    "zh-hant": "zh_Hans",
    "zh-tw": "zh_Hans",
    "zh-hk": "zh_Hans",
    "bo": "bo",
    "bo-cn": "bo",
    "en": "en",
}


def map_language(code: str | None) -> str:
    """Our locale for a client's language code (`zh-hans`, `bo`, `en-US`, ...)."""
    if not code:
        return DEFAULT_LOCALE
    code = code.strip().lower().replace("_", "-")
    if code in _CODES:
        return _CODES[code]
    return _CODES.get(code.split("-")[0], DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue for `locale`; English msgids need none."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    if locale not in LOCALES:
        raise LookupError(f"unknown locale {locale!r}")
    catalogue = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not catalogue.exists():
        raise LookupError(f"no compiled catalogue {catalogue}: run `pybabel compile -d locales`")
    return Translations.load(str(LOCALES_DIR), [locale], DOMAIN)


def available() -> tuple[str, ...]:
    """The locales that can be used now: English and every compiled catalogue."""
    return tuple(
        locale for locale in LOCALES
        if locale == DEFAULT_LOCALE
        or (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").exists()
    )
