"""`yibao batch --lang zh_Hans`: an office's ledger comes back in Chinese; English stays default."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
from pathlib import Path

import pytest

from bot.ledger import ZH_COLUMNS, add_cli, output_columns, run_batch

TODAY = dt.date(2026, 11, 23)
LEDGER = """\
id,region,benefit_year,coverage,payment_date,group,repair_years
A1,西藏,2027,2025:居民;2026:无,,,1
A2,xizang,2027,2025:resident;2026:resident,,medical_aid,
A3,火星,2027,,,,
A4,天津,2027,2025:居民,2027-13-40,,
A5,重庆,2027,2025:foo,,,
A6,山西,2020,,,,
110101199003071234,西藏,2027,,,,
"""


def rows(tmp_path: Path, **kwargs: object) -> list[list[str]]:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(LEDGER, encoding="utf-8")
    run_batch(source, target, today=TODAY, **kwargs)
    with target.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def test_the_default_output_is_english_as_before(tmp_path: Path) -> None:
    header, *body = rows(tmp_path)
    assert header == output_columns(with_id=True)
    assert body[0][2:4] == ["xizang", "2027"] and body[0][5] == "no"
    assert body[2][-1] == (
        "region: not a known region (xizang, shanxi, chongqing, tianjin or national)"
    )


def test_chinese_header_values_and_errors(tmp_path: Path) -> None:
    header, *body = rows(tmp_path, lang="zh_Hans")
    assert header == [ZH_COLUMNS[c] for c in output_columns(with_id=True)]
    assert header[:4] == ["编号", "行号", "地区", "待遇享受年度"]
    assert "待遇等待期（月）" in header and "错误" in header
    first = dict(zip(header, body[0], strict=True))
    assert first["地区"] == "西藏" and first["免除待遇等待期"] == "否"
    assert first["本年度无保障"] == "否" and first["待遇等待期（月）"] == "3"
    assert dict(zip(header, body[1], strict=True))["免除待遇等待期"] == "是"
    errors = [row[-1] for row in body[2:]]
    assert errors[0] == "地区：无法识别的地区（西藏、山西、重庆、天津或其他）"
    assert errors[1] == "缴费日期：不是有效日期"
    assert errors[2] == "参保情况：无法识别的参保类型（居民、职工或无）"
    assert errors[3] == "待遇享受年度：须为2025年或以后"
    assert errors[4] == "编号：疑似身份证号或手机号，未复制"
    for text in [*header, *(cell for row in body for cell in row[2:])]:
        assert not re.search(r"[A-Za-z]{3,}", text), text
    assert "火星" not in str(body) and "foo" not in str(body)  # nothing typed is echoed


def test_the_same_rows_are_assessed_in_both_languages(tmp_path: Path) -> None:
    english = rows(tmp_path)
    chinese = rows(tmp_path, lang="zh_Hans")
    numbers = re.compile(r"^-?\d*$")
    for en_row, zh_row in zip(english[1:], chinese[1:], strict=True):
        assert [c for c in en_row if numbers.match(c)] == [c for c in zh_row if numbers.match(c)]


def test_the_cli_takes_lang(tmp_path: Path) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(LEDGER, encoding="utf-8")
    parser = argparse.ArgumentParser(prog="yibao")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["batch", str(source), "-o", str(target), "--lang", "zh_Hans", "--today", "2026-11-23"]
    )
    assert args.handler(args) == 0
    with target.open(encoding="utf-8-sig", newline="") as file:
        assert next(csv.reader(file))[:3] == ["编号", "行号", "地区"]
    with pytest.raises(SystemExit):
        parser.parse_args(["batch", str(source), "-o", str(target), "--lang", "fr"])
