"""The policy book: each encoded value beside the words of the text it comes from, checked.

A policy file cites a clause (`一(三)`, `二`, `五(五)1`, or the document's number for the whole
text) and quotes the words that give each value. This module splits a document into its clauses
and checks that every quote occurs in the clause it cites.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rules.policy import Policy

# Where the documents are looked for, in order: the project's shared copies first, then the
# sources packaged with the rules (texts not in the shared folder, such as the national guideline).
TEXT_DIRS: tuple[Path, ...] = (
    Path(__file__).resolve().parents[2] / "shared" / "policies",
    Path(__file__).resolve().parent / "sources",
)

_NUMERALS = "一二三四五六七八九十"
_DIGITS = {c: i for i, c in enumerate(_NUMERALS[:-1], start=1)}
# A section heading `一、` at the start of a line.
_SECTION = re.compile(rf"^[^\S\n]*([{_NUMERALS}][{_NUMERALS} \t\u3000]*?)[^\S\n]*、", re.M)
# An item heading `(一)` or `（一）` at the start of a line; OCR may put spaces inside.
_ITEM = re.compile(
    rf"^[^\S\n]*[（(][^\S\n]*([{_NUMERALS}][{_NUMERALS} \t\u3000]*?)[^\S\n]*[)）]", re.M
)
# A numbered sub-item `1.` at the start of a line or of a sentence, inside an item.
_SUB_ITEM = re.compile(r"(?:^|(?<=[。；;]))[^\S\n]*(\d{1,2})[^\S\n]*[.．、]", re.M)
_CLAUSE_ID = re.compile(rf"^([{_NUMERALS}]+)(?:[（(]([{_NUMERALS}]+)[)）](\d{{1,2}})?)?$")
# What a quote may differ in from the text, and why (see normalise).
_SAME = str.maketrans(
    {"（": "(", "）": ")", "，": ",", "、": ",", "％": "%", "﹪": "%", "：": ":", "；": ";"}
)


def normalise(text: str) -> str:
    """The text as quotes are compared: no white space, one form of a few punctuation marks.

    Removed: every white-space character (spaces, ideographic spaces, line breaks), because the
    copies are OCR'd or re-flowed and break words anywhere ("第 一 类", "缴\\n\\n费"). Mapped:
    full-width parentheses （） to (), full-width commas ， and the enumeration comma 、 to ",",
    ％ and ﹪ to %, full-width ： and ； to : and ;, because the copies mix the two widths (even
    within one clause) and a reader cannot tell them apart. Nothing else is changed: every other
    character, digit and word must be the text's own.
    """
    return "".join(text.split()).translate(_SAME)


def _number(numeral: str) -> int:
    """一 -> 1, 十 -> 10, 十九 -> 19, 二十一 -> 21."""
    numeral = "".join(numeral.split())
    if "十" not in numeral:
        return _DIGITS[numeral] if len(numeral) == 1 else 0
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return 0
    return (_DIGITS.get(tens, 0) if tens else 1) * 10 + (_DIGITS.get(units, 0) if units else 0)


def _numeral(number: int) -> str:
    tens, units = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens - 1] + "十")
    return head + ("" if units == 0 else _NUMERALS[units - 1])


def _body_start(sections: list[re.Match[str]]) -> int:
    """Index of the `一、` that opens the longest run 一、二、三…: the opinion itself.

    Cover letters and forwarding notices come first; on a tie the later run wins, because the
    implementing text follows the letters that send it.
    """
    best, best_run = 0, 0
    for index, match in enumerate(sections):
        if _number(match.group(1)) != 1:
            continue
        run = 1
        for later in sections[index + 1 :]:
            if _number(later.group(1)) == run + 1:
                run += 1
        if run >= best_run:
            best, best_run = index, run
    return best


def segment(text: str) -> dict[str, str]:
    """The clauses of a document by id: `一` (a section, its items included), `一(三)` (an item,
    numbered across sections), `五(五)1` (a numbered sub-item inside an item)."""
    sections = list(_SECTION.finditer(text))
    if not sections:
        return {}
    start = _body_start(sections)
    heads: list[tuple[int, int]] = []  # (position, section number), in order
    expected = 1
    for match in sections[start:]:
        if _number(match.group(1)) == expected:
            heads.append((match.start(), expected))
            expected += 1
    clauses: dict[str, str] = {}
    for i, (position, number) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        section = _numeral(number)
        body = text[position:end]
        clauses[section] = body
        items = [m for m in _ITEM.finditer(body) if _number(m.group(1))]
        for j, item in enumerate(items):
            item_end = items[j + 1].start() if j + 1 < len(items) else len(body)
            item_id = f"{section}({_numeral(_number(item.group(1)))})"
            item_text = body[item.start() : item_end]
            clauses.setdefault(item_id, item_text)
            _sub_items(item_id, item_text, clauses)
    return clauses


def _sub_items(item_id: str, text: str, clauses: dict[str, str]) -> None:
    """Add the numbered sub-items 1., 2., … of one item (in order; a stray number is text)."""
    found: list[tuple[int, int]] = []
    for match in _SUB_ITEM.finditer(text):
        if int(match.group(1)) == len(found) + 1:
            found.append((match.start(), len(found) + 1))
    for k, (position, number) in enumerate(found):
        end = found[k + 1][0] if k + 1 < len(found) else len(text)
        clauses[f"{item_id}{number}"] = text[position:end]


@dataclass(frozen=True)
class PolicyText:
    """One document's text, split into clauses; its number cites the whole text."""

    file: str
    path: Path
    text: str
    number: str | None
    clauses: dict[str, str]

    def clause(self, clause_id: str) -> str | None:
        """The text of a clause, or None when the document has no such clause."""
        if self.number and clause_id == self.number:
            return self.text
        clause_id = clause_id.replace("（", "(").replace("）", ")")
        if not _CLAUSE_ID.match(clause_id):
            return None
        return self.clauses.get(clause_id)

    def where(self, quote: str) -> list[str]:
        """The most specific clauses whose text holds `quote` (for a helpful failure)."""
        wanted = normalise(quote)
        hits = [cid for cid, text in self.clauses.items() if wanted in normalise(text)]
        return [c for c in hits if not any(o != c and o.startswith(c) for o in hits)]


def find_text(file: str, dirs: tuple[Path, ...] = TEXT_DIRS) -> Path | None:
    """The first copy of `file` in `dirs`."""
    for folder in dirs:
        path = folder / file
        if path.is_file():
            return path
    return None


@cache
def _read(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    # A packaged source starts with "# <address> <date>", where the copy came from: not the text.
    return "".join(line for line in lines if not line.startswith("#"))


def load_text(policy: Policy, dirs: tuple[Path, ...] = TEXT_DIRS) -> PolicyText | None:
    """The document of a policy, segmented; None when the policy names no file or it is absent."""
    if not policy.file:
        return None
    path = find_text(policy.file, dirs)
    if path is None:
        return None
    text = _read(path)
    return PolicyText(policy.file, path, text, policy.number, segment(text))


@dataclass(frozen=True)
class Citation:
    """One quoted thing of a policy: what it is, the clause it cites and its words."""

    kind: str  # parameter, exempt_group, side_rule, reading, exempt_list
    key: str
    clause: str | None
    quote: str | None
    source: str | None = None

    @property
    def label(self) -> str:
        """`parameters.cap.step`, `exempt_groups.newborn`, …: the key as written in the file."""
        prefix = {
            "parameter": "parameters",
            "exempt_group": "exempt_groups",
            "side_rule": "side_rules",
            "reading": "readings",
        }.get(self.kind)
        return f"{prefix}.{self.key}" if prefix else self.key


def citations(policy: Policy) -> list[Citation]:
    """Everything in a policy that quotes, or should quote, its text."""
    found = [
        Citation("parameter", name, p.clause, p.quote, p.source)
        for name, p in policy.parameters.items()
    ]
    found += [
        Citation("exempt_group", name, g.clause, g.quote, g.source)
        for name, g in policy.exempt_groups.items()
    ]
    found += [
        Citation("side_rule", name, r.clause, r.quote) for name, r in policy.side_rules.items()
    ]
    found += [
        Citation("reading", name, r.clause, r.quote, r.source)
        for name, r in policy.readings.items()
    ]
    if policy.exempt_list_open or policy.exempt_list_quote:
        found.append(
            Citation(
                "exempt_list",
                "exempt_list_quote",
                policy.exempt_list_clause,
                policy.exempt_list_quote,
            )
        )
    return found


def check_quote(document: PolicyText, clause: str, quote: str) -> str | None:
    """None when `quote` occurs (normalised) in the text of `clause`; else what is wrong."""
    text = document.clause(clause)
    if text is None:
        return f"{document.file} has no clause {clause}"
    if not quote or not normalise(quote):
        return "the quote is empty"
    if normalise(quote) in normalise(text):
        return None
    elsewhere = document.where(quote)
    if elsewhere:
        return f"the quote is not in {clause}; it is in {', '.join(elsewhere)}"
    return f"the quote is not in {clause}, nor anywhere in {document.file}"


def check_citation(policy: Policy, citation: Citation, document: PolicyText) -> str | None:
    """None when a citation's quote is found where it says; else what is wrong."""
    if citation.quote is None:
        return "no quote"
    if citation.clause is None:
        return "no clause to check the quote against"
    return check_quote(document, citation.clause, citation.quote)


def unset(policy: Policy, day: dt.date) -> list[str]:
    """Parameters with no value on `day`: a deployment sets them (POLICY_OVERRIDES)."""
    return [
        name for name, p in policy.parameters.items() if (v := p.at(day)) is None or v.value is None
    ]


@dataclass(frozen=True)
class Book:
    """What the policy book shows for one policy: its document and each quote's check."""

    policy: Policy
    today: dt.date
    document: PolicyText | None
    # label -> None when the quote was found where it says, else what is wrong; a label that is
    # absent was not checked (no quote, or no text to check it against).
    checks: dict[str, str | None]
    unset: list[str]


def book(policy: Policy, today: dt.date, dirs: tuple[Path, ...] = TEXT_DIRS) -> Book:
    """The policy book of `policy` on `today`, every quote checked against its text."""
    document = load_text(policy, dirs)
    checks: dict[str, str | None] = {}
    if document is not None:
        for citation in citations(policy):
            if citation.quote is not None:
                checks[citation.label] = check_citation(policy, citation, document)
    return Book(policy, today, document, checks, unset(policy, today))
