"""Check codes: the facts of one answer, its date and rules version, sealed into a short code.

A clerk types the code into `yibao explain` or `/explain` and gets the same answer; a code from
an older rules version says which version it was and what differs now. The facts (region, group,
birth date, years, dates, counts) are encrypted and authenticated with the deployment's key
(CARD_KEYS): without it a code reads as random bytes, and a code changed in any character, made
with another key or in the unkeyed format of before (format 1) cannot be verified.

Layout, 47 bytes written as 76 Crockford base32 characters in groups of six:

    format (1) | key id (1) | nonce (4) | AES-256-GCM-SIV(facts (25)) + tag (16)

The format and key id are authenticated as associated data. The nonce is 4 random bytes, padded
with zeros to the 12 GCM-SIV takes: GCM-SIV is nonce-misuse resistant (RFC 8452), so two codes
that share a nonce (about one pair in 2^32) reveal only whether they hold the very same facts, and
stay confidential and unforgeable otherwise. Plain AES-GCM would need all 12 random bytes (13
characters more), because a repeated GCM nonce gives away the key stream and the forgery key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import struct
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from bot.settings import CARD_KEY_BYTES, Settings, load_settings, parse_card_keys
from rules import REGIONS, Assessment, Profile
from rules.models import FIRST_YEAR, GROUPS, Coverage

log = logging.getLogger("yibao.checkcode")

FORMAT = 2  # 1 was the unkeyed layout (facts in clear, a CRC): refused since issue 14
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_EPOCH = dt.date(2020, 1, 1)
_YEARS = 15  # coverage and claim years 2025-2039
_KINDS: tuple[Coverage, ...] = ("none", "resident", "employee")
_UNKNOWN = -32768
_HEADER = struct.Struct(">BB")  # format, key id
# engine, digest(4), region|group, year, coverage(4), payment, birth, made, repair,
# zero-claim mask, incentive mask, total months, net change /100
_FACTS = struct.Struct(">B4sBBIHHHBHHBh")
_NONCE_BYTES = 4
_TAG_BYTES = 16
_SIZE = _HEADER.size + _NONCE_BYTES + _FACTS.size + _TAG_BYTES
CODE_CHARS = -(-_SIZE * 8 // 5)  # 76
_OLD_CHARS = 45  # a format-1 code
MAX_CODE_CHARS = 200


class InvalidCode(ValueError):
    """A code that cannot be read: mistyped characters, wrong length, not a code at all."""


class UnverifiableCode(InvalidCode):
    """A code of the right shape that this deployment cannot verify: another key (or none of
    ours), a changed character, or the unkeyed format of before."""


def _key_id(key: bytes) -> int:
    """One byte naming a key, so a code finds its key among several without trying them all."""
    return hashlib.sha256(b"yibao card key id\0" + key).digest()[0]


def _new_nonce() -> bytes:
    return secrets.token_bytes(_NONCE_BYTES)


@dataclass(frozen=True)
class Keyring:
    """The keys that seal and open check codes.

    `keys`: 32-byte AES-256-GCM-SIV keys, newest first; the first seals new codes, every one
    opens. `session_only`: a random key of this process (CARD_KEYS unset): its codes verify only
    until the process ends, and the card says so. ValueError for an empty list or a key of
    another size.
    """

    keys: tuple[bytes, ...]
    session_only: bool = False

    def __post_init__(self) -> None:
        if not self.keys or any(len(key) != CARD_KEY_BYTES for key in self.keys):
            raise ValueError(f"a keyring holds one or more keys of {CARD_KEY_BYTES} bytes")

    @classmethod
    def random(cls) -> Keyring:
        """A keyring of one fresh random key, known to this process only."""
        return cls((secrets.token_bytes(CARD_KEY_BYTES),), session_only=True)

    def seal(self, facts: bytes) -> bytes:
        """`facts` sealed with the newest key: header, nonce, ciphertext and tag."""
        key = self.keys[0]
        header = _HEADER.pack(FORMAT, _key_id(key))
        nonce = _new_nonce()
        return header + nonce + AESGCMSIV(key).encrypt(_padded(nonce), facts, header)

    def open(self, sealed: bytes) -> bytes:
        """The facts of a sealed code; UnverifiableCode unless one of the keys opens it."""
        header, nonce, body = sealed[:2], sealed[2 : 2 + _NONCE_BYTES], sealed[2 + _NONCE_BYTES :]
        fmt, key_id = _HEADER.unpack(header)
        if fmt != FORMAT:
            raise UnverifiableCode("format")
        # Key ids are one byte: two keys may share one, so each key with that id is tried.
        for key in self.keys:
            if _key_id(key) == key_id:
                try:
                    return AESGCMSIV(key).decrypt(_padded(nonce), body, header)
                except InvalidTag:
                    continue
        raise UnverifiableCode("key")


def _padded(nonce: bytes) -> bytes:
    return nonce + bytes(12 - len(nonce))


@cache
def _configured(text: str) -> Keyring:
    return Keyring(tuple(parse_card_keys(text)))


@cache
def _process_keyring() -> Keyring:
    configured = load_settings().card_keys
    if configured is not None:
        return _configured(configured.get_secret_value())
    log.info("CARD_KEYS is not set: check codes verify only until this process stops")
    return Keyring.random()


def keyring(settings: Settings | None = None) -> Keyring:
    """This deployment's keys: CARD_KEYS of `settings`, else of the environment and `.env`, else
    a random key of this process (the same one for every call).

    SettingsError if the environment's settings are invalid (start-up has then already stopped).
    """
    if settings is not None and settings.card_keys is not None:
        return _configured(settings.card_keys.get_secret_value())
    return _process_keyring()


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
    if not 0 <= extra < 5 or number & ((1 << extra) - 1):
        raise InvalidCode("length")  # or a last character whose unused bits are not zero
    return (number >> extra).to_bytes(size, "big")


def encode(profile: Profile, assessment: Assessment, keys: Keyring | None = None) -> str:
    """The check code of one assessed profile, sealed with the newest of `keys` (default: this
    deployment's, see `keyring`): 76 characters in groups of six joined by "-".

    ValueError for a benefit year after 2039 or a date before 2020.
    """
    if profile.benefit_year >= FIRST_YEAR + _YEARS:
        raise ValueError("benefit years after 2039 have no check code")
    engine, _, digest = assessment.rules_version.partition("-")
    coverage = 0
    for i in range(_YEARS):
        coverage |= _KINDS.index(profile.kind(FIRST_YEAR + i)) << (2 * i)
    group = 0 if profile.group is None else GROUPS.index(profile.group) + 1
    net = assessment.cap.net_change
    try:
        facts = _FACTS.pack(
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
    except struct.error as error:
        raise ValueError(f"a fact out of the code's range: {error}") from None
    text = _b32encode((keys or keyring()).seal(facts))
    return "-".join(text[i : i + 6] for i in range(0, len(text), 6))


def decode(code: str, keys: Keyring | None = None) -> Decoded:
    """The facts, rules version and results a code holds, opened with `keys` (default: this
    deployment's, see `keyring`).

    InvalidCode if it is not readable (characters, length); UnverifiableCode (a subclass) if it
    has a code's shape but none of the keys opens it, or it is a format-1 code.
    """
    # A code is 76 characters plus dashes or spaces: anything much longer is refused before the
    # big-integer decoding below, whose cost grows with the square of the length.
    if len(code) > MAX_CODE_CHARS:
        raise InvalidCode("length")
    text = code.strip().upper().replace("-", "").replace(" ", "")
    text = text.translate(str.maketrans("OIL", "011"))
    if not text or any(char not in _ALPHABET for char in text):
        raise InvalidCode("characters")
    if len(text) == _OLD_CHARS:
        raise UnverifiableCode("format 1")
    facts = (keys or keyring()).open(_b32decode(text, _SIZE))
    (
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
    ) = _FACTS.unpack(facts)
    # Sealed by a key of ours, so made by us: facts out of range mean a code of a newer layout.
    if region_group >> 4 >= len(REGIONS) or (region_group & 15) > len(GROUPS):
        raise UnverifiableCode("facts")
    benefit_year = FIRST_YEAR + year
    made_on = _date(made)
    if made_on is None:
        raise UnverifiableCode("facts")  # every code is made on some day
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
            today=made_on,
            repair_years=repair,
            zero_claim_years=_years(zero),
            incentive_used_years=_years(used),
            group=None if region_group & 15 == 0 else GROUPS[(region_group & 15) - 1],
        )
    except (ValueError, IndexError):
        raise UnverifiableCode("facts") from None
    return Decoded(
        profile=profile,
        rules_version=f"{engine}-{digest.hex()}",
        total_months=months,
        net_change=None if net == _UNKNOWN else net * 100,
    )
