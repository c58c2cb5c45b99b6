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

Every other column (names, ID-card or phone numbers, notes) is read past and never written.
Output: one row per non-blank input row with the columns of `output_columns`; a row that cannot
be assessed keeps only `row`, `id` and `error` (`column: why`). `cap_change_steps` counts the
steps earned (continuity + zero-claim - break years) before any ceiling on the yuan change.
CSV output is written as UTF-8 with BOM so spreadsheet programs read the Chinese correctly.
`--lang zh_Hans` writes the header, regions, yes/no and the error messages in Chinese, in the
glossary's terms (locales/glossary.yaml); the default stays English.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import parsing
from bot.parsing import InvalidAnswer
from rules import Assessment, Policy, PolicyError, Profile, assess, load_policies
from rules.models import FIRST_YEAR, GROUPS, REGIONS, describe_error

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
REGION_NAMES = {
    **{region: region for region in REGIONS},
    "西藏": "xizang",
    "山西": "shanxi",
    "重庆": "chongqing",
    "天津": "tianjin",
    "其他": "national",
}
COVERAGE_NAMES = {
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
ZH_GROUPS = {
    "newborn": "新生儿",
    "infant": "一周岁以内婴儿",
    "medical_aid": "医疗救助对象",
    "job_change": "就业状态发生变化中断缴费不超过3个月的人员",
    "veteran": "退役军人",
    "released": "刑满释放人员",
    "student": "新入学大学生、技工院校学生",
    "hardship": "新认定的困难人员",
}
# (English `why` of a RowError, Chinese): the bad input, when quoted, is kept as typed.
ZH_REASONS = (
    (re.compile(r"^required$"), "必填"),
    (re.compile(r"^not a date: (.*)$"), "不是有效日期：{0}"),
    (re.compile(r"^not a year: (.*)$"), "不是有效年份：{0}"),
    (re.compile(r"^not a whole number: (.*)$"), "不是整数：{0}"),
    (re.compile(r"^must be (\d{4}) or later$"), "须为{0}年或以后"),
    (re.compile(r"^unknown region '(.*)'$"), "无法识别的地区“{0}”（西藏、山西、重庆、天津或其他）"),
    (re.compile(r"^unknown group '(.*)' \(one of .*\)$"), "无法识别的人群“{0}”"),
    (
        re.compile(r"^unknown coverage '(.*)' \(resident, employee or none\)$"),
        "无法识别的参保类型“{0}”（居民、职工或无）",
    ),
    (re.compile(r"^expected year:kind, got '(.*)'$"), "应为“年份:参保类型”，实际为“{0}”"),
    (re.compile(r"^(\w+) but coverage says (\w+)$"), "与“参保情况”列不一致（{0}／{1}）"),
    (
        re.compile(r"^looks like an ID card or phone number; not copied$"),
        "疑似身份证号或手机号，未复制",
    ),
)

Cell = str | int | None


# Chinese ID card numbers (15 or 18 characters) and mainland mobile numbers.
ANSWERS_KEPT = 8192
PERSONAL_NUMBER = re.compile(r"\d{15}|\d{17}[\dXx]|\+?(86)?1[3-9]\d{9}")


class LedgerError(ValueError):
    """A ledger that cannot be processed at all: unreadable, or missing required columns."""


class RowError(ValueError):
    """One row that cannot be assessed; the message is `column: why`."""


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
        index: dict[str, int] = {}
        years: dict[int, int] = {}
        for i, name in enumerate(header):
            name = name.strip().lower()
            if name in REQUIRED or name in OPTIONAL:
                index.setdefault(name, i)
            elif match := YEAR_COLUMN.match(name):
                years.setdefault(int(match[1]), i)
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


def output_columns(with_id: bool) -> list[str]:
    """The output header: `id` first when the input has one."""
    return ["id", *RESULT_COLUMNS] if with_id else list(RESULT_COLUMNS)


def parse_date(column: str, text: str) -> dt.date | None:
    """A date in one of the styles the bot takes (bot.parsing); None when empty."""
    if not text:
        return None
    try:
        return parsing.parse_date(text)
    except InvalidAnswer:
        raise RowError(f"{column}: not a date: {text}") from None


def _int(column: str, text: str, what: str = "a whole number") -> int:
    try:  # as the bot reads them: any digits, a year also as 2027年
        return parsing.parse_year(text) if what == "a year" else int(parsing.to_ascii(text))
    except (InvalidAnswer, ValueError):
        raise RowError(f"{column}: not {what}: {text}") from None


def _coverage_value(column: str, text: str) -> str:
    value = COVERAGE_NAMES.get(text.lower())
    if value is None:
        raise RowError(f"{column}: unknown coverage {text!r} (resident, employee or none)")
    return value


def parse_coverage(header: _Header, row: list[str]) -> dict[int, str]:
    """Coverage by year from the `coverage` column and the `yYYYY` columns together."""
    coverage: dict[int, str] = {}
    # Full-width separators are what a Chinese input method types.
    text = header.get(row, "coverage").replace("；", ";").replace("：", ":")
    for part in filter(None, (p.strip() for p in text.split(";"))):
        year, sep, value = part.partition(":")
        if not sep:
            raise RowError(f"coverage: expected year:kind, got {part!r}")
        coverage[_int("coverage", year.strip(), "a year")] = _coverage_value(
            "coverage", value.strip()
        )
    for year, i in header.years:
        text = row[i].strip() if i < len(row) else ""
        if not text:
            continue
        value = _coverage_value(f"y{year}", text)
        if coverage.setdefault(year, value) != value:
            raise RowError(f"y{year}: {value} but coverage says {coverage[year]}")
    return coverage


def parse_row(header: _Header, row: list[str], today: dt.date) -> Profile:
    """The profile one ledger row describes; raises RowError naming the bad column."""
    text = header.get(row, "region")
    region = REGION_NAMES.get(text.lower())
    if region is None:
        raise RowError(f"region: unknown region {text!r}" if text else "region: required")
    text = header.get(row, "benefit_year")
    if not text:
        raise RowError("benefit_year: required")
    year = _int("benefit_year", text, "a year")
    if year < FIRST_YEAR:
        raise RowError(f"benefit_year: must be {FIRST_YEAR} or later")
    group = header.get(row, "group").lower() or None
    if group is not None and group not in GROUPS:
        raise RowError(f"group: unknown group {group!r} (one of {', '.join(GROUPS)})")
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
                _int("zero_claim_years", y.strip(), "a year")
                for y in zero_claims.split(";")
                if y.strip()
            ],
            birth_date=parse_date("birth_date", header.get(row, "birth_date")),
            today=today,
        )
    except ValidationError as error:
        raise RowError(describe_error(error, "row")) from None


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def result_cells(assessment: Assessment) -> list[Cell]:
    """The output columns after `row`, for one assessment (error left empty)."""
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
        None,
    ]


def header_cells(with_id: bool, lang: str = "en") -> list[str]:
    """The output header in `lang`."""
    columns = output_columns(with_id)
    return [ZH_COLUMNS.get(c, c) for c in columns] if lang == "zh_Hans" else columns


def describe_in(error: str, lang: str) -> str:
    """A row's `column: why` in `lang`; a reason not in the table keeps its English words."""
    if lang != "zh_Hans":
        return error
    column, sep, why = error.partition(": ")
    if not sep:
        return error
    for pattern, chinese in ZH_REASONS:
        if match := pattern.match(why):
            names = [_zh_word(word) for word in match.groups()]
            why = chinese.format(*names)
            break
    name = ZH_COLUMNS.get(column) or (f"{column[1:]}年" if YEAR_COLUMN.match(column) else column)
    return f"{name}：{why}"


def _zh_word(word: str) -> str:
    return {"resident": "居民", "employee": "职工", "none": "无"}.get(word, word)


def localize_cells(cells: list[Cell], lang: str) -> list[Cell]:
    """Result cells (after `row`) in `lang`: region, yes/no and the error; numbers stay numbers."""
    if lang != "zh_Hans":
        return cells
    *values, error = cells
    return [
        *(ZH_VALUES.get(v, v) if isinstance(v, str) else v for v in values),
        None if error is None else describe_in(str(error), lang),
    ]


@contextmanager
def _table(path: Path, fmt: str) -> Iterator[Callable[[list[Cell]], None]]:
    """A function that writes one row to `path` at once; the file is complete on exit."""
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        book = Workbook(write_only=True)  # rows go to a temporary file, not memory
        sheet = book.create_sheet("result")

        def append(cells: list[Cell]) -> None:
            # Control characters copied from the input would make openpyxl refuse the row.
            sheet.append(
                [ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c for c in cells]
            )

        yield append
        book.save(path)
    elif fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            yield writer.writerow  # the csv module writes None as an empty field
    else:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")


def _records(lines: Iterator[str]) -> Iterator[list[str]]:
    """CSV records, skipping blank and `#` comment lines before the header."""
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            yield from csv.reader([line])
            break
    # The rest is read lazily from the same open file, so only one record is in memory.
    yield from csv.reader(lines)


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
    """Assess every row of the ledger at `input_path`, writing each result as it is made; the
    header, values and error messages in `lang` (en or zh_Hans)."""
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
        with source.open(encoding="utf-8-sig", newline="") as lines:
            records = _records(lines)
            first = next(records, None)
            if first is None:
                raise LedgerError(f"{source}: empty, expected a header row")
            header = _Header.parse(first)
            with_id = "id" in header.index
            # Rows with the same inputs get the same answer: neighbours in a village ledger
            # often share a history, so the last few thousand answers are kept by their inputs.
            columns = header.inputs
            last = max(columns)
            inputs = itemgetter(*columns)  # two or more columns: it returns a tuple
            answers: dict[tuple[str, ...], list[Cell]] = {}
            with _table(target, fmt) as write, _progress(progress) as bar:
                write(header_cells(with_id, lang))
                for number, row in enumerate(records, start=1):
                    if not "".join(row).strip():
                        continue  # blank rows keep their number so `row` matches the sheet
                    rows += 1
                    label: list[Cell] = [header.get(row, "id")] if with_id else []
                    personal = bool(label) and PERSONAL_NUMBER.fullmatch(str(label[0]).strip())
                    if personal:
                        label = [None]  # an office's label must not carry an ID or phone number
                    key = inputs(row) if len(row) > last else None
                    cells = answers.get(key) if key else None
                    reused += cells is not None
                    if cells is None:
                        try:
                            cells = result_cells(
                                assess(parse_row(header, row, today), policies, explain=False)
                            )
                        except RowError as error:
                            cells = [None] * (len(RESULT_COLUMNS) - 2) + [str(error)]
                        if key:
                            if len(answers) >= ANSWERS_KEPT:
                                answers.clear()
                            answers[key] = cells
                    if cells[-1] is None:
                        assessed += 1
                        if personal:
                            note = "id: looks like an ID card or phone number; not copied"
                            cells = [*cells[:-1], note]
                    write([*label, number, *localize_cells(cells, lang)])
                    bar.update()
    except UnicodeDecodeError:
        raise LedgerError(
            f"{source}: not UTF-8 text after {rows} rows; save it as 'CSV UTF-8'"
        ) from None
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


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
