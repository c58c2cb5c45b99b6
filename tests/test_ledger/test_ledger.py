"""`yibao batch`: a ledger CSV in, one result row per person out, bad rows reported in place."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.ledger import BatchSummary, RowError, add_cli, output_columns, parse_date, run_batch
from bot.parsing import parse_date as bot_parse_date

SAMPLE = Path(__file__).parents[2] / "docs" / "ledger-sample.csv"
TODAY = dt.date(2026, 11, 23)
HEADER = "id,region,benefit_year,coverage,payment_date,group,repair_years,zero_claim_years"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def batch(tmp_path: Path, text: str, **kwargs: object) -> tuple[BatchSummary, list[dict[str, str]]]:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(text, encoding="utf-8")
    summary = run_batch(source, target, today=TODAY, **kwargs)
    return summary, read_csv(target)


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="yibao")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch", *argv])
    return args.handler(args)


def test_sample_results(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = run_batch(SAMPLE, out, today=TODAY)
    rows = {row["id"]: row for row in read_csv(out)}
    assert summary == BatchSummary(rows=9, assessed=8, errors=1)
    # Xizang 2027 after two uncovered years, paid in the centralized period: 3 fixed months
    # plus 1 for the break year beyond the first; one repaired year removes that month.
    assert rows["A01-1"] == {
        "id": "A01-1",
        "row": "1",
        "region": "xizang",
        "benefit_year": "2027",
        "break_years": "2",
        "exempt": "no",
        "wait_months": "4",
        "benefit_start": "2027-05-01",
        "no_cover_this_year": "no",
        "useful_repair_years": "1",
        "repair_cost_per_year": "",
        "repair_cost_total_useful": "",
        "cap_change": "-8000",
        "cap_change_steps": "-2",
        "error": "",
    }
    # 西藏 with 2025 zero claims then paid in 2026: one step of 4000 up.
    assert rows["A01-2"]["region"] == "xizang"
    assert (rows["A01-2"]["cap_change"], rows["A01-2"]["wait_months"]) == ("4000", "0")
    # Paid on 15.03.2027, outside the period: the fixed 3 months from the payment day.
    assert (rows["A02-1"]["wait_months"], rows["A02-1"]["benefit_start"]) == ("3", "2027-06-15")
    assert rows["A07-1"]["exempt"] == "yes"
    assert rows["A07-1"]["benefit_start"] == "2027-04-10"
    assert rows["A06-1"]["region"] == "national"
    assert rows["A06-1"]["cap_change"] == ""  # the national step is set by each province
    bad = rows["A05-1"]
    assert bad["error"] == "payment_date: not a date"
    assert bad["row"] == "6"
    assert all(v == "" for k, v in bad.items() if k not in ("id", "row", "error"))
    assert all(rows[key]["error"] == "" for key in ("A06-1", "A07-1", "A08-1"))


def test_year_columns_equal_coverage_column(tmp_path: Path) -> None:
    with SAMPLE.open(encoding="utf-8", newline="") as file:
        lines = [line for line in file if not line.startswith("#")]
    records = list(csv.DictReader(lines))
    years = ["y2025", "y2026", "y2027"]
    converted = tmp_path / "years.csv"
    with converted.open("w", encoding="utf-8", newline="") as file:
        fields = [f for f in records[0] if f != "coverage"] + years
        writer = csv.DictWriter(file, fields)
        writer.writeheader()
        for record in records:
            coverage = dict(p.split(":") for p in record.pop("coverage").split(";") if p)
            writer.writerow(record | {f"y{y}": kind for y, kind in coverage.items()})
    run_batch(SAMPLE, tmp_path / "a.csv", today=TODAY)
    run_batch(converted, tmp_path / "b.csv", today=TODAY)
    assert read_csv(tmp_path / "a.csv") == read_csv(tmp_path / "b.csv")


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ("mars,2027,,,,,", "region: not a known region"),
        (",2027,,,,,", "region: required"),
        ("xizang,2024,,,,,", "benefit_year: must be 2025 or later"),
        ("xizang,2101,,,,,", "benefit_year: outside the possible range"),
        ("xizang,soon,,,,,", "benefit_year: not a year"),
        ("xizang,2027,,2026-13-01,,,", "payment_date: not a date"),
        (
            "xizang,2027,,2024-03-01,,,",
            "payment_date: neither in the benefit year nor in the year before",
        ),
        ("xizang,2027,2025:maybe,,,,", "coverage: not a known coverage"),
        ("xizang,2027,2025-none,,,,", "coverage: expected year:kind"),
        ("xizang,2027,2028:none,,,,", "coverage: a year after the benefit year"),
        ("xizang,2027,1900:none,,,,", "coverage: outside the possible range"),
        ("xizang,2027,,,pirate,,", "group: not a known group"),
        ("xizang,2027,,,,two,", "repair_years: not a whole number"),
        ("xizang,2027,,,,99,", "repair_years: outside the possible range"),
        ("xizang,2027,,,,,2027", "zero_claim_years: must be before the benefit year"),
    ],
)
def test_bad_row_names_column_and_later_rows_are_assessed(
    tmp_path: Path, values: str, error: str
) -> None:
    text = f"{HEADER}\nb1,{values}\nok,xizang,2027,2025:none;2026:none,,,,\n"
    summary, rows = batch(tmp_path, text)
    assert summary == BatchSummary(rows=2, assessed=1, errors=1)
    assert rows[0]["error"].startswith(error)
    assert (rows[0]["id"], rows[0]["row"], rows[0]["wait_months"]) == ("b1", "1", "")
    assert (rows[1]["error"], rows[1]["wait_months"]) == ("", "4")


def test_year_column_conflicting_with_coverage(tmp_path: Path) -> None:
    text = "region,benefit_year,coverage,y2025\nxizang,2027,2025:none,居民\n"
    _, rows = batch(tmp_path, text)
    assert rows[0]["error"] == "y2025: differs from the coverage column"


def test_personal_columns_are_not_copied(tmp_path: Path) -> None:
    text = (
        "姓名,name,id,身份证,id_number,region,benefit_year,phone,电话,coverage\n"
        "张三,Zhang San,H1,540102199001011234,540102199001011235,西藏,2027,"
        "13800000000,13900000000,2025:none\n"
    )
    _, rows = batch(tmp_path, text)
    output = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert list(rows[0]) == output_columns(with_id=True)
    for secret in ("张三", "Zhang", "5401021990", "13800000000", "13900000000"):
        assert secret not in output
    assert rows[0]["id"] == "H1"


def test_bom_comments_blank_rows_and_no_id(tmp_path: Path) -> None:
    text = "\ufeff# a note\n\nRegion,Benefit_Year,coverage\n山西,2027,\n\n天津,2026,2025:职工\n"
    summary, rows = batch(tmp_path, text)
    assert summary == BatchSummary(rows=2, assessed=2, errors=0)
    assert list(rows[0]) == output_columns(with_id=False)
    # The blank line keeps its number, so `row` is the record's place in the sheet.
    assert [(r["row"], r["region"]) for r in rows] == [("1", "shanxi"), ("3", "tianjin")]


def test_dates() -> None:
    day = dt.date(2026, 3, 15)
    assert parse_date("d", "2026-03-15") == parse_date("d", "15.03.2026") == day
    assert parse_date("d", "2026/3/15") == day
    assert parse_date("d", "") is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-15",
        "15.03.2026",
        "2026/3/15",
        "15/03/2026",
        "2026.03.15",
        "2026年3月15日",
        "１５．０３．２０２６",
        "２０２６／３／１５",
        "༢༠༢༦-༠༣-༡༥",
    ],
)
def test_dates_as_the_bot_reads_them(text: str) -> None:
    assert parse_date("d", text) == bot_parse_date(text) == dt.date(2026, 3, 15)


def test_a_date_the_bot_refuses_is_a_row_error(tmp_path: Path) -> None:
    with pytest.raises(RowError, match=r"^payment_date: not a date$"):
        parse_date("payment_date", "2026-02-30")
    text = (
        f"{HEADER}\n"
        "A,山西,２０２７年,2025：居民；２０２６：居民,１５．０３．２０２７,,༠,\n"
        "B,山西,2027,,2027-13-01,,,\n"
    )
    summary, rows = batch(tmp_path, text)
    assert summary == BatchSummary(rows=2, assessed=1, errors=1)
    assert rows[0]["benefit_year"] == "2027" and rows[0]["error"] == ""
    assert rows[1]["error"] == "payment_date: not a date"


def test_xlsx_has_the_cells_of_the_csv(tmp_path: Path) -> None:
    run_batch(SAMPLE, tmp_path / "out.csv", today=TODAY)
    run_batch(SAMPLE, tmp_path / "out.xlsx", fmt="xlsx", today=TODAY)
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as file:
        expected = list(csv.reader(file))
    sheet = load_workbook(tmp_path / "out.xlsx").active
    cells = [["" if v is None else str(v) for v in row] for row in sheet.values]
    assert cells == expected


def test_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("xizang:\n  repair.contribution: 400\n", encoding="utf-8")
    out = tmp_path / "result.csv"
    code = cli(str(SAMPLE), "-o", str(out), "--today", "2026-11-23", "--overrides", str(overrides))
    assert code == 0
    first = read_csv(out)[0]
    assert (first["repair_cost_per_year"], first["repair_cost_total_useful"]) == ("400", "400")
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"yibao batch: 9 rows read, 8 assessed, 1 with errors; written to {out}"
    ]


def test_cli_picks_xlsx_from_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "result.xlsx"
    assert cli(str(SAMPLE), "-o", str(out), "--today", "2026-11-23") == 0
    assert load_workbook(out).active.max_row == 10


def test_cli_missing_region_column_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("id,benefit_year\n1,2027\n", encoding="utf-8")
    assert cli(str(source), "-o", str(out)) == 2
    assert capsys.readouterr().err == (
        f"yibao batch: {source}: header: missing required column(s) region\n"
    )
    assert not out.exists()


def test_cli_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out.csv")) == 2
    assert "missing.csv: No such file or directory" in capsys.readouterr().err
    (tmp_path / "gbk.csv").write_bytes("region,benefit_year\n西藏,2027\n".encode("gbk"))
    assert cli(str(tmp_path / "gbk.csv"), "-o", str(tmp_path / "out.csv")) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_an_id_that_looks_like_an_id_card_or_phone_number_is_not_copied(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "id,region,benefit_year,coverage\n"
        "A-12,xizang,2027,2025:none;2026:none\n"
        "54010219800101123X,xizang,2027,2025:none;2026:none\n"
        "13912345678,tianjin,2027,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    run_batch(ledger, out, today=dt.date(2026, 11, 23))
    text = out.read_text(encoding="utf-8-sig")
    assert "54010219800101123X" not in text and "13912345678" not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert rows[0]["id"] == "A-12" and rows[0]["error"] == ""
    for row in rows[1:]:
        assert row["id"] == "" and row["wait_months"] and "not copied" in row["error"]


@pytest.mark.parametrize("kept", [8192, 2])
def test_neighbours_with_the_same_history_get_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    # Answers are reused for rows with the same inputs, also when only a few are kept.
    monkeypatch.setattr("bot.ledger.ANSWERS_KEPT", kept)
    lines = [
        "a,xizang,2027,2025:none;2026:none,,,,",
        "b,shanxi,2027,2025:none;2026:none,,,,",
        "c,xizang,2027,2025:none;2026:none,,,,",
        "d,xizang,2027,2025:none;2026:none,2027-03-15,,,",
        "e,xizang,2027,2025:maybe,,,,",
        "f,xizang,2027,2025:none;2026:none,,,1,",
        "g,xizang,2027,2025:maybe,,,,",
        "13912345678,xizang,2027,2025:none;2026:none,,,,",
        "h,xizang,2027,2025:none;2026:none,,,,",
    ]
    summary, rows = batch(tmp_path, "\n".join([HEADER, *lines]) + "\n")
    alone = {}
    for i, line in enumerate(lines):
        folder = tmp_path / str(i)
        folder.mkdir()
        alone[i] = batch(folder, f"{HEADER}\n{line}\n")[1][0]
    assert summary == BatchSummary(rows=9, assessed=7, errors=2)
    for i, row in enumerate(rows):
        expected = {**alone[i], "row": str(i + 1)}
        assert row == expected
    assert rows[0]["wait_months"] == rows[2]["wait_months"] == rows[8]["wait_months"] == "4"
    assert rows[3]["benefit_start"] != rows[0]["benefit_start"]  # paid late: its own answer
    assert rows[7]["id"] == "" and "not copied" in rows[7]["error"]
    assert rows[8]["error"] == ""
