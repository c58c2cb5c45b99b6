"""Check codes hold a person's facts sealed: a clerk with the deployment's key reads them, nobody
else can, and a changed, foreign or old-format code is refused in the person's language."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.session import make_person

from bot import checkcode
from bot.cards import card_text, explain_text, unverifiable_text
from bot.checkcode import InvalidCode, Keyring, UnverifiableCode, decode, encode
from bot.render import render_macro
from bot.settings import Settings, SettingsError, load_settings, parse_card_keys
from rules import Profile, assess, load_policies
from rules.models import GROUPS

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE = re.compile(r"([0-9A-Z]{6}(?:-[0-9A-Z]{1,6})+)")
POLICIES = load_policies()
RELEASED = Profile(
    region="xizang",
    benefit_year=2027,
    group="released",
    birth_date=dt.date(2024, 3, 9),
    today=dt.date(2026, 11, 23),
)
# The same person, minus the two facts a reader must not learn.
PLAIN = RELEASED.model_copy(update={"group": None, "birth_date": None})
# RELEASED as the unkeyed format 1 wrote it (before issue 14): its facts in clear, a CRC.
FORMAT_1 = "040VMY-XYN830-400000-000005-Z84XE0-000000-017ZP2-DT8"
KEY_A, KEY_B = bytes(range(32)), bytes(range(100, 132))
YIBAO = Path(sys.executable).with_name("yibao")


def code_of(profile: Profile, keys: Keyring) -> str:
    return encode(profile, assess(profile, POLICIES), keys)


def facts(profile: Profile) -> dict:
    """A profile's facts; a year absent from coverage and a year marked "none" mean the same."""
    coverage = {y: k for y, k in profile.coverage.items() if k != "none"}
    return {**profile.model_dump(), "coverage": coverage}


def opened(code: str, keys: Keyring) -> dict:
    return facts(decode(code, keys).profile)


def raw(code: str) -> bytes:
    """The code's bytes, as anyone who knows the public layout (Crockford base32) reads them."""
    text = code.replace("-", "")
    number = int("".join(f"{CROCKFORD.index(c):05b}" for c in text), 2)
    size = len(text) * 5 // 8
    return (number >> (len(text) * 5 - size * 8)).to_bytes(size, "big")


def text_key(key: bytes) -> str:
    """A key as CARD_KEYS writes it (URL-safe base64 without padding)."""
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def run_yibao(*args: str, card_keys: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CARD_KEYS"}
    if card_keys is not None:
        env["CARD_KEYS"] = card_keys
    return subprocess.run(
        [str(YIBAO), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_a_released_persons_code_shows_neither_the_group_nor_the_birth_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = Keyring((KEY_A,))
    monkeypatch.setattr(checkcode, "_new_nonce", lambda: b"\x00\x01\x02\x03")
    released, plain = raw(code_of(RELEASED, keys)), raw(code_of(PLAIN, keys))
    # The unsealed start (format, key id, nonce) is the same for both people: it holds no fact.
    assert released[:6] == plain[:6]
    # Format 1 differed in exactly the bytes of the group and the birth date; sealed, a change
    # of those two facts changes the whole rest of the code, so no byte stands for a fact.
    same = sum(a == b for a, b in zip(released[6:], plain[6:], strict=True))
    assert same <= 4, f"{same} of {len(released) - 6} sealed bytes unchanged"
    # Format 1 held the facts in clear: the group (region xizang = 0 in the high half) at byte
    # 6, the birth date as days since 2019-12-31 at bytes 14-15.
    old = raw(FORMAT_1)
    birth_days = (RELEASED.birth_date - dt.date(2020, 1, 1)).days + 1
    assert old[6] == GROUPS.index("released") + 1
    assert old[14:16] == birth_days.to_bytes(2, "big")
    # No 4 bytes of those facts in clear (each window holds at least part of one) appear
    # anywhere in the sealed code.
    clear = old[1:-2]  # without the format byte and the CRC
    windows = {clear[i : i + 4] for i in range(len(clear) - 3)}
    assert not [i for i in range(len(released) - 3) if released[i : i + 4] in windows]


def test_no_byte_of_a_code_but_its_two_header_bytes_stays_put_across_codes() -> None:
    keys = Keyring((KEY_A,))
    codes = [raw(code_of(RELEASED, keys)) for _ in range(40)]
    constant = [i for i in range(len(codes[0])) if len({code[i] for code in codes}) == 1]
    assert constant == [0, 1], "only the format and the key id may be the same every time"


def test_two_codes_of_the_same_facts_differ_and_both_verify() -> None:
    keys = Keyring((KEY_A,))
    first, second = code_of(RELEASED, keys), code_of(RELEASED, keys)
    assert first != second
    assert opened(first, keys) == opened(second, keys) == facts(RELEASED)


def test_a_code_is_76_characters_in_groups_of_six() -> None:
    code = code_of(RELEASED, Keyring((KEY_A,)))
    groups = code.split("-")
    assert len(code.replace("-", "")) == 76
    assert [len(g) for g in groups] == [6] * 12 + [4]
    assert set(code.replace("-", "")) <= set(CROCKFORD)


def test_changing_any_character_is_refused() -> None:
    keys = Keyring((KEY_A,))
    code = code_of(RELEASED, keys).replace("-", "")
    for place, char in enumerate(code):
        for other in CROCKFORD.replace(char, ""):
            changed = code[:place] + other + code[place + 1 :]
            with pytest.raises(InvalidCode):
                decode(changed, keys)
            if place < len(code) - 1:  # the last character also carries padding bits
                with pytest.raises(UnverifiableCode):
                    decode(changed, keys)


def test_a_code_of_key_a_is_refused_under_key_b_and_verifies_while_a_is_kept() -> None:
    sealed_by_a = code_of(RELEASED, Keyring((KEY_A,)))
    with pytest.raises(UnverifiableCode):
        decode(sealed_by_a, Keyring((KEY_B,)))
    rotated = Keyring((KEY_B, KEY_A))  # B is the new key, A kept for the cards made with it
    assert opened(sealed_by_a, rotated) == facts(RELEASED)
    sealed_after = code_of(RELEASED, rotated)
    assert opened(sealed_after, Keyring((KEY_B,))) == facts(RELEASED)
    with pytest.raises(UnverifiableCode):
        decode(sealed_after, Keyring((KEY_A,)))  # new codes are sealed with the first key


def test_the_old_unkeyed_format_is_refused() -> None:
    for keys in (Keyring((KEY_A,)), Keyring((KEY_B, KEY_A)), Keyring.random()):
        with pytest.raises(UnverifiableCode):
            decode(FORMAT_1, keys)


def test_a_code_of_another_session_is_refused() -> None:
    session = Keyring.random()
    code = code_of(RELEASED, session)
    assert opened(code, session) == facts(RELEASED)
    with pytest.raises(UnverifiableCode):
        decode(code, Keyring.random())


@pytest.mark.parametrize(
    "value",
    [
        "not-a-key",
        text_key(KEY_A) + ",short",
        text_key(KEY_A)[:-1],  # 31.x bytes
        text_key(KEY_A) + "AAAA",  # 35 bytes
        text_key(KEY_A).replace("_", "/").replace("-", "+") + "+/",  # standard base64 alphabet
        f"{text_key(KEY_A)},{text_key(KEY_B)},{text_key(KEY_A)}=",  # a key listed twice
        " , ",
    ],
)
def test_a_malformed_card_keys_stops_start_up_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARD_KEYS", value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith("CARD_KEYS: ")
    for part in filter(None, (p.strip() for p in value.split(","))):
        assert part not in str(error.value), "the key's value is never shown"


def test_yibao_chat_does_not_start_with_a_malformed_card_key() -> None:
    secret = text_key(KEY_A)[:40]
    done = run_yibao("chat", card_keys=f"{text_key(KEY_B)},{secret}")
    assert done.returncode == 2
    assert done.stderr.startswith("yibao: CARD_KEYS: key 2 of 2 ")
    assert secret not in done.stderr and text_key(KEY_B) not in done.stderr


def test_a_blank_card_keys_is_unset_and_padding_is_optional() -> None:
    assert load_settings(card_keys="  ").card_keys is None
    both = load_settings(card_keys=f" {text_key(KEY_B)}=, {text_key(KEY_A)} ,")
    assert parse_card_keys(both.card_keys.get_secret_value()) == [KEY_B, KEY_A]


def test_yibao_card_key_prints_fresh_keys_that_card_keys_takes() -> None:
    first, second = (run_yibao("card-key", card_keys=None) for _ in range(2))
    assert first.returncode == second.returncode == 0
    keys = [first.stdout.strip(), second.stdout.strip()]
    assert keys[0] != keys[1]
    parsed = parse_card_keys(load_settings(card_keys=",".join(keys)).card_keys.get_secret_value())
    assert [len(key) for key in parsed] == [32, 32]


def test_a_card_says_what_its_code_holds() -> None:
    assessment = assess(RELEASED, POLICIES)
    keyed = card_text(RELEASED, assessment, "en", Keyring((KEY_A,)))
    assert "sealed: only an office with this deployment's key can read them" in keyed
    assert "yibao explain CODE" in keyed
    session = card_text(RELEASED, assessment, "en", Keyring.random())
    assert "a key that lasts only while this program runs" in session
    assert "yibao explain" not in session, "another process cannot check a session's code"
    chinese = card_text(RELEASED, assessment, "zh_Hans", Keyring((KEY_A,)))
    assert "只有持有本服务密钥的经办机构才能读取" in chinese


def test_without_card_keys_a_card_verifies_in_its_own_session_only() -> None:
    assert Settings(_env_file=None).card_keys is None
    card = card_text(RELEASED, assess(RELEASED, POLICIES), "en")  # this process's own key
    assert "only while this program runs" in card
    code = CODE.search(card).group(1)
    assert "This code is valid" in explain_text(code, POLICIES, "en")
    done = run_yibao("explain", code, card_keys=None)
    assert done.returncode == 2 and "CARD_KEYS is not set" in done.stderr


async def test_explain_in_the_bot_refuses_what_it_cannot_verify_in_the_persons_language() -> None:
    rotated = Settings(_env_file=None, card_keys=f"{text_key(KEY_B)},{text_key(KEY_A)}")
    person = make_person(rotated, user_id=901, language="zh-hans")
    sealed_by_a = code_of(RELEASED, Keyring((KEY_A,)))
    assert "核验码有效" in (await person.say(f"/explain {sealed_by_a}")).text
    refused = unverifiable_text("zh_Hans")
    assert "无法核验" in refused
    tampered = sealed_by_a[:10] + ("0" if sealed_by_a[10] != "0" else "1") + sealed_by_a[11:]
    for code in (tampered, FORMAT_1, code_of(RELEASED, Keyring.random())):
        assert (await person.say(f"/explain {code}")).text == refused
    unreadable = await person.say("/explain 12345")
    assert unreadable.text == render_macro("messages.j2", "text", "zh_Hans", "bad_code")
    only_b = make_person(Settings(_env_file=None, card_keys=text_key(KEY_B)), user_id=902)
    english = unverifiable_text("en")
    assert (await only_b.say(f"/explain {sealed_by_a}")).text == english


@pytest.mark.slow
def test_yibao_explain_verifies_a_code_of_a_kept_key_and_refuses_others() -> None:
    sealed_by_a = code_of(RELEASED, Keyring((KEY_A,)))
    rotated = f"{text_key(KEY_B)},{text_key(KEY_A)}"
    done = run_yibao("explain", sealed_by_a, "--locale", "zh_Hans", card_keys=rotated)
    assert done.returncode == 0, done.stderr
    assert "核验码有效" in done.stdout and "刑满释放" in done.stdout
    refused = run_yibao("explain", sealed_by_a, card_keys=text_key(KEY_B))
    assert refused.returncode == 2
    assert refused.stderr.strip() == unverifiable_text("en")
    old = run_yibao("explain", FORMAT_1, card_keys=rotated)
    assert old.returncode == 2 and "cannot be verified here" in old.stderr
    bad = run_yibao("explain", "x" * 20, card_keys="nope")
    assert bad.returncode == 2 and bad.stderr.startswith("yibao explain: CARD_KEYS: ")
    assert "nope" not in bad.stderr
