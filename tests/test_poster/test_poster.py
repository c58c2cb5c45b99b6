"""`yibao poster`: the QR code scans back to the deep link, the PDF is A4, Tibetan is shaped."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from bot import poster
from bot.poster import add_cli, deep_link, find_font, make_poster, payment_period
from bot.render import render_macro
from rules import load_policies

TODAY = dt.date(2025, 10, 1)
BOT = "yibao_test_bot"
POSTERS = [("tianjin", "zh_Hans"), ("tianjin", "bo"), ("tianjin", "en"), ("xizang", "bo")]


@pytest.fixture(autouse=True)
def no_deployment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The packaged policies only, whatever $POLICY_OVERRIDES says."""
    monkeypatch.delenv("POLICY_OVERRIDES", raising=False)


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Path]]:
    """Every poster in POSTERS, written once."""
    out = tmp_path_factory.mktemp("posters")
    return {(r, loc): make_poster(r, loc, "@" + BOT, out, today=TODAY) for r, loc in POSTERS}


def zbarimg(path: Path) -> str:
    """The data of the barcodes zbarimg finds in `path`."""
    binary = shutil.which("zbarimg")
    if binary is None:
        pytest.fail("zbarimg not found: install the Debian package zbar-tools")
    result = subprocess.run(
        [binary, "--raw", "-q", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"zbarimg found no code in {path.name}: {result.stderr}"
    return result.stdout.strip()


def picture(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """`text` drawn black on white with `font`."""
    image = Image.new("L", (1600, 300), 255)
    language = "bo" if font.layout_engine == ImageFont.Layout.RAQM else None
    ImageDraw.Draw(image).text((20, 150), text, font=font, fill=0, anchor="ls", language=language)
    return image


def tibetan_font(layout: ImageFont.Layout = ImageFont.Layout.RAQM) -> ImageFont.FreeTypeFont:
    face = find_font("tibetan")
    return ImageFont.truetype(face.path, 100, index=face.index, layout_engine=layout)


@pytest.mark.slow
@pytest.mark.parametrize(("region", "locale"), POSTERS)
def test_qr_code_scans_to_the_deep_link(posters, region: str, locale: str) -> None:
    png, _pdf = posters[region, locale]
    assert png.name == f"yibao-poster-{region}-{locale}.png"
    assert zbarimg(png) == f"https://t.me/{BOT}?start={region}-{locale}"


@pytest.mark.slow
@pytest.mark.parametrize(("region", "locale"), POSTERS)
def test_png_is_a4_at_300_dpi(posters, region: str, locale: str) -> None:
    with Image.open(posters[region, locale][0]) as image:
        assert image.size == (2480, 3508)
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize(("region", "locale"), POSTERS)
def test_pdf_is_one_a4_page(posters, region: str, locale: str) -> None:
    pdf = posters[region, locale][1]
    assert pdf.name == f"yibao-poster-{region}-{locale}.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert len(boxes) == 1
    assert (float(boxes[0][0]), float(boxes[0][1])) == pytest.approx((595.3, 841.9), abs=1.5)


def test_tibetan_is_shaped_not_notdef_boxes() -> None:
    title = render_macro("poster.j2", "title", "bo")
    region = render_macro("poster.j2", "region", "bo", "xizang")
    assert any("\u0f00" <= ch <= "\u0fff" for ch in region), region
    shaped = tibetan_font()
    cjk = find_font("cjk")
    lacking = ImageFont.truetype(cjk.path, 100, index=cjk.index)  # no Tibetan: .notdef boxes
    for text in (region, "སྤྱི་ལོ་", title):
        assert shaped.getmask(text).getbbox() is not None
        assert ImageChops.difference(picture(text, shaped), picture(text, lacking)).getbbox()
    # Stacked consonants need complex shaping: the raqm layout must change the picture.
    basic = tibetan_font(ImageFont.Layout.BASIC)
    assert ImageChops.difference(picture("ལྗོངས་སྤྱི", shaped), picture("ལྗོངས་སྤྱི", basic)).getbbox()


def test_payment_period_is_the_next_campaign() -> None:
    assert payment_period("tianjin", TODAY) == (dt.date(2025, 9, 1), dt.date(2025, 12, 31))
    assert payment_period("tianjin", dt.date(2026, 2, 1)) == (
        dt.date(2026, 9, 1),
        dt.date(2026, 12, 31),
    )
    assert payment_period("xizang", TODAY) is None
    line = render_macro("poster.j2", "payment_period", "en", *payment_period("tianjin", TODAY))
    assert line == "Payment period: September 1, 2025 to December 31, 2025"


def test_a_deployment_can_set_the_payment_period(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text('xizang:\n  payment_period: "10-01/12-20"\n', encoding="utf-8")
    assert payment_period("xizang", TODAY, load_policies(overrides)) == (
        dt.date(2025, 10, 1),
        dt.date(2025, 12, 20),
    )


def test_deep_link_strips_the_at_sign() -> None:
    assert deep_link("@Yibao_Bot", "national", "zh_Hans") == (
        "https://t.me/Yibao_Bot?start=national-zh_Hans"
    )


def test_missing_tibetan_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poster, "_fc_match", lambda family, bold: None)
    monkeypatch.setattr(poster, "_known_file", lambda family, patterns, bold: None)
    poster.find_font.cache_clear()
    try:
        with pytest.raises(poster.FontError, match="fonts-noto-core"):
            find_font("tibetan")
    finally:
        poster.find_font.cache_clear()


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="yibao")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["poster", *argv])
    return args.handler(args)


def test_cli_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli("--region", "shanxi", "--locale", "en", "--bot", BOT, "-o", str(out)) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        str(out / "yibao-poster-shanxi-en.png"),
        str(out / "yibao-poster-shanxi-en.pdf"),
    ]
    assert all(Path(p).stat().st_size > 0 for p in printed)


@pytest.mark.parametrize(
    ("option", "argv"),
    [
        ("--region", ["--region", "tibet", "--locale", "bo", "--bot", BOT]),
        ("--locale", ["--region", "xizang", "--locale", "zh", "--bot", BOT]),
        ("--bot", ["--region", "xizang", "--locale", "bo", "--bot", "abc"]),
        ("--bot", ["--region", "xizang", "--locale", "bo", "--bot", "bad-name!"]),
        ("--bot", ["--region", "xizang", "--locale", "bo", "--bot", "a" * 33]),
    ],
)
def test_cli_rejects_bad_arguments(
    option: str, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli(*argv, "-o", str(out)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and option in lines[0], captured.err
    assert not out.exists()


@pytest.mark.parametrize("locale", ["zh_Hans", "bo"])
def test_a_web_poster_scans_to_the_web_page(locale: str, tmp_path: Path) -> None:
    """`--web URL`: the QR code opens the web page in the region and language, and the words
    say to scan it with the phone's camera or WeChat."""
    out = tmp_path / "out"
    url = "https://yibao.example.org"
    assert cli("--region", "xizang", "--locale", locale, "--web", url, "-o", str(out)) == 0
    png = out / f"yibao-poster-xizang-{locale}.png"
    assert zbarimg(png) == f"{url}/?start=xizang-{locale}"
    words = render_macro("web/words.j2", "poster_call_to_action", locale)
    assert "WeChat" in words or "微信" in words


@pytest.mark.parametrize(
    ("option", "argv"),
    [
        ("--web", ["--region", "xizang", "--locale", "bo", "--web", "yibao.example.org"]),
        ("--region", ["--region", "tibet", "--locale", "bo", "--web", "https://x.example"]),
        ("--bot", ["--region", "xizang", "--locale", "bo"]),
    ],
)
def test_a_web_poster_names_the_option_at_fault(
    option: str, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli(*argv, "-o", str(out)) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"yibao poster: {option}:"), lines
    assert not out.exists()


def test_cli_rejects_bad_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = tmp_path / "bad.yaml"
    overrides.write_text("xizang:\n  payment_period: autumn\n", encoding="utf-8")
    argv = ["--region", "xizang", "--locale", "bo", "--bot", BOT, "-o", str(tmp_path / "out")]
    assert cli(*argv, "--overrides", str(overrides)) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "--overrides" in lines[0]
