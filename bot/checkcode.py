"""Check codes: the facts of one answer, its date and rules version, packed into a short code.

A clerk types the code into `yibao explain` or `/explain` and gets the same answer; a code from
an older rules version says which version it was and what differs now. The code holds no
personal data: only the survey's facts (region, years, dates, counts).
"""

from __future__ import annotations

import binascii
import datetime as dt
import struct
from dataclasses import dataclass

from rules import REGIONS, Assessment, Profile
from rules.models import FIRST_YEAR, GROUPS

FORMAT = 1
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_EPOCH = dt.date(2020, 1, 1)
_YEARS = 15  # coverage and claim years 2025-2039
_KINDS = ("none", "resident", "employee")
_UNKNOWN = -32768
# format, engine, digest(4), region|group, year, coverage(4), payment, birth, made, repair,
# zero-claim mask, incentive mask, total months, net change /100, crc
_LAYOUT = struct.Struct(">BB4sBBIHHHBHHBh")
MAX_CODE_CHARS = 200


class InvalidCode(ValueError):
    """A code that cannot be read: mistyped, truncated or not ours."""


@dataclass(frozen=True)
class Decoded:
    """What a code holds."""

    profile: Profile
    rules_version: str
    total_months: int
    net_change: int | None


def _days(day: dt.date | None) -> int:
    return 0 if day is None else (day - _EPOCH).days + 1


def _date(days: int) -> dt.date | None:
    return None if days == 0 else _EPOCH + dt.timedelta(days=days - 1)


def _mask(years: list[int]) -> int:
    return sum(1 << (y - FIRST_YEAR) for y in years if FIRST_YEAR <= y < FIRST_YEAR + _YEARS)


def _years(mask: int) -> list[int]:
    return [FIRST_YEAR + i for i in range(_YEARS) if mask >> i & 1]


def _b32encode(data: bytes) -> str:
    bits = len(data) * 8
    pad = -bits % 5
    number, count = int.from_bytes(data, "big") << pad, (bits + pad) // 5
    return "".join(_ALPHABET[number >> 5 * (count - 1 - i) & 31] for i in range(count))


def _b32decode(text: str, size: int) -> bytes:
    number = 0
    for char in text:
        number = number << 5 | _ALPHABET.index(char)
    extra = len(text) * 5 - size * 8
    if not 0 <= extra < 5:
        raise InvalidCode("length")
    return (number >> extra).to_bytes(size, "big")


def encode(profile: Profile, assessment: Assessment) -> str:
    """The check code of one assessed profile, in groups of six characters."""
    if profile.benefit_year >= FIRST_YEAR + _YEARS:
        raise ValueError("benefit years after 2039 have no check code")
    engine, _, digest = assessment.rules_version.partition("-")
    coverage = 0
    for i in range(_YEARS):
        coverage |= _KINDS.index(profile.kind(FIRST_YEAR + i)) << (2 * i)
    group = 0 if profile.group is None else GROUPS.index(profile.group) + 1
    net = assessment.cap.net_change
    body = _LAYOUT.pack(
        FORMAT,
        int(engine),
        bytes.fromhex(digest[:8]),
        REGIONS.index(profile.region) << 4 | group,
        profile.benefit_year - FIRST_YEAR,
        coverage,
        _days(profile.payment_date),
        _days(profile.birth_date),
        _days(profile.today),
        profile.repair_years,
        _mask(profile.zero_claim_years),
        _mask(profile.incentive_used_years),
        assessment.waiting.total_months,
        _UNKNOWN if net is None else net // 100,
    )
    crc = binascii.crc_hqx(body, 0).to_bytes(2, "big")
    text = _b32encode(body + crc)
    return "-".join(text[i : i + 6] for i in range(0, len(text), 6))


def decode(code: str) -> Decoded:
    """The facts, rules version and results a code holds; InvalidCode if it is not readable."""
    # A code is 45 characters plus dashes or spaces: anything much longer is refused before the
    # big-integer decoding below, whose cost grows with the square of the length.
    if len(code) > MAX_CODE_CHARS:
        raise InvalidCode("length")
    text = code.strip().upper().replace("-", "").replace(" ", "")
    text = text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if not text or any(char not in _ALPHABET for char in text):
        raise InvalidCode("characters")
    raw = _b32decode(text, _LAYOUT.size + 2)
    body, crc = raw[:-2], raw[-2:]
    if binascii.crc_hqx(body, 0).to_bytes(2, "big") != crc:
        raise InvalidCode("checksum")
    (
        fmt,
        engine,
        digest,
        region_group,
        year,
        coverage,
        payment,
        birth,
        made,
        repair,
        zero,
        used,
        months,
        net,
    ) = _LAYOUT.unpack(body)
    if fmt != FORMAT or region_group >> 4 >= len(REGIONS) or (region_group & 15) > len(GROUPS):
        raise InvalidCode("format")
    benefit_year = FIRST_YEAR + year
    try:
        profile = Profile(
            region=REGIONS[region_group >> 4],
            benefit_year=benefit_year,
            coverage={
                FIRST_YEAR + i: _KINDS[coverage >> (2 * i) & 3]
                for i in range(benefit_year - FIRST_YEAR)
            },
            payment_date=_date(payment),
            birth_date=_date(birth),
            today=_date(made),
            repair_years=repair,
            zero_claim_years=_years(zero),
            incentive_used_years=_years(used),
            group=None if region_group & 15 == 0 else GROUPS[(region_group & 15) - 1],
        )
    except (ValueError, IndexError):
        raise InvalidCode("facts") from None
    return Decoded(
        profile=profile,
        rules_version=f"{engine}-{digest.hex()}",
        total_months=months,
        net_change=None if net == _UNKNOWN else net * 100,
    )
