"""The rules core: facts about one person in, an explained assessment out; pure."""

from rules.dates import add_months
from rules.engine import assess
from rules.models import REGIONS, Assessment, Profile, Step
from rules.policy import Policy, PolicyError, PolicySet, load_policies

__all__ = [
    "REGIONS",
    "Assessment",
    "Policy",
    "PolicyError",
    "PolicySet",
    "Profile",
    "Step",
    "add_months",
    "assess",
    "load_policies",
]
