"""`yibao batch`: assess a village ledger (CSV, one person a row) into a CSV or XLSX table.

Input: a UTF-8 CSV (with or without BOM) whose first non-`#` line is the header. Columns,
matched case-insensitively; only `region` and `benefit_year` are required:

- `id`: a household or row label chosen by the office, copied through as text.
- `region`: xizang, shanxi, chongqing, tianjin, national, or 西藏, 山西, 重庆, 天津, 其他.
- `benefit_year`: the benefit year (待遇年度), 2025 or later.
- `coverage`: per-year coverage as `2025:none;2026:resident`, and/or one column per year
  `y2025`, `y2026`, ... Values: resident, employee, none, or 居民, 职工, 无. A year not given
  counts as not covered.
- `payment_date`: empty for the centralized period; 2026-03-15, 15.03.2026, 2026/3/15 or
  2026年3月15日, as the bot reads dates (bot/parsing.py: also full-width or Tibetan digits).
- `group`: empty or newborn, infant, medical_aid, job_change, veteran, released, student,
  hardship.
- `repair_years` (empty = 0), `zero_claim_years` (`2025;2026`), `birth_date`.

Never copied: every other column (names, ID-card or phone numbers, notes) is read past, and an
`id` that holds what looks like an ID-card or mobile number, anywhere in the cell and with or
without spaces, hyphens or +86, is left empty with `id: looks like an ID-card or phone number;
not copied` in `error` (the row is still assessed). `error` names the column and the kind of
problem (`region: not a known region ...`), never what the cell holds.
Output: one row per non-blank input row with the columns of `output_columns`; a row that cannot
be assessed keeps only `row`, `id` and `error`. `cap_change_steps` counts the steps earned
(continuity + zero-claim - break years) before any ceiling on the yuan change.
Cells are safe to open in a spreadsheet: XLSX text cells are typed as text (never a formula);
CSV text cells are quoted, and one that starts with = + - @, a tab or a carriage return, or has
one of = + - @ right after a comma, semicolon, tab, line break or quote, gets a leading ' (OWASP's
advice on CSV injection). Numbers are written as numbers (-8000 stays a number).
CSV output is written as UTF-8 with BOM so spreadsheet programs read the Chinese correctly.
`--lang zh_Hans` writes the header, regions, yes/no and the error messages in Chinese, in the
glossary's terms (locales/glossary.yaml); the default stays English.

Limits: a cell holds at most 4,096 characters and a row at most 65,536; the file is read a
bounded line at a time, so memory stays flat for any file. A cell or row over a limit, text that
is not UTF-8, a NUL character, or a column named twice in the header stops the batch with one
line naming the row and column (exit code 2); nothing is written then, as the result goes to a
temporary file beside the output that takes its place only when complete.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from bot import parsing
from bot.parsing import InvalidAnswer
from rules import Assessment, Policy, PolicyError, Profile, assess, load_policies
from rules.models import (
    FIRST_YEAR,
    GROUPS,
    REGIONS,
    Coverage,
    CoverageDetail,
    Region,
    describe_error,
)

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell as SheetCell

    from bot.cli import Commands

FORMATS = ("csv", "xlsx")
REQUIRED = ("region", "benefit_year")
OPTIONAL = (
    "id",
    "coverage",
    "payment_date",
    "group",
    "repair_years",
    "zero_claim_years",
    "birth_date",
)
RESULT_COLUMNS = (
    "row",
    "region",
    "benefit_year",
    "break_years",
    "exempt",
    "wait_months",
    "benefit_start",
    "no_cover_this_year",
    "useful_repair_years",
    "repair_cost_per_year",
    "repair_cost_total_useful",
    "cap_change",
    "cap_change_steps",
    "error",
)
REGION_NAMES: dict[str, Region] = {
    **{region: region for region in REGIONS},
    "西藏": "xizang",
    "山西": "shanxi",
    "重庆": "chongqing",
    "天津": "tianjin",
    "其他": "national",
}
COVERAGE_NAMES: dict[str, Coverage] = {
    "resident": "resident",
    "employee": "employee",
    "none": "none",
    "居民": "resident",
    "职工": "employee",
    "无": "none",
}
YEAR_COLUMN = re.compile(r"^y(\d{4})$")
LANGUAGES = ("en", "zh_Hans")
# The output in Chinese, for offices: column names, values, and the words of the error messages.
ZH_COLUMNS = {
    "row": "行号",
    "id": "编号",
    "region": "地区",
    "benefit_year": "待遇享受年度",
    "break_years": "断保年数",
    "exempt": "免除待遇等待期",
    "wait_months": "待遇等待期（月）",
    "benefit_start": "待遇开始日期",
    "no_cover_this_year": "本年度无保障",
    "useful_repair_years": "可缩短待遇等待期的补缴年数",
    "repair_cost_per_year": "每补缴1年费用（元）",
    "repair_cost_total_useful": "补缴费用合计（元）",
    "cap_change": "大病保险最高支付限额变化（元）",
    "cap_change_steps": "大病保险最高支付限额变化档数",
    "error": "错误",
    "coverage": "参保情况",
    "payment_date": "缴费日期",
    "group": "人群",
    "repair_years": "补缴年数",
    "zero_claim_years": "零报销年度",
    "birth_date": "出生日期",
    "header": "表头",
}
ZH_VALUES: dict[Cell, str] = {
    "yes": "是",
    "no": "否",
    **{english: chinese for chinese, english in REGION_NAMES.items() if chinese != english},
}
# The kinds of problem a row can have, (English, Chinese): the `error` column says which column
# and which kind, never the cell's value, so nothing a person typed is echoed into the result.
PROBLEMS = {
    "required": ("required", "必填"),
    "not_a_date": ("not a date", "不是有效日期"),
    "not_a_year": ("not a year", "不是有效年份"),
    "not_a_whole_number": ("not a whole number", "不是整数"),
    "before_first_year": (f"must be {FIRST_YEAR} or later", f"须为{FIRST_YEAR}年或以后"),
    "out_of_range": ("outside the possible range", "超出可能的范围"),
    "unknown_region": (
        "not a known region (xizang, shanxi, chongqing, tianjin or national)",
        "无法识别的地区（西藏、山西、重庆、天津或其他）",
    ),
    "unknown_group": (f"not a known group (one of {', '.join(GROUPS)})", "无法识别的人群"),
    "unknown_coverage": (
        "not a known coverage (resident, employee or none)",
        "无法识别的参保类型（居民、职工或无）",
    ),
    "not_year_kind": (
        "expected year:kind, such as 2025:none;2026:resident",
        "应为“年份:参保类型”，如2025:无;2026:居民",
    ),
    "conflicts_with_coverage": ("differs from the coverage column", "与“参保情况”列不一致"),
    "after_benefit_year": ("a year after the benefit year", "晚于待遇享受年度"),
    "not_before_benefit_year": ("must be before the benefit year", "须早于待遇享受年度"),
    "payment_year": (
        "neither in the benefit year nor in the year before",
        "既不在待遇享受年度，也不在其上一年度",
    ),
    "invalid": ("not valid", "无效"),
    "personal": (
        "looks like an ID-card or phone number; not copied",
        "疑似身份证号或手机号，未复制",
    ),
}
# The model's messages (rules/models.py) by the kind of problem they report.
VALIDATION_KINDS = (
    ("is after the benefit year", "after_benefit_year"),
    ("is not before the benefit year", "not_before_benefit_year"),
    ("is neither in", "payment_year"),
    ("is not a plausible year", "out_of_range"),
    ("greater than", "out_of_range"),
    ("less than", "out_of_range"),
)

Cell = str | int | None
Problem = tuple[str, str]  # (column, kind of problem: a key of PROBLEMS)

ANSWERS_KEPT = 8192
KEY_CHARS_KEPT = 1024  # longer inputs are assessed afresh, so the kept answers stay small
MAX_CELL_CHARS = 4096
MAX_ROW_CHARS = 65536  # a row's characters, its line breaks included

# Chinese resident ID card numbers (18 characters, the last a digit or X; or 15 digits) and
# mainland mobile numbers (11 digits from 13 to 19, after +86, 0086 or 86 or not), anywhere in a
# cell, with up to three spaces, dots, hyphens or dashes between the digits; a longer run of
# digits is not one of them. Full-width forms are matched after NFKC normalisation.
_SEP = r"[\s.\-\u2010-\u2015\u2212]{0,3}"
PERSONAL_NUMBER = re.compile(
    rf"(?<!\d)(?:\d(?:{_SEP}\d){{16}}{_SEP}[\dXx]"  # ID card, 18 characters
    rf"|\d(?:{_SEP}\d){{14}}"  # ID card, 15 digits (issued before 1999)
    rf"|(?:(?:\+|00)?{_SEP}86{_SEP})?1{_SEP}[3-9](?:{_SEP}\d){{9}})"  # mobile
    r"(?!\d)"
)
# What makes a spreadsheet read a CSV cell as a formula (OWASP, "CSV Injection").
_FORMULA_START = re.compile(r"[\t\r]|\s*[=+\-@]")
_FORMULA_AFTER_SEPARATOR = re.compile(r"[,;\t\r\n\"]\s*[=+\-@]")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_NOT_TEXT = re.compile("[\x00\udc80-\udcff]")  # NUL, and bytes that were not UTF-8


class LedgerError(ValueError):
    """A ledger that cannot be processed at all: unreadable, or missing required columns."""


class RowError(ValueError):
    """One row that cannot be assessed: `column` and `kind` (a key of PROBLEMS); the message
    is `column: why` in English."""

    def __init__(self, column: str, kind: str) -> None:
        super().__init__(f"{column}: {PROBLEMS[kind][0]}")
        self.column, self.kind = column, kind


@dataclass(frozen=True)
class BatchSummary:
    """How many rows were read, assessed, and written with an error."""

    rows: int
    assessed: int
    errors: int
    reused: int = field(default=0, compare=False)  # answers taken from an earlier, equal row


@dataclass(frozen=True)
class _Header:
    """Where each known column is in a row."""

    index: dict[str, int]
    years: tuple[tuple[int, int], ...]  # (year, index) of the y2025-style columns

    @classmethod
    def parse(cls, header: list[str]) -> _Header:
        """Raises LedgerError for a missing required column or a known column named twice."""
        index: dict[str, int] = {}
        years: dict[int, int] = {}
        seen: dict[str, int] = {}
        for i, name in enumerate(header):
            name = name.strip().lower()
            match = YEAR_COLUMN.match(name)
            if name not in REQUIRED and name not in OPTIONAL and not match:
                continue  # a column never read may be named twice
            if name in seen:
                raise LedgerError(
                    f"header: column {name} appears twice (columns {column_letter(seen[name])} "
                    f"and {column_letter(i)}); rename or remove one"
                )
            seen[name] = i
            if match:
                years[int(match[1])] = i
            else:
                index[name] = i
        missing = [name for name in REQUIRED if name not in index]
        if missing:
            raise LedgerError(f"header: missing required column(s) {', '.join(missing)}")
        return cls(index, tuple(sorted(years.items())))

    @property
    def inputs(self) -> tuple[int, ...]:
        """Where the columns an answer depends on are: all but `id` and unknown columns."""
        named = (i for name, i in self.index.items() if name != "id")
        return tuple(sorted({*named, *(i for _, i in self.years)}))

    def get(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""


def column_letter(index: int) -> str:
    """The spreadsheet name of the column at 0-based `index`: 0 is A, 25 Z, 26 AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def output_columns(with_id: bool) -> list[str]:
    """The output header: `id` first when the input has one."""
    return ["id", *RESULT_COLUMNS] if with_id else list(RESULT_COLUMNS)


def looks_personal(text: str) -> bool:
    """Whether `text` holds what looks like an ID-card or mobile phone number anywhere."""
    return PERSONAL_NUMBER.search(unicodedata.normalize("NFKC", text)) is not None


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take the text cell `text` for a formula, as OWASP lists it:
    = + - @ tab or carriage return at the start, or = + - @ after a separator or quote. A
    cell that is exactly a number (-2000) is read as that number, never a formula."""
    if _PLAIN_NUMBER.fullmatch(text):
        return False
    return bool(_FORMULA_START.match(text) or _FORMULA_AFTER_SEPARATOR.search(text))


@functools.lru_cache(maxsize=1024)  # most cells are the same few words, dates and messages
def csv_text(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows as text: a leading ' when it looks like a
    formula (looks_like_formula), otherwise unchanged."""
    return "'" + text if looks_like_formula(text) else text


def parse_date(column: str, text: str) -> dt.date | None:
    """A date in one of the styles the bot takes (bot.parsing); None when empty."""
    if not text:
        return None
    try:
        return parsing.parse_date(text)
    except InvalidAnswer:
        raise RowError(column, "not_a_date") from None


def _int(column: str, text: str, kind: str = "not_a_whole_number") -> int:
    try:  # as the bot reads them: any digits, a year also as 2027年
        return parsing.parse_year(text) if kind == "not_a_year" else int(parsing.to_ascii(text))
    except (InvalidAnswer, ValueError):
        raise RowError(column, kind) from None


def _coverage_value(column: str, text: str) -> Coverage:
    value = COVERAGE_NAMES.get(text.lower())
    if value is None:
        raise RowError(column, "unknown_coverage")
    return value


def parse_coverage(
    header: _Header, row: list[str]
) -> dict[int, Coverage | CoverageDetail]:  # as Profile takes it
    """Coverage by year from the `coverage` column and the `yYYYY` columns together."""
    coverage: dict[int, Coverage | CoverageDetail] = {}
    # Full-width separators are what a Chinese input method types.
    text = header.get(row, "coverage").replace("；", ";").replace("：", ":")
    for part in filter(None, (p.strip() for p in text.split(";"))):
        year_text, sep, kind = part.partition(":")
        if not sep:
            raise RowError("coverage", "not_year_kind")
        coverage[_int("coverage", year_text.strip(), "not_a_year")] = _coverage_value(
            "coverage", kind.strip()
        )
    for year, i in header.years:
        text = row[i].strip() if i < len(row) else ""
        if not text:
            continue
        value = _coverage_value(f"y{year}", text)
        if coverage.setdefault(year, value) != value:
            raise RowError(f"y{year}", "conflicts_with_coverage")
    return coverage


def _validation_problem(error: ValidationError) -> RowError:
    """The column and kind of the profile's first invalid field; its value left out."""
    name, _, message = describe_error(error, "row").partition(": ")
    column = name.split(".")[0]
    if column not in REQUIRED and column not in OPTIONAL and not YEAR_COLUMN.match(column):
        column = "row"
    kind = next((kind for words, kind in VALIDATION_KINDS if words in message), "invalid")
    return RowError(column, kind)


def parse_row(header: _Header, row: list[str], today: dt.date) -> Profile:
    """The profile one ledger row describes; raises RowError naming the bad column."""
    text = header.get(row, "region")
    region = REGION_NAMES.get(text.lower())
    if region is None:
        raise RowError("region", "unknown_region" if text else "required")
    text = header.get(row, "benefit_year")
    if not text:
        raise RowError("benefit_year", "required")
    year = _int("benefit_year", text, "not_a_year")
    if year < FIRST_YEAR:
        raise RowError("benefit_year", "before_first_year")
    group = header.get(row, "group").lower() or None
    if group is not None and group not in GROUPS:
        raise RowError("group", "unknown_group")
    zero_claims = header.get(row, "zero_claim_years").replace("；", ";")
    try:
        return Profile(
            region=region,
            benefit_year=year,
            coverage=parse_coverage(header, row),
            payment_date=parse_date("payment_date", header.get(row, "payment_date")),
            group=group,
            repair_years=_int("repair_years", header.get(row, "repair_years") or "0"),
            zero_claim_years=[
                _int("zero_claim_years", y.strip(), "not_a_year")
                for y in zero_claims.split(";")
                if y.strip()
            ],
            birth_date=parse_date("birth_date", header.get(row, "birth_date")),
            today=today,
        )
    except ValidationError as error:
        raise _validation_problem(error) from None


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def result_cells(assessment: Assessment) -> list[Cell]:
    """The output columns between `row` and `error`, for one assessment."""
    waiting, repair, cap = assessment.waiting, assessment.repair, assessment.cap
    cost = repair.cost_per_year
    start = waiting.benefit_start
    return [
        assessment.region,
        assessment.benefit_year,
        waiting.break_years,
        _yes(waiting.exempt),
        waiting.total_months,
        start.isoformat() if start else None,
        _yes(waiting.no_cover_this_year),
        repair.useful_years,
        cost,
        None if cost is None else cost * repair.useful_years,
        cap.net_change,
        cap.continuity_steps + cap.zero_claim_steps - cap.penalty_steps,
    ]


def header_cells(with_id: bool, lang: str = "en") -> list[str]:
    """The output header in `lang`."""
    columns = output_columns(with_id)
    return [ZH_COLUMNS.get(c, c) for c in columns] if lang == "zh_Hans" else columns


def describe(problems: Sequence[Problem], lang: str = "en") -> str | None:
    """A row's `error` cell in `lang`: `column: why` for each problem, `; `-separated (in
    Chinese `列名：原因`, `；`-separated); None when there is none."""
    if not problems:
        return None
    if lang != "zh_Hans":
        return "; ".join(f"{column}: {PROBLEMS[kind][0]}" for column, kind in problems)
    return "；".join(f"{_zh_column(column)}：{PROBLEMS[kind][1]}" for column, kind in problems)


def _zh_column(column: str) -> str:
    return ZH_COLUMNS.get(column) or (f"{column[1:]}年" if YEAR_COLUMN.match(column) else column)


def localize_cells(cells: list[Cell], lang: str) -> list[Cell]:
    """Result cells (between `row` and `error`) in `lang`: region and yes/no; numbers stay."""
    if lang != "zh_Hans":
        return cells
    return [ZH_VALUES.get(v, v) if isinstance(v, str) else v for v in cells]


@contextmanager
def _table(path: Path, fmt: str) -> Iterator[Callable[[Sequence[Cell]], None]]:
    """A function that writes one row of cells. The rows go to a temporary file beside `path`
    that replaces `path` when the block ends, and is removed if it ends by an exception."""
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    stream = path.exists() and not path.is_file()  # such as /dev/stdout: written as it comes
    part = path if stream else path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        if fmt == "xlsx":
            from openpyxl import Workbook
            from openpyxl.cell import WriteOnlyCell
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            book = Workbook(write_only=True)  # rows go to a temporary file, not memory
            sheet = book.create_sheet("result")

            def text_cell(text: str) -> SheetCell:
                # Control characters would make openpyxl refuse the row.
                cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", text))
                cell.data_type = "s"  # openpyxl would make "=..." a formula, "#N/A" an error
                if looks_like_formula(text):
                    cell.quotePrefix = True  # as Excel marks a typed '=...: stays text if edited
                return cell

            try:
                yield lambda cells: sheet.append(
                    [text_cell(c) if isinstance(c, str) else c for c in cells]
                )
            except BaseException:
                with suppress(Exception):
                    sheet.close()  # else its half-written rows complain when collected
                raise
            book.save(part)
        else:
            with part.open("w" if stream else "x", encoding="utf-8-sig", newline="") as out:
                # Text quoted, so a separator inside a cell never starts a new one; numbers bare.
                writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
                yield lambda cells: writer.writerow(
                    [csv_text(c) if isinstance(c, str) else c for c in cells]
                )
        if not stream:
            os.replace(part, path)
    except BaseException:
        if not stream:
            part.unlink(missing_ok=True)
        raise


class _Records:
    """The CSV records of an open ledger, each a list of cells, read a bounded line at a time.

    `file` is opened with errors="surrogateescape" and newline="". Blank and `#` lines before the
    header are skipped. Raises LedgerError naming the row (`header` or `row N`, N as in the
    output's `row`), its line in the file and, where one is at fault, the column, for a row over
    MAX_ROW_CHARS or a cell over MAX_CELL_CHARS, text that is not UTF-8, or a NUL character.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._line = 0  # lines read so far
        self._start = 0  # the line the record being read starts on
        self._chars = 0  # characters of the record being read
        self._header: list[str] | None = None
        self.number = 0  # the record's number after the header
        self._reader = csv.reader(self._lines())

    def header(self) -> list[str]:
        """The header record; raises LedgerError when the file has none."""
        row, _ = self._next()
        if row is None:
            raise LedgerError("empty, expected a header row")
        self._header = row
        return row

    def __iter__(self) -> Iterator[tuple[int, list[str], str]]:
        """(number, cells, the cells joined) for each record after the header."""
        while True:
            self.number += 1
            row, joined = self._next()
            if row is None:
                return
            yield self.number, row, joined

    def _next(self) -> tuple[list[str] | None, str]:
        """The next record and its cells joined, checked; None at the end of the file."""
        self._chars = 0
        try:
            row = next(self._reader, None)
        except csv.Error as error:
            raise LedgerError(f"{self._where()}: not readable as CSV ({error})") from None
        return (None, "") if row is None else (row, self._check(row))

    def _lines(self) -> Iterator[str]:
        while line := self._file.readline(MAX_ROW_CHARS + 1):
            self._line += 1
            if not self._chars:
                self._start = self._line
            self._chars += len(line)
            if self._chars > MAX_ROW_CHARS:
                raise self._too_long(line)
            if self._header is None and (not line.strip() or line.lstrip().startswith("#")):
                self._chars = 0
                continue
            yield line

    def _too_long(self, line: str) -> LedgerError:
        # Only this much of the line was read: the over-long cell is the last one begun in it.
        if self._start == self._line:
            cells = next(csv.reader([line]), [])
            if cells and len(cells[-1]) > MAX_CELL_CHARS:
                return self._cell_too_long(len(cells) - 1)
        return LedgerError(f"{self._where()}: a row longer than {MAX_ROW_CHARS:,} characters")

    def _cell_too_long(self, column: int) -> LedgerError:
        return LedgerError(
            f"{self._where(column)}: a cell longer than {MAX_CELL_CHARS:,} characters"
        )

    def _check(self, row: list[str]) -> str:
        joined = "".join(row)
        if len(joined) > MAX_CELL_CHARS:
            for i, cell in enumerate(row):
                if len(cell) > MAX_CELL_CHARS:
                    raise self._cell_too_long(i)
        if _NOT_TEXT.search(joined):
            for i, cell in enumerate(row):
                if bad := _NOT_TEXT.search(cell):
                    why = (
                        "a NUL character (is it a UTF-16 or binary file?)"
                        if bad[0] == "\x00"
                        else "not UTF-8 text"
                    )
                    raise LedgerError(f"{self._where(i)}: {why}; save the ledger as 'CSV UTF-8'")
        return joined

    def _where(self, column: int | None = None) -> str:
        row = "header" if self._header is None else f"row {self.number}"
        where = f"{row} (line {self._start})"
        if column is None:
            return where
        where += f", column {column_letter(column)}"
        name = self._header[column].strip() if self._header and column < len(self._header) else ""
        if name and len(name) <= 40 and not _NOT_TEXT.search(name) and name.isprintable():
            where += f" ({name})"
        return where


def _progress(enabled: bool | None) -> Any:
    from tqdm import tqdm

    disable = not sys.stderr.isatty() if enabled is None else not enabled
    return tqdm(unit=" rows", file=sys.stderr, disable=disable)


def run_batch(
    input_path: Path | str,
    output_path: Path | str,
    *,
    fmt: str = "csv",
    today: dt.date | None = None,
    policies: Mapping[str, Policy] | None = None,
    progress: bool | None = None,
    lang: str = "en",
) -> BatchSummary:
    """Assess every row of the ledger at `input_path` into `output_path` (`fmt` csv or xlsx),
    the header, values and error messages in `lang` (en or zh_Hans).

    Raises ValueError for an unknown `fmt` or `lang`, LedgerError for a ledger that cannot be
    read (see _Records and _Header.parse) or an output that cannot be written; `output_path` is
    then left as it was."""
    source, target = Path(input_path), Path(output_path)
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise ValueError(f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    if target.exists() and target.resolve() == source.resolve():
        raise LedgerError(f"{target}: the output would overwrite the input")
    today = today or dt.date.today()
    policies = policies if policies is not None else load_policies()
    rows = assessed = reused = 0
    try:
        with source.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
            records = _Records(file)
            header = _Header.parse(records.header())
            with_id = "id" in header.index
            # Rows with the same inputs get the same answer: neighbours in a village ledger
            # often share a history, so the last few thousand answers are kept by their inputs.
            columns = header.inputs
            last = max(columns)
            inputs = itemgetter(*columns)  # two or more columns: it returns a tuple
            answers: dict[tuple[str, ...], tuple[list[Cell], tuple[Problem, ...]]] = {}
            with _table(target, fmt) as write, _progress(progress) as bar:
                write(header_cells(with_id, lang))
                for number, row, joined in records:
                    if not joined.strip():
                        continue  # blank rows keep their number so `row` matches the sheet
                    rows += 1
                    key = inputs(row) if len(row) > last else None
                    answer = answers.get(key) if key else None
                    reused += answer is not None
                    if answer is None:
                        try:
                            profile = parse_row(header, row, today)
                            answer = result_cells(assess(profile, policies, explain=False)), ()
                        except RowError as error:
                            blank: list[Cell] = [None] * (len(RESULT_COLUMNS) - 2)
                            answer = blank, ((error.column, error.kind),)
                        if key and sum(map(len, key)) <= KEY_CHARS_KEPT:
                            if len(answers) >= ANSWERS_KEPT:
                                answers.clear()
                            answers[key] = answer
                    cells, problems = answer
                    assessed += not problems
                    label: list[Cell] = []
                    if with_id:
                        text = header.get(row, "id")
                        label = [text]
                        if looks_personal(text):
                            label = [None]  # an office's label must not carry a person's number
                            problems = (*problems, ("id", "personal"))
                    note = describe(problems, lang)
                    write([*label, number, *localize_cells(cells, lang), note])
                    bar.update()
    except LedgerError as error:
        raise LedgerError(f"{source}: {error}") from None
    except OSError as error:
        raise LedgerError(f"{error.filename or target}: {error.strerror or error}") from None
    return BatchSummary(rows=rows, assessed=assessed, errors=rows - assessed, reused=reused)


def _date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text}") from None


def _batch(args: argparse.Namespace) -> int:
    fmt = args.format or ("xlsx" if args.output.suffix.lower() == ".xlsx" else "csv")
    try:
        policies = load_policies(args.overrides)
        summary = run_batch(
            args.input, args.output, fmt=fmt, today=args.today, policies=policies, lang=args.lang
        )
    except PolicyError as error:
        print(f"yibao batch: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    except LedgerError as error:
        print(f"yibao batch: {error}", file=sys.stderr)
        return 2
    print(
        f"yibao batch: {summary.rows} rows read, {summary.assessed} assessed, "
        f"{summary.errors} with errors; written to {args.output}",
        file=sys.stderr,
    )
    return 0


def add_cli(subparsers: Commands) -> None:
    """Add the `batch` subcommand; its handler returns the exit code."""
    batch = subparsers.add_parser(
        "batch",
        help="assess a ledger CSV (one person a row) into a CSV or XLSX table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("input", type=Path, help="the ledger, UTF-8 CSV with a header row")
    batch.add_argument("-o", "--output", type=Path, required=True, help="the result file")
    batch.add_argument(
        "--format", choices=FORMATS, help="default: xlsx for a .xlsx output, otherwise csv"
    )
    batch.add_argument(
        "--lang",
        choices=LANGUAGES,
        default="en",
        help="language of the header, values and error messages (default: en)",
    )
    batch.add_argument(
        "--today", type=_date_argument, help="today's date, YYYY-MM-DD (default: the system's)"
    )
    batch.add_argument(
        "--overrides",
        default=os.environ.get("POLICY_OVERRIDES") or None,
        help="a deployment's policy values (YAML); default $POLICY_OVERRIDES",
    )
    batch.set_defaults(handler=_batch)
