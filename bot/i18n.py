"""Languages: the one place that maps language codes and loads the gettext catalogues."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

# The catalogues: in an installed wheel, compiled into the package (bot/locales/, put there by
# setup.py); in a source checkout or an editable install, the repository's locales/ beside bot/.
_PACKAGED = Path(__file__).resolve().parent / "locales"
_CHECKOUT = Path(__file__).resolve().parent.parent / "locales"
LOCALES_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
# Every language the project speaks, declared here only: its catalogue's name, and the CLDR
# locale Babel formats its numbers, dates and lists with.
CLDR = {"zh_Hans": "zh_Hans_CN", "bo": "bo_CN", "en": "en"}
LOCALES = tuple(CLDR)

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


def client_locale(code: str | None, default: str) -> str:
    """The locale to answer a client in before it has chosen one: its language if we have it."""
    locale = map_language(code) if code else default
    return locale if locale in available() else default


def _catalogue(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalogue for `locale`: the compiled .mo when current, else compiled in memory."""
    if locale not in LOCALES:
        raise LookupError(f"unknown locale {locale!r}")
    po, mo = _catalogue(locale), _catalogue(locale).with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if not po.exists():
        if locale == DEFAULT_LOCALE:
            return NullTranslations()  # English msgids read as they are
        raise LookupError(f"no catalogue for {locale}: {po} is missing")
    # A fresh clone has only the .po files: compile in memory rather than write to the package.
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def available() -> tuple[str, ...]:
    """The locales this process can use: English and every locale with a catalogue.

    Read once: every update asks, and catalogues do not come and go while the bot runs.
    """
    return tuple(
        locale
        for locale in LOCALES
        if locale == DEFAULT_LOCALE
        or _catalogue(locale).exists()
        or _catalogue(locale).with_suffix(".mo").exists()
    )
