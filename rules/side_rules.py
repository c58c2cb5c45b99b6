"""Regional side rules, answered on request, each computed from its clause's parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.policy import Policy


class SideQuestions(BaseModel):
    """Optional facts for the side rules; a rule is answered when its facts are given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fund_reserve_months: int | None = Field(None, ge=0, le=600)  # xizang cross-province care
    care: Literal["referred", "emergency", "other"] | None = None
    fraud_amounts: list[int] = []  # xizang: yuan obtained, one per finding
    flexible_new: bool | None = None  # xizang: flexible worker in employee insurance
    flexible_gap_months: int | None = Field(None, ge=0, le=600)
    resident_years: int | None = Field(None, ge=0, le=100)  # shanxi transfer
    sex: Literal["male", "female"] | None = None  # chongqing outsider employee insurance
    age: int | None = Field(None, ge=0, le=130)
    spouse: Literal["resident", "employee_short", "employee", "uninsured"] | None = None
    husband_months: int | None = Field(None, ge=0, le=600)  # chongqing maternity
    # xizang 一(二): groups whose resident premium the aid fund subsidises (分类资助)
    border_resident: bool | None = None
    aid_recipient: bool | None = None
    monastic_honoured: bool | None = None  # monks and nuns honoured under the 四条标准
    new_student: bool | None = None  # xizang 一(一): a freshman of a university or technical school
    old_outpatient_incentive: bool | None = None  # tianjin 一(二): qualified under the old policy


class SideAnswer(BaseModel):
    """One side rule's answer: its id, clause, and the values it gives."""

    id: str
    cite: str
    values: dict[str, Any]
    interpretation: bool = False
    reason: str | None = None


def answer_side_rules(questions: SideQuestions, policy: Policy, day: dt.date) -> list[SideAnswer]:
    """Answer each side rule of `policy` whose facts `questions` gives."""
    answers: list[SideAnswer] = []
    rules = policy.side_rules

    def value(name: str) -> Any:
        return policy.get(name, day)

    def add(rule_id: str, **values: Any) -> None:
        rule = rules[rule_id]
        answers.append(
            SideAnswer(
                id=rule_id,
                cite=f"{policy.id} {rule.clause}",
                values=values,
                interpretation=rule.interpretation,
                reason=rule.reason,
            )
        )

    q = questions
    if "cross_province" in rules and q.fund_reserve_months is not None and q.care:
        low = q.fund_reserve_months < value("cross_province.reserve_months")
        cut = 0
        if low:
            cut = value(
                "cross_province.other_cut_points"
                if q.care == "other"
                else "cross_province.referred_cut_points"
            )
        add("cross_province", reserve_low=low, cut_points=cut, supplementary_covers=False)
    if "fraud_deductible" in rules and q.fraud_amounts:
        floor = value("fraud.min_raise")
        raises = [max(floor, amount) for amount in q.fraud_amounts]
        add("fraud_deductible", raises=raises, total=sum(raises))
    if "flexible_worker_wait" in rules and q.flexible_new is not None:
        gap_allowed = value("flexible.gap_months")
        waits = q.flexible_new or (q.flexible_gap_months or 0) > gap_allowed
        add(
            "flexible_worker_wait",
            wait_months=value("flexible.wait_months") if waits else 0,
            gap_allowed_months=gap_allowed,
        )
    if "resident_to_employee_years" in rules and q.resident_years is not None:
        per = value("transfer.resident_years_per_employee_year")
        add(
            "resident_to_employee_years",
            employee_years=q.resident_years // per,
            remainder=q.resident_years % per,
            per=per,
        )
    if "outsider_employee_age" in rules and q.sex and q.age is not None:
        limit = value("outsider.max_age_men" if q.sex == "male" else "outsider.max_age_women")
        add("outsider_employee_age", eligible=q.age < limit, under=limit)
    if "maternity_choice" in rules and q.spouse and q.husband_months is not None:
        enough = q.husband_months >= value("maternity.min_months")
        if not enough:
            choice, share = "none", 0.0
        elif q.spouse == "resident":
            choice, share = "choose_either", 1.0
        elif q.spouse == "employee_short":
            choice, share = "maternity_insurance", 1.0
        elif q.spouse == "uninsured":
            choice, share = "maternity_insurance_share", value("maternity.uninsured_spouse_share")
        else:
            choice, share = "own_insurance", 1.0
        # The draft leaves the start date blank (自****年**月起): not yet in force on a known day.
        add(
            "maternity_choice",
            choice=choice,
            share=share,
            allowance_included=False,
            start_date_known=False,
        )
    subsidy_facts = (q.border_resident, q.aid_recipient, q.monastic_honoured)
    if "premium_subsidy" in rules and (
        (q.sex and q.age is not None) or any(f is not None for f in subsidy_facts)
    ):
        older = (
            q.sex is not None
            and q.age is not None
            and q.age >= value("subsidy.age_women" if q.sex == "female" else "subsidy.age_men")
        )
        named = [
            name
            for name, fact in (
                ("older", older),
                ("aid_recipient", q.aid_recipient),
                ("border_resident", q.border_resident),
                ("monastic_honoured", q.monastic_honoured),
            )
            if fact
        ]
        # The text names the groups and says the subsidy is "by category"; the amounts are the
        # region's to set, so none is given here.
        add("premium_subsidy", may_apply=bool(named), groups=named, amount=None)
    if "student_lump_sum" in rules and q.new_student is not None:
        add("student_lump_sum", lump_sum_allowed=q.new_student, top_up_if_standard_rises=False)
    if "old_incentive_kept" in rules and q.old_outpatient_incentive is not None:
        add("old_incentive_kept", continues=q.old_outpatient_incentive, while_paid_normally=True)
    return answers
