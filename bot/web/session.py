"""The web page's anonymous sessions and signed forms: random ids, keyed hashes, no login.

A visitor's session id is 32 random bytes in a cookie. The store never sees it: the person's
number that keys their conversation is a keyed hash of it (negative, so it is nobody's
Telegram id). Every page carries a form token: a fresh random nonce signed with the session
(CSRF protection: a page of another site cannot make one), whose hash is the update id the
post is claimed under, so a form sent twice is applied once.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

SESSION_COOKIE = "yibao_session"
VOLUNTEER_COOKIE = "yibao_volunteer"
_SESSION = re.compile(r"[A-Za-z0-9_-]{43}")
_FORM = re.compile(r"([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{32})")
_ID_BITS = 62


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Sessions:
    """Session ids, the numbers and update ids made from them, and form tokens, under `key`."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, *parts: str) -> bytes:
        message = "\0".join((purpose, *parts)).encode()
        return hmac.digest(self._key, message, "sha256")

    @staticmethod
    def new() -> str:
        """A fresh session id (43 URL-safe characters)."""
        return secrets.token_urlsafe(32)

    @staticmethod
    def valid(session: str | None) -> bool:
        """Whether a cookie's value has the shape of a session id (anything may come)."""
        return session is not None and _SESSION.fullmatch(session) is not None

    def person(self, session: str) -> int:
        """The number that keys the session's conversation: negative, below 2**62."""
        return -(int.from_bytes(self._mac("person", session)[:8], "big") >> (64 - _ID_BITS)) - 1

    def form_token(self, session: str) -> str:
        """A token for one page's forms: a fresh nonce and its signature for `session`."""
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{_b64(self._mac('form', session, nonce))[:32]}"

    def update_id(self, session: str, token: str | None) -> int | None:
        """The update id a post with `token` is claimed under, or None when the token is
        missing, malformed or not signed for `session` (a forged or cross-site post)."""
        found = _FORM.fullmatch(token or "")
        if found is None:
            return None
        nonce, signature = found.groups()
        wanted = _b64(self._mac("form", session, nonce))[:32]
        if not hmac.compare_digest(signature, wanted):
            return None
        return int.from_bytes(self._mac("update", session, nonce)[:8], "big") >> 1

    @staticmethod
    def any_update_id() -> int:
        """An update id for a page that is only looked at (a GET): never claimed before."""
        return secrets.randbits(63)

    def volunteer_pass(self, token: str) -> str:
        """The volunteer cookie's value for the volunteer token `token`: it stops opening the
        desk when the token changes."""
        return _b64(self._mac("volunteer", token))

    def is_volunteer(self, cookie: str | None, token: str | None) -> bool:
        """Whether the volunteer cookie holds the pass of the current token."""
        if not cookie or not token:
            return False
        return hmac.compare_digest(cookie, self.volunteer_pass(token))

    def counting_secret(self) -> bytes:
        """The secret the campaign's once-a-day tags are made with (shared by every process
        with the same key, so a person served by two counts once)."""
        return self._mac("yibao: counting once a day")
