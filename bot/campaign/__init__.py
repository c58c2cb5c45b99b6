"""The enrolment campaign: anonymous statistics and opt-in reminders, in one store.

The names below load their module on first use, so that `yibao --help` or `yibao batch`, which
only register the campaign's command, do not import aiogram (seconds of start-up).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "CampaignStore": "store",
    "Remind": "reminders",
    "Reminder": "store",
    "Row": "store",
    "add_cli": "cli",
    "campaign_start": "stats",
    "create_campaign_store": "store",
    "create_router": "handlers",
    "outcome_kinds": "stats",
    "reminder_due": "offers",
    "reminder_options": "offers",
    "run_reminders": "reminders",
    "setup_campaign": "setup",
}
__all__ = [
    "CampaignStore",
    "Remind",
    "Reminder",
    "Row",
    "add_cli",
    "campaign_start",
    "create_campaign_store",
    "create_router",
    "outcome_kinds",
    "reminder_due",
    "reminder_options",
    "run_reminders",
    "setup_campaign",
]

if TYPE_CHECKING:
    from bot.campaign.cli import add_cli
    from bot.campaign.handlers import create_router
    from bot.campaign.offers import reminder_due, reminder_options
    from bot.campaign.reminders import Remind, run_reminders
    from bot.campaign.setup import setup_campaign
    from bot.campaign.stats import campaign_start, outcome_kinds
    from bot.campaign.store import CampaignStore, Reminder, Row, create_campaign_store


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.campaign' has no attribute {name!r}")
    value = getattr(import_module(f"bot.campaign.{module}"), name)
    globals()[name] = value
    return value
