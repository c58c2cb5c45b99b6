"""Break years (断保年): which years were not covered, and which of them the waiting period counts.

Clauses: "自2025年起" (every enrolment text: years before 2025 never count) and "每多断保1年"
(xizang 一(三), shanxi 一(二), chongqing 二(五), tianjin 一(四)), read as the break years in the
unbroken run just before the benefit year (the policy's reading `break_run`); the cap's penalty
counts every break year since 2025 (rules.cap). A baby's years start the year after birth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rules.models import FIRST_YEAR, CoverageDetail, Profile

if TYPE_CHECKING:
    from rules.context import Context


class History:
    """A person's cover before the benefit year, read once per answer.

    `first`: the first year that can count (2025, or the year after birth);
    `all_break_years`: every year from `first` to the year before the benefit year with no
    cover, ascending; `break_year_list`: those in the unbroken run just before the benefit year;
    `employee`: whether any year from 2025 on had employee insurance; `before_2025`: the years
    given before 2025, which never count.
    """

    __slots__ = ("all_break_years", "before_2025", "break_year_list", "employee", "first")

    def __init__(self, profile: Profile) -> None:
        first, year = profile.first_year, profile.benefit_year
        coverage = profile.coverage
        self.first = first
        missed = [y for y in range(first, year) if coverage.get(y, "none") == "none"]
        self.all_break_years = missed
        # The run: the last break years, one after another up to the year before `year`.
        start = len(missed)
        while start and missed[start - 1] == year - 1 - (len(missed) - start):
            start -= 1
        self.break_year_list = missed[start:]
        employee = False
        before: list[int] = []
        for y, given in coverage.items():
            if y < FIRST_YEAR:
                before.append(y)
            elif y < year and not employee:
                kind = given.kind if isinstance(given, CoverageDetail) else given
                employee = kind == "employee"
        self.employee = employee
        self.before_2025 = sorted(before)

    def covered_run(self, year: int) -> int:
        """How many years in a row were covered just before `year` (the benefit year)."""
        return max(
            0, year - 1 - (self.all_break_years[-1] if self.all_break_years else self.first - 1)
        )


def break_run(profile: Profile) -> list[int]:
    """The break years (断保年) in the unbroken run just before the benefit year, ascending."""
    return History(profile).break_year_list


def all_break_years(profile: Profile) -> list[int]:
    """Every uncovered year from 2025 (or the year after birth) to the year before the benefit
    year, ascending."""
    return History(profile).all_break_years


def _before_2025(ctx: Context) -> None:
    ctx.reading("breaks.before_2025", "years_before_2025")


def explain_breaks(ctx: Context, break_year_list: list[int]) -> None:
    """The steps saying which break years count, and which years never do."""
    profile = ctx.profile
    every = ctx.history.all_break_years
    ctx.reading(
        "breaks.counted",
        "break_run",
        {
            "break_years": len(break_year_list),
            "years": break_year_list,
            "all_break_years": every,
            "ignored_before_2025": ctx.history.before_2025,
            # the first year that can count (2025, or a baby's year after birth); none counts
            # when it is the benefit year itself
            "counted_from": ctx.history.first,
            "years_counted": max(0, profile.benefit_year - ctx.history.first),
        },
        flag=bool(break_year_list) and every != break_year_list,
    )
    if ctx.history.before_2025:
        ctx.shared(_before_2025)
    if profile.first_year > FIRST_YEAR:
        ctx.step(  # cited at the document's base clause, as every rule without its own
            "breaks.from_birth", params={"first_year": profile.first_year}, interpretation=True
        )
