"""What a person types, read as they type it: dates, years, whole numbers and option labels.

One reader for the bot (bot/survey.py's parse_text) and the village ledger (bot/ledger.py).
Digits may be ASCII, full-width (０-９, what a Chinese input method types) or Tibetan (༠-༩), and
full-width punctuation (．／－：，) counts as its ASCII twin. A text that does not read raises
InvalidAnswer, whose `reason` picks the reply.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any


class InvalidAnswer(ValueError):
    """An answer a person gave that does not fit the question; `reason` picks the reply."""

    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


class _Ascii(dict[int, str | None]):
    """A str.translate table, filled as characters are met: every decimal digit of any script
    to 0-9, full-width ASCII (U+FF01-FF5E) to ASCII, the ideographic space to a space."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        digit = unicodedata.digit(char, None) if unicodedata.category(char) == "Nd" else None
        if digit is not None:
            value: str | None = str(digit)
        elif 0xFF01 <= code <= 0xFF5E:
            value = chr(code - 0xFEE0)
        elif code == 0x3000:
            value = " "
        else:
            value = char
        self[code] = value
        return value


_ASCII = _Ascii()


def to_ascii(text: str) -> str:
    """`text` with its digits and full-width punctuation as ASCII, other characters as they are:
    "༢༠༢༧" and "２０２７" become "2027", "１５．０３" becomes "15.03"."""
    return text.translate(_ASCII)


# ---------------------------------------------------------------------------------------
# Years

_YEAR = re.compile(r"(?:སྤྱི[\s་]*ལོ|ལོ)?[\s་]*(\d{4})\s*(?:年|ལོ)?[\s་།.。]*")


def parse_year(text: str) -> int:
    """A year typed as 2027, ༢༠༢༧, ２０２７ or 2027年; InvalidAnswer("not_a_year") otherwise."""
    match = _YEAR.fullmatch(to_ascii(text).strip())
    if not match:
        raise InvalidAnswer("not_a_year")
    return int(match[1])


# ---------------------------------------------------------------------------------------
# Dates

_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%Y", "%Y.%m.%d", "%d-%m-%Y")
_CHINESE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")


def parse_date(text: str) -> dt.date:
    """A date typed as 2026-03-15, 15.03.2026, 2026/3/15 or 2026年3月15日, in any digits;
    InvalidAnswer("not_a_date") otherwise."""
    cleaned = re.sub(r"\s*([-./])\s*", r"\1", to_ascii(text).strip())
    match = _CHINESE_DATE.fullmatch(cleaned)
    if match:
        cleaned = "-".join(match.groups())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise InvalidAnswer("not_a_date")


# ---------------------------------------------------------------------------------------
# Whole numbers (amounts in yuan)

_CURRENCY = re.compile(r"人民币|rmb|cny|yuan|元|块|塊|¥|￥|སྒོར[\s་]*མོ|སྒོར", re.IGNORECASE)
_UNITS = {"万": 10_000, "萬": 10_000, "w": 10_000, "千": 1_000, "k": 1_000}
# A multiple of a unit: 2万, 2.5万, 1万2千; then optionally the rest written out in full,
# as many digits as the last unit has zeros (1万2000, never 1万2: said aloud, that is 12,000).
_TERM = re.compile(r"(\d+(?:\.\d+)?)([万萬w千k])")


def parse_number(text: str) -> int:
    """A whole number typed with or without thousands separators or a currency word, in any
    digits, or with 万 (×10,000) and 千 (×1,000): "12,000", "１２０００", "2万", "2.5万", "1万2千".
    InvalidAnswer("not_a_number") otherwise."""
    cleaned = _CURRENCY.sub("", to_ascii(text).strip().lower())
    cleaned = re.sub(r"[\s,_'་]", "", cleaned).rstrip(".。།")
    if re.fullmatch(r"\d{1,12}", cleaned):
        return int(cleaned)
    total, rest, last = Decimal(0), cleaned, None
    while match := _TERM.match(rest):
        unit = _UNITS[match[2]]
        if last is not None and unit >= last:
            raise InvalidAnswer("not_a_number")  # 2千3万: not how an amount is written
        total += Decimal(match[1]) * unit
        rest, last = rest[match.end() :], unit
    if last is None:
        raise InvalidAnswer("not_a_number")
    if rest:
        if not re.fullmatch(r"\d+", rest) or len(rest) != len(str(last)) - 1:
            raise InvalidAnswer("not_a_number")
        total += int(rest)
    if total != total.to_integral_value() or total >= 10**12:
        raise InvalidAnswer("not_a_number")
    return int(total)


# ---------------------------------------------------------------------------------------
# Options, by the label of their button


def _edge(char: str) -> bool:
    """Punctuation, a symbol or a space: what may be around a label (not a vowel sign)."""
    return unicodedata.category(char)[0] in "PSZC"


def normalize_label(text: str) -> str:
    """A label or a typed text for comparing: width and case folded, white space dropped,
    punctuation and symbols around it (a Tibetan shad, a full stop, brackets) dropped."""
    folded = unicodedata.normalize("NFKC", to_ascii(text)).casefold()
    folded = "".join(folded.split())
    start, end = 0, len(folded)
    while start < end and _edge(folded[start]):
        start += 1
    while end > start and _edge(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _short(label: str) -> str:
    """A label without its explanation in brackets: "Newborn (under 90 days)" -> "Newborn"."""
    return re.split(r"\s*[(（]", label, maxsplit=1)[0]


def parse_option(text: str, labels: Iterable[Mapping[str, str]]) -> str | None:
    """The option whose label `text` is, or None.

    `labels` maps options to their labels, one mapping per language, the person's own first:
    the first language in which the typed text names exactly one option decides. A label
    matches whole, or without an explanation in brackets.
    """
    typed = normalize_label(text)
    if not typed:
        return None
    for by_option in labels:
        for shorten in (False, True):
            found = {
                option
                for option, label in by_option.items()
                if normalize_label(_short(label) if shorten else label) == typed
            }
            if len(found) == 1:
                return found.pop()
    return None
