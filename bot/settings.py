"""Deployment settings from the environment or `.env`, read when the app starts."""

from __future__ import annotations

import base64
import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n import LOCALES

IdList = Annotated[list[int], NoDecode]
NetworkList = Annotated[list[IPv4Network | IPv6Network], NoDecode]
CARD_KEY_BYTES = 32


def parse_card_keys(text: str) -> list[bytes]:
    """CARD_KEYS as keys of 32 bytes, newest first.

    `text`: comma-separated keys, each 32 random bytes in URL-safe base64 (43 characters, the
    `=` padding optional), as `yibao card-key` prints them. ValueError naming the key's place in
    the list (never its value) for a key that is not one, a key listed twice, or no key at all.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    keys: list[bytes] = []
    for place, part in enumerate(parts, 1):
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}=?", part):
            raise ValueError(
                f"key {place} of {len(parts)} is not {CARD_KEY_BYTES} bytes in URL-safe base64"
                " (make one with `yibao card-key`)"
            )
        key = base64.urlsafe_b64decode(part.rstrip("=") + "=")
        if key in keys:
            raise ValueError(f"key {place} of {len(parts)} repeats key {keys.index(key) + 1}")
        keys.append(key)
    if not keys:
        raise ValueError("no key (make one with `yibao card-key`)")
    return keys


class SettingsError(RuntimeError):
    """A setting that stops start-up; the message names it."""


class Settings(BaseSettings):
    """Everything a deployer sets; see the README's settings table."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(8080, ge=1, le=65535)
    webhook_path: str = Field("/webhook", pattern=r"^/\S*$")
    webhook_secret: SecretStr | None = Field(None, min_length=1, max_length=256)
    webhook_url: str | None = None
    redis_url: SecretStr | None = None  # may carry a password: never printed
    data_dir: Path = Path("data")
    admin_ids: IdList = []
    volunteer_ids: IdList = []
    policy_overrides: Path | None = None
    default_locale: str = "en"
    # Unset: the bot talks to api.telegram.org; set it for a local Bot API server (or a fake).
    telegram_api_base: str | None = None
    webhook_allowed_ips: NetworkList = []
    throttle_rate: float = Field(3.0, gt=0)
    throttle_burst: int = Field(10, ge=1)
    # Shown under every answer ("What to do next"): the local office and where to pay online.
    office_contact: str | None = Field(None, min_length=1, max_length=200)
    payment_url: str | None = None
    # Keys of the answer cards' check codes (bot/checkcode.py), newest first.
    card_keys: SecretStr | None = None
    # Days a conversation is kept after its last update (one campaign), then deleted.
    state_ttl_days: int = Field(60, ge=1, le=3650)

    @field_validator("admin_ids", "volunteer_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("webhook_allowed_ips", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        """Comma-separated IPs and CIDR networks; empty means every peer is allowed."""
        if not isinstance(value, str):
            return value
        networks = []
        for part in filter(None, (p.strip() for p in value.replace(";", ",").split(","))):
            try:
                # Not strict: 10.1.2.3/8 means 10.0.0.0/8, as a deployer writing it means.
                networks.append(ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network") from None
        return networks

    @field_validator("telegram_api_base", "payment_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """An http(s) root URL, without the trailing slash."""
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
            raise ValueError("must be a URL starting with http:// or https://")
        return value.strip().rstrip("/") if value else value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts only A-Z, a-z, 0-9, _ and - in the secret token header.
        if value is not None and not all(
            c.isalnum() or c in "_-" for c in value.get_secret_value()
        ):
            raise ValueError("may contain only letters, digits, _ and -")
        return value

    @field_validator("card_keys")
    @classmethod
    def _card_keys(cls, value: SecretStr | None) -> SecretStr | None:
        """Keys as `parse_card_keys` reads them; blank means unset."""
        if value is None or not value.get_secret_value().strip():
            return None
        parse_card_keys(value.get_secret_value())
        return value

    def require_token(self) -> str:
        """The bot token, or a SettingsError naming BOT_TOKEN."""
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise SettingsError(
                "BOT_TOKEN is not set: put the token from @BotFather in the environment or in .env"
            )
        return self.bot_token.get_secret_value().strip()

    @property
    def bot_id(self) -> int | None:
        """The bot's id, the token's part before ":" (no network), or None without a token."""
        token = self.bot_token.get_secret_value().strip() if self.bot_token else ""
        head = token.partition(":")[0]
        return int(head) if head.isdigit() else None

    def require_card_keys(self) -> None:
        """SettingsError naming CARD_KEYS unless it is set (the Telegram transports need it)."""
        if self.card_keys is None:
            raise SettingsError(
                "CARD_KEYS is not set: a check code made by one worker, or before a restart, "
                "could not be verified; make a key with `yibao card-key`"
            )

    def require_bot_id(self) -> int:
        """The bot's id from BOT_TOKEN, or a SettingsError naming BOT_TOKEN."""
        self.require_token()
        if self.bot_id is None:
            raise SettingsError("BOT_TOKEN: not a bot token (they look like 123456:ABC-DEF)")
        return self.bot_id


S = TypeVar("S", bound="Settings")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `.env`; a bad value raises SettingsError naming it."""
    return load_as(Settings, **overrides)


def load_as(kind: type[S], **overrides: Any) -> S:
    """`kind` (Settings or a subclass) from the environment and `.env`; a bad value raises
    SettingsError naming it."""
    try:
        return kind(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
