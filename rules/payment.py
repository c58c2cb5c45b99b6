"""The payment: when the premium was paid, and whether inside the centralized period (集中缴费期).

Clauses: the waiting period applies to a payment outside the centralized period (xizang 一(三),
shanxi 一(二), chongqing 二(五), tianjin 一(四)); only Tianjin's text gives its period (三(七)).
Nothing is assumed for the others: the period is `payment_period` of the policy (a deployment
may set it) or of the person's input, or the person says whether they paid in it (`in_period`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rules.policy import period_bounds
from rules.terms import PeriodSource

if TYPE_CHECKING:
    from rules.context import Context


class Payment:
    """When the premium is paid, and whether that is inside the centralized period.

    `period`: `MM-DD/MM-DD` or None when unknown, and where it came from (`source`); `bounds`:
    its first and last day for the benefit year (ISO dates); `day`: the payment date (today when
    the person paid outside the period on a day not given, `day_missing`); `in_period`: None
    when neither the period nor the person's word settles it.
    """

    __slots__ = ("bounds", "day", "day_missing", "in_period", "period", "source")

    def __init__(self, ctx: Context) -> None:
        profile = ctx.profile
        self.period: str | None = profile.payment_period
        self.source: PeriodSource = "input" if self.period else "none"
        if self.period is None:
            self.period = ctx.value("payment_period")
            self.source = "policy" if self.period else "none"
        self.bounds = period_bounds(self.period, profile.benefit_year) if self.period else None
        self.day = profile.payment_date
        self.day_missing = False
        self.in_period: bool | None
        if self.day is None:
            self.in_period = profile.in_period is not False
            if not self.in_period:  # paid (or paying) outside the period on a day not given
                self.day_missing = True
                today, year = profile.today, profile.benefit_year
                self.day = today if year - 1 <= today.year <= year else dt.date(year, 1, 1)
        elif profile.in_period is not None:
            self.in_period, self.source = profile.in_period, "person"
        elif self.bounds:
            self.in_period = self.bounds[0] <= self.day <= self.bounds[1]
        else:
            self.in_period = None

    def fields(self) -> dict[str, Any]:
        """The payment's part of a Waiting: period, where it came from, in it or not."""
        return {"period": self.period, "period_source": self.source, "in_period": self.in_period}

    def explain(self, ctx: Context) -> None:
        """The step saying whether the payment was in the period, when a payment was made on a
        day given or taken as today."""
        if ctx.profile.payment_date is None and not self.day_missing:
            return
        first, last = self.bounds or (None, None)
        if self.in_period is None:
            ctx.cited(
                "payment.period_unknown",
                "payment_period",
                {"payment_date": self.day, "benefit_year": ctx.profile.benefit_year},
            )
            return
        ctx.cited(
            "payment.in_period" if self.in_period else "payment.outside_period",
            "payment_period",
            {
                "payment_date": self.day,
                "start": first,
                "end": last,
                "said_by_person": self.source == "person",
                "day_missing": self.day_missing,
            },
        )
