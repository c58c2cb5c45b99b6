"""`yibao policy show` as an officer runs it: the book of one policy, on standard output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

YIBAO = Path(sys.executable).with_name("yibao")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]
    environment = {k: v for k, v in os.environ.items() if k != "POLICY_OVERRIDES"}
    return subprocess.run(
        [*command, "policy", "show", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environment, **(env or {})},
    )


def _entry(book: str, heading: str) -> str:
    """The lines of one entry: its heading line and the indented lines under it."""
    lines = book.splitlines()
    start = lines.index(heading)
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return "\n".join(lines[start:end])


def _section(book: str, title: str) -> str:
    after = book.split(f"== {title} ==", 1)[1]
    return after.split("\n== ", 1)[0]


def test_the_xizang_book_shows_value_clause_quote_interpretation_and_unset() -> None:
    done = run("xizang")
    assert done.returncode == 0, done.stderr
    book = done.stdout
    assert "藏医保〔2025〕31号" in book and "xizang-2025-enrollment.txt" in book

    step = _entry(_section(book, "Parameters"), "cap.step")
    assert "4000, in force from January 1, 2025" in step
    assert "Clause: 一(三)" in step
    assert "提高城乡居民大病保险最高支付限额4000元" in step
    assert "found in the clause it cites" in step

    kept = _entry(
        _section(book, "Interpretations where the text is silent"),
        "cap.continuity_kept_on_break (一(三))",
    )
    assert "the regional bureau said it is kept" in kept
    assert "西藏自治区医疗保障局新闻发布会（2025年11月12日）" in kept

    unset = _section(book, "Deployment settings still unset")
    assert "POLICY_OVERRIDES" in unset
    assert "  repair.contribution (一(三))" in unset.splitlines()
    assert "cap.step" not in unset
    assert "NOT FOUND" not in book


def test_a_draft_says_so_and_a_translated_book_keeps_its_data() -> None:
    done = run("chongqing", "--locale", "zh_Hans")
    assert done.returncode == 0, done.stderr
    assert "征求意见稿" in done.stdout and "4000" in done.stdout
    assert "DRAFT FOR COMMENT" in run("chongqing").stdout


def test_a_deployment_setting_leaves_the_unset_list(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("xizang:\n  repair.contribution: 380\n", encoding="utf-8")
    done = run("xizang", env={"POLICY_OVERRIDES": str(overrides)})
    assert done.returncode == 0, done.stderr
    assert "repair.contribution" not in _section(done.stdout, "Deployment settings still unset")
    assert "380, in force from January 1, 2025 [部署设置]" in done.stdout
    flag = run("xizang", "--overrides", str(overrides))
    assert flag.stdout == done.stdout


@pytest.mark.parametrize("region", ["beijing", "Xizang"])
def test_an_unknown_region_exits_2_naming_it(region: str) -> None:
    done = run(region)
    assert done.returncode == 2
    assert repr(region) in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_every_policy_has_a_book() -> None:
    for region in ("shanxi", "tianjin", "national", "xizang-aid"):
        done = run(region)
        assert done.returncode == 0, f"{region}: {done.stderr}"
        assert "== Deployment settings still unset ==" in done.stdout
