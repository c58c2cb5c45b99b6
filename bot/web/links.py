"""The web page's deep links: what a poster's QR code opens (`yibao poster --web URL`)."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from bot.i18n import LOCALES
from rules import REGIONS

_ROOT = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


def web_link(base_url: str, region: str, locale: str) -> str:
    """`https://example.org/yibao/?start=xizang-bo`: the page at `base_url` opened in this
    region and language, as the bot's `/start xizang-bo`. ValueError naming what is wrong."""
    base = base_url.strip()
    if not _ROOT.fullmatch(base):
        raise ValueError(f"{base_url!r} is not a web address (http:// or https://, no query)")
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; choose from {', '.join(REGIONS)}")
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; choose from {', '.join(LOCALES)}")
    path = urlsplit(base).path
    if not path.endswith("/"):
        base += "/"
    return f"{base}?{urlencode({'start': f'{region}-{locale}'})}"
