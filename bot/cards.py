"""Answer cards with a check code, and what a check code explains, for the bot and the CLI."""

from __future__ import annotations

from bot.checkcode import decode, encode
from bot.render import render
from rules import Assessment, PolicySet, Profile, assess


def card_text(profile: Profile, assessment: Assessment, locale: str) -> str:
    """The answer without personal data, with its check code and rules version."""
    return render(
        "card.j2",
        locale,
        a=assessment,
        code=encode(profile, assessment),
        made=profile.today,
        version=assessment.rules_version,
    )


def explain_text(code: str, policies: PolicySet, locale: str) -> str:
    """The answer a check code stands for under today's rules, and what changed since."""
    decoded = decode(code)
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
