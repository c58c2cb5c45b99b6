"""Answer cards with a check code, and what a check code explains, for the bot and the CLI."""

from __future__ import annotations

from bot.checkcode import Keyring, decode, encode, keyring
from bot.render import render
from rules import Assessment, PolicySet, Profile, assess


def card_text(
    profile: Profile, assessment: Assessment, locale: str, keys: Keyring | None = None
) -> str:
    """The answer without personal data, with its check code (the facts sealed with the newest
    of `keys`, default this deployment's) and rules version."""
    keys = keys or keyring()
    return render(
        "card.j2",
        locale,
        a=assessment,
        code=encode(profile, assessment, keys),
        session_only=keys.session_only,
        made=profile.today,
        version=assessment.rules_version,
    )


def explain_text(code: str, policies: PolicySet, locale: str, keys: Keyring | None = None) -> str:
    """The answer a check code stands for under today's rules, and what changed since.

    InvalidCode for a code that cannot be read; UnverifiableCode (a subclass) for one none of
    `keys` (default: this deployment's) opens.
    """
    decoded = decode(code, keys)
    assessment = assess(decoded.profile, policies)
    return render(
        "explain.j2",
        locale,
        a=assessment,
        made=decoded.profile.today,
        same_version=decoded.rules_version == policies.version,
        old_version=decoded.rules_version,
        new_version=policies.version,
        then_months=decoded.total_months,
        then_net=decoded.net_change,
    )


def unverifiable_text(locale: str) -> str:
    """The answer to a code none of this deployment's keys opens (UnverifiableCode)."""
    return render("explain.j2", locale, unverifiable=True)
