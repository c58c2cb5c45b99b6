"""The closed sets of names the rules use, each declared once here and nowhere else.

Regions are the places a profile may name (地区); each has one enrolment policy of the same id.
Aid policies are the medical-aid documents (医疗救助) a region's policy may point to
(`Policy.aid_policy`). Groups are the special groups the texts may free from the waiting period
(特殊群体). The tuples list each set in the order people are asked.
"""

from __future__ import annotations

from typing import Literal, get_args

Region = Literal["xizang", "shanxi", "chongqing", "tianjin", "national"]
REGIONS: tuple[Region, ...] = get_args(Region)

AidPolicyId = Literal["xizang-aid"]
PolicyId = Literal[Region, AidPolicyId]

Group = Literal[
    "newborn", "infant", "medical_aid", "job_change", "veteran", "released", "student", "hardship"
]
GROUPS: tuple[Group, ...] = get_args(Group)

# Basic medical insurance: resident (居民医保) or employee (职工医保); a year may have neither.
Kind = Literal["resident", "employee"]
Coverage = Literal[Kind, "none"]

# Where a payment period came from: the person's input, the policy, the person's word that the
# payment was in it, or nowhere (unknown).
PeriodSource = Literal["input", "policy", "person", "none"]

# The classes of medical-aid recipients (医疗救助对象), 1 to 5 (xizang-aid 二).
AidClass = Literal[1, 2, 3, 4, 5]

# The day a wait is counted from: 1 January (paid in the centralized period), the payment date,
# or the birth date (a newborn's cover).
Anchor = Literal["centralized", "payment_date", "birth"]
