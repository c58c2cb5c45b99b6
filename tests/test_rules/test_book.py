"""Machine-checked citations: every quote in rules/policies/ occurs in the clause it cites."""

from __future__ import annotations

import datetime as dt

import pytest

from rules import load_policies
from rules.book import (
    Citation,
    book,
    check_citation,
    check_quote,
    citations,
    load_text,
    normalise,
    segment,
)

POLICIES = load_policies()
TODAY = dt.date(2026, 11, 23)
# What must carry a quote: parameters, exempt groups, side rules, and the words of an open list.
# Readings quote their text when they have a clause; that is optional.
MUST_QUOTE = {"parameter", "exempt_group", "side_rule", "exempt_list"}

# Exceptions to "everything quotes its text", each with its reason.
NO_QUOTE: dict[tuple[str, str], str] = {
    ("xizang", "parameters.cap.base"): (
        "140,000 yuan is from the regional bureau's 2025 press conference (source:), not the text"
    ),
}
# The national guideline 国办发〔2024〕38号 is not among the documents (`file: null`): no official
# full text was found to add under rules/sources/. Until it is, national values name their public
# source (`source:`) and nothing of the national policy can be checked by machine. Every national
# key is listed here, so a new one is noticed; the list must be emptied when the text is added.
NATIONAL_UNCHECKED = {
    "parameters.payment_period": "left to each province; no value",
    "parameters.waiting.fixed_months": "source: 国办发〔2024〕38号",
    "parameters.waiting.variable_per_break_year": "source: 国办发〔2024〕38号",
    "parameters.waiting.free_break_years": "source: 国办发〔2024〕38号 (our interpretation)",
    "parameters.waiting.repair_months_per_year": "source: 国办发〔2024〕38号",
    "parameters.waiting.floor_break_years": "source: 国办发〔2024〕38号",
    "parameters.waiting.floor_months": "source: 国办发〔2024〕38号",
    "parameters.waiting.anchor": "source: 国办发〔2024〕38号 (our interpretation)",
    "parameters.repair.contribution": "source: 国办发〔2024〕38号; each region's amount",
    "parameters.cap.base": "each region's own cap; no value",
    "parameters.cap.step": "set by each province; no value",
    "parameters.cap.step_minimum": "source: 国办发〔2024〕38号",
    "parameters.cap.rise_ceiling_share": "source: 国办发〔2024〕38号",
    "parameters.cap.fall_ceiling_share": "set by each province; no value",
    "parameters.cap.continuity_after_years": "source: 国办发〔2024〕38号",
    "parameters.cap.continuity_restarts_on_break": "source: the NHSA policy briefing, 2024-08-01",
    "parameters.cap.continuity_kept_on_break": "source: the NHSA policy briefing, 2024-08-01",
    "parameters.cap.penalty_step": "set by each province; no value",
    "parameters.newborn.max_days": "source: 国办发〔2024〕38号 (our interpretation)",
    "parameters.cap.zero_claim_needs_paid_year": "source: 国办发〔2024〕38号 (our interpretation)",
    "parameters.cap.zero_claim_clear_delay_years": "source: 国办发〔2024〕38号 (interpretation)",
    "exempt_groups.newborn": "cites the whole guideline, which is not among the documents",
    "side_rules.provinces_decide": "cites the whole guideline, which is not among the documents",
    "exempt_list_quote": "the guideline's 除新生儿等特殊群体外, not among the documents",
}


def _unchecked(policy_id: str, label: str) -> str | None:
    """Why a citation carries no checked quote, if it is an exception."""
    if policy_id == "national" and POLICIES["national"].file is None:
        return NATIONAL_UNCHECKED.get(label)
    return NO_QUOTE.get((policy_id, label))


def _cases(kinds: set[str] | None = None, quoted: bool = False) -> list:
    cases = []
    for policy_id, policy in POLICIES.items():
        for citation in citations(policy):
            if kinds and citation.kind not in kinds:
                continue
            if quoted and (citation.quote is None or _unchecked(policy_id, citation.label)):
                continue
            test_id = f"{policy_id}:{citation.label}@{citation.clause or '-'}"
            cases.append(pytest.param(policy_id, citation, id=test_id))
    return cases


@pytest.mark.parametrize(("policy_id", "citation"), _cases(MUST_QUOTE))
def test_it_quotes_its_text(policy_id: str, citation: Citation) -> None:
    reason = _unchecked(policy_id, citation.label)
    if reason is None:
        assert citation.quote, f"{policy_id} {citation.label} ({citation.clause}) has no quote"
        return
    # An exception: nothing in the text to quote. It must then name a public source, or have no
    # value at all (left to each province or deployment), or cite the guideline as a whole.
    policy = POLICIES[policy_id]
    if citation.kind == "parameter":
        parameter = policy.parameters[citation.key]
        assert parameter.source or all(v.value is None for v in parameter.values), reason
        assert not parameter.clause, f"{citation.label} cites {parameter.clause}: quote it"
    else:
        assert citation.clause in (None, policy.number), reason


def test_the_national_exceptions_go_once_the_guideline_is_added() -> None:
    national = POLICIES["national"]
    if national.file is not None:
        assert load_text(national) is not None, f"{national.file} not found"
        pytest.fail("the national text is present: empty NATIONAL_UNCHECKED and quote it")
    labels = {c.label for c in citations(national) if c.kind in MUST_QUOTE}
    assert labels == set(NATIONAL_UNCHECKED), "list each national key, with its reason"


@pytest.mark.parametrize("policy_id", [p for p, policy in POLICIES.items() if policy.file])
def test_the_document_is_found_and_split_into_clauses(policy_id: str) -> None:
    document = load_text(POLICIES[policy_id])
    assert document is not None, f"{POLICIES[policy_id].file} not in the text folders"
    assert document.clause("一") and document.clause(POLICIES[policy_id].base_clause)


@pytest.mark.parametrize(
    ("policy_id", "citation"),
    [c for c in _cases() if c.values[1].clause and POLICIES[c.values[0]].file],
)
def test_the_cited_clause_exists(policy_id: str, citation: Citation) -> None:
    document = load_text(POLICIES[policy_id])
    assert document is not None
    assert document.clause(citation.clause) is not None, (
        f"{policy_id} {citation.label}: {document.file} has no clause {citation.clause}"
    )


@pytest.mark.parametrize(("policy_id", "citation"), _cases(quoted=True))
def test_the_quote_is_in_the_clause_it_cites(policy_id: str, citation: Citation) -> None:
    policy = POLICIES[policy_id]
    document = load_text(policy)
    assert document is not None, f"{policy.file} not found: the quote cannot be checked"
    problem = check_citation(policy, citation, document)
    assert problem is None, f"{policy_id} {citation.label} ({citation.clause}): {problem}"


# The checker itself, on known-bad quotes: each of these must fail.

XIZANG = load_text(POLICIES["xizang"])
STEP = POLICIES["xizang"].parameters["cap.step"]


def test_a_good_quote_passes() -> None:
    assert STEP.quote and "4000" in STEP.quote
    assert check_quote(XIZANG, "一(三)", STEP.quote) is None


def test_a_quote_altered_by_one_character_fails() -> None:
    altered = STEP.quote.replace("4000", "4001")
    assert altered != STEP.quote
    problem = check_quote(XIZANG, "一(三)", altered)
    assert problem and "not in 一(三), nor anywhere" in problem


@pytest.mark.parametrize(("policy_id", "citation"), _cases(quoted=True))
def test_every_quote_fails_once_one_character_changes(policy_id: str, citation: Citation) -> None:
    policy = POLICIES[policy_id]
    document = load_text(policy)
    assert document is not None and citation.quote
    chars = list("".join(citation.quote.split()))
    middle = len(chars) // 2
    chars[middle] = "〇" if chars[middle] != "〇" else "□"
    bad = Citation(citation.kind, citation.key, citation.clause, "".join(chars))
    assert check_citation(policy, bad, document) is not None


def test_a_quote_attributed_to_the_wrong_clause_fails_and_names_the_right_one() -> None:
    problem = check_quote(XIZANG, "一(四)", STEP.quote)
    assert problem == "the quote is not in 一(四); it is in 一(三)"


def test_a_clause_the_document_lacks_fails() -> None:
    assert check_quote(XIZANG, "一(五)", STEP.quote) == (
        "xizang-2025-enrollment.txt has no clause 一(五)"
    )
    assert check_quote(XIZANG, "二(三)", "完善待遇政策") is not None  # 三 sits under 一


def test_an_empty_quote_fails() -> None:
    assert check_quote(XIZANG, "一(三)", " \n") == "the quote is empty"


# The segmenter.


def test_the_opinion_is_found_after_a_forwarding_letter() -> None:
    shanxi = load_text(POLICIES["shanxi"])
    assert normalise(shanxi.clause("一")).startswith("一,健全完善政策措施")
    assert normalise(shanxi.clause("一(二)")).startswith("(二)建立连续参保缴费激励约束机制")
    assert normalise(XIZANG.clause("一(一)")).startswith("(一)完善参保政策")
    assert "通知" not in normalise(XIZANG.clause("一"))


def test_a_cover_letter_with_its_own_list_is_skipped() -> None:
    text = (
        "关于印发的通知\n一、请认真贯彻\n二、按时报送\n"
        "实施意见\n一、总体要求\n（一）甲。\n二、政策措施\n(二) 乙。\n（三）丙。\n三、保障\n"
    )
    clauses = segment(text)
    assert normalise(clauses["一"]) == "一,总体要求(一)甲。"
    assert clauses["二(三)"].startswith("（三）丙")
    assert "一(三)" not in clauses and "二(一)" not in clauses


def test_items_run_on_across_sections_with_ocr_spaces() -> None:
    text = "一、甲\n(一 )第 一 项。\n（二）第二项。\n二、乙\n（ 三）第三项。\n"
    clauses = segment(text)
    assert set(clauses) == {"一", "一(一)", "一(二)", "二", "二(三)"}
    assert normalise(clauses["一(一)"]) == "(一)第一项。"
    assert "(二)" in normalise(clauses["一"])  # a section's text holds its items


def test_numbered_sub_items_sit_inside_their_item() -> None:
    aid = load_text(POLICIES["xizang-aid"])
    assert normalise(aid.clause("五(五)1")).startswith("1.住院和门诊特殊病救助")
    assert normalise(aid.clause("五(五)2")).startswith("2.普通门诊救助")
    assert normalise(aid.clause("六(七)2")).startswith("2.救助标准")
    assert aid.clause("五(五)4") is None
    assert "救助标准" not in normalise(aid.clause("六(七)1"))


def test_the_document_number_cites_the_whole_text() -> None:
    assert XIZANG.clause("藏医保〔2025〕31号") == XIZANG.text
    assert "三" in segment(XIZANG.text) and XIZANG.clause("三(九)")


def test_normalising_drops_white_space_and_one_width_of_punctuation() -> None:
    assert normalise("第 一 类 、（含）\n95％，") == normalise("第一类,(含)95%,")
    assert normalise("（三）：；") == "(三):;"
    assert normalise("４０００") != normalise("4000")  # digits are compared as written


# The book.


def test_the_book_checks_every_quote_of_a_policy() -> None:
    shown = book(POLICIES["xizang"], TODAY)
    assert shown.document is not None
    assert shown.checks["parameters.cap.step"] is None
    assert all(problem is None for problem in shown.checks.values())
    assert "repair.contribution" in shown.unset and "cap.base" not in shown.unset


def test_the_book_of_a_policy_without_its_text_checks_nothing() -> None:
    shown = book(POLICIES["national"], TODAY)
    assert shown.document is None and shown.checks == {}
    assert {"cap.base", "repair.contribution", "cap.step"} <= set(shown.unset)
