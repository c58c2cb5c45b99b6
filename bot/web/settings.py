"""The web page's settings, beside the deployment's (bot/settings.py): read when `yibao web`
starts, from the environment or `.env`; a bad value stops start-up naming the setting."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bot.settings import Settings, SettingsError, load_as

# The bot id the web page's records are filed under (conversations, processed forms): Telegram
# bot ids are positive and 0 holds the rows kept before bot ids (bot/storage/migrate.py), so
# -1 is nobody's. Its people's ids are negative too (bot/web/session.py): Telegram user ids
# are positive, so no /forget on Telegram reaches the web's records, nor the other way round.
WEB_BOT_ID = -1
KEY_FILE = "web-session.key"
KEY_BYTES = 32
_KEY = re.compile(r"[A-Za-z0-9_-]{43}=?")


class WebSettings(Settings):
    """Settings of `yibao web`: the deployment's (state store, retention, languages, contacts,
    card keys) and the page's own."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    web_host: str = "127.0.0.1"
    web_port: int = Field(8081, ge=1, le=65535)
    # People who type it at /volunteer get the volunteer desk ("Next person").
    web_volunteer_token: SecretStr | None = None
    # Behind HTTPS (a reverse proxy that terminates TLS): the session cookie is sent only there.
    web_https: bool = False
    # The key session ids are hashed with before they name a conversation, and forms are signed
    # with; unset: a key file in DATA_DIR, made once. Several processes on one Redis share it.
    web_session_key: SecretStr | None = None

    @field_validator("web_volunteer_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < 16:
            # Anyone may try tokens at /volunteer: a short one would be guessed.
            raise ValueError("must be at least 16 characters (make one with `yibao card-key`)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("web_session_key")
    @classmethod
    def _session_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not _KEY.fullmatch(value.get_secret_value().strip()):
            raise ValueError(
                f"must be {KEY_BYTES} bytes in URL-safe base64 (make one with `yibao card-key`)"
            )
        return SecretStr(value.get_secret_value().strip())

    def volunteer_token(self) -> str | None:
        return self.web_volunteer_token.get_secret_value() if self.web_volunteer_token else None

    def session_key(self) -> bytes:
        """WEB_SESSION_KEY, else the key file in DATA_DIR (made on first start, mode 0600).

        SettingsError naming the setting when neither can be had: with REDIS_URL several
        processes must share one key, so it must be set."""
        if self.web_session_key is not None:
            text = self.web_session_key.get_secret_value()
            return base64.urlsafe_b64decode(text.rstrip("=") + "=")
        if self.redis_url is not None:
            raise SettingsError(
                "WEB_SESSION_KEY is not set: with REDIS_URL every `yibao web` process must "
                "share one key; make one with `yibao card-key`"
            )
        return _key_file(self.data_dir / KEY_FILE)


def _key_file(path: Path) -> bytes:
    """The key kept in `path`, made there (0600, folder 0700) when there is none."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            key = path.read_bytes()
        else:
            key = os.urandom(KEY_BYTES)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    except OSError as error:
        raise SettingsError(
            f"DATA_DIR: the web's key file {path} cannot be used ({error.strerror})"
        ) from None
    if len(key) != KEY_BYTES:
        raise SettingsError(
            f"DATA_DIR: the web's key file {path} is not {KEY_BYTES} bytes; delete it to make "
            "a new one (every visitor then starts afresh)"
        )
    return key


def load_web_settings(**overrides: Any) -> WebSettings:
    """WebSettings from the environment and `.env`; a bad value raises SettingsError naming it."""
    return load_as(WebSettings, **overrides)
