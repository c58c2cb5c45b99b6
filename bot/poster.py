"""`yibao poster`: a printable A4 poster whose QR code opens the bot in a region and language,
or with `--web URL` the web page (`yibao web`), which phones reach without Telegram."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.i18n import LOCALES
from rules import REGIONS, PolicyError, PolicySet, load_policies
from rules.policy import period_bounds

if TYPE_CHECKING:  # Pillow, segno and the renderer load when a poster is made, not with the CLI
    from PIL import Image, ImageDraw, ImageFont

    from bot.cli import Commands

WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi
DPI = 300
MARGIN = 180
QR_MIN, QR_MAX = 1100, 1500  # pixels: 9.3 and 12.7 cm
INK, ACCENT, PAPER, MUTED = (20, 24, 33), (24, 72, 140), (255, 255, 255), (90, 96, 110)
_USERNAME = re.compile(r"^[A-Za-z0-9_]{5,32}$")

# Chinese and Latin text: (family, Debian package, known files).
_CJK = (
    "Noto Sans CJK SC",
    "fonts-noto-cjk",
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",),
)
_TIBETAN = (
    (
        "Noto Serif Tibetan",
        "fonts-noto-core",
        ("/usr/share/fonts/truetype/noto/NotoSerifTibetan-{weight}.ttf",),
    ),
    (
        "Tibetan Machine Uni",
        "fonts-tibetan-machine",
        ("/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf",),
    ),
)
# Per Tibetan font: size factor to match Latin and Chinese, then per size of the scaled font
# its ascent, descent and the shift down that lines up its letters with Latin on one baseline.
_TIBETAN_SIZES = {
    "Noto Serif Tibetan": (1.2, 1.15, 0.8, 0.0),
    "Tibetan Machine Uni": (1.7, 0.85, 0.7, 0.26),
}
_NO_LINE_START = set("，。、：；！？）」』》〉,.:;!?)%")
_NO_LINE_END = set("（「『《〈(")
_TSHEG_SHAD = set("\u0f0b\u0f0c\u0f0d\u0f0e\u0f14")


class PosterError(ValueError):
    """A bad argument: `option` names the command-line option at fault."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class FontError(RuntimeError):
    """No usable font (or text layout) for a script: the message names what to install."""


@dataclass(frozen=True)
class FontFace:
    """A font file, and the face inside it for collections."""

    path: str
    index: int = 0
    family: str = ""


def _is_tibetan(ch: str) -> bool:
    """Whether `ch` is in the Tibetan block."""
    return "\u0f00" <= ch <= "\u0fff"


def _is_cjk(ch: str) -> bool:
    """Whether `ch` is a Chinese character or full-width form, around which lines may break."""
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef"


def _fc_match(family: str, bold: bool) -> FontFace | None:
    """The font file fontconfig gives for `family`, if it really is that family."""
    if not shutil.which("fc-match"):
        return None
    pattern = f"{family}:weight={'bold' if bold else 'regular'}"
    result = subprocess.run(
        ["fc-match", "-f", "%{file}|%{index}|%{family}", pattern],
        capture_output=True,
        text=True,
        check=False,
    )
    path, _, rest = result.stdout.partition("|")
    index, _, families = rest.partition("|")
    if result.returncode or family not in families.split(","):
        return None
    return FontFace(path, int(index or 0), family)


def _known_file(family: str, patterns: tuple[str, ...], bold: bool) -> FontFace | None:
    """A known install path of `family`, with the face index found by name in collections."""
    from PIL import ImageFont

    for pattern in patterns:
        for weight in ("Bold", "Regular") if bold else ("Regular",):
            path = Path(pattern.format(weight=weight))
            if not path.exists():
                continue
            for index in range(16):
                try:
                    name = ImageFont.truetype(str(path), 10, index=index).getname()[0]
                except OSError:
                    break
                if name == family:
                    return FontFace(str(path), index, family)
    return None


@cache
def find_font(script: str, bold: bool = False) -> FontFace:
    """The font for `script` ("tibetan" or "cjk", which also covers Latin), or FontError."""
    choices = _TIBETAN if script == "tibetan" else (_CJK,)
    for family, _package, patterns in choices:
        face = _fc_match(family, bold) or _known_file(family, patterns, bold)
        if face:
            return face
    packages = " or ".join(package for _family, package, _patterns in choices)
    what = "Tibetan" if script == "tibetan" else "Chinese and Latin"
    raise FontError(f"no font for {what} text: install the Debian package {packages}")


@cache
def _font(script: str, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    """The loaded font for `script` at `size`; Tibetan requires raqm shaping."""
    from PIL import ImageFont, features

    face = find_font(script, bold)
    if script == "tibetan" and not features.check("raqm"):
        raise FontError(
            "Pillow cannot shape Tibetan: its raqm layout is unavailable "
            "(install the Debian package libfribidi0; for Pillow built from source, libraqm-dev)"
        )
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    if script == "tibetan":
        size = round(size * _TIBETAN_SIZES[face.family][0])
    return ImageFont.truetype(face.path, size, index=face.index, layout_engine=engine)


def _runs(text: str) -> list[tuple[str, str]]:
    """Split `text` into (script, run) pieces; spaces join the run before them."""
    runs: list[tuple[str, str]] = []
    for ch in text:
        script = "tibetan" if _is_tibetan(ch) else "cjk"
        if runs and (runs[-1][0] == script or ch in " \u200b\u200c\u200d"):
            runs[-1] = (runs[-1][0], runs[-1][1] + ch)
        else:
            runs.append((script, ch))
    return runs


def _atoms(text: str) -> list[str]:
    """Split `text` where a line may break: after spaces, after tsheg and shad, around CJK."""
    atoms: list[str] = []
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        breaks = (
            bool(prev)
            and ch != " "
            and (
                prev == " "
                or (prev in _TSHEG_SHAD and ch not in _TSHEG_SHAD)
                or (
                    (_is_cjk(ch) or _is_cjk(prev))
                    and ch not in _NO_LINE_START
                    and prev not in _NO_LINE_END
                )
            )
        )
        if breaks or not atoms:
            atoms.append(ch)
        else:
            atoms[-1] += ch
    return atoms


@dataclass(frozen=True)
class _Style:
    """How a block of text is set: size in pixels, weight, colour."""

    size: int
    bold: bool = False
    fill: tuple[int, int, int] = INK


def _language(script: str) -> str | None:
    """The language tag raqm shapes a run of `script` with."""
    return "bo" if script == "tibetan" else None


def _width(text: str, style: _Style) -> float:
    """The advance width of `text` set in `style`, script by script."""
    fonts = ((_font(s, style.size, style.bold), s, run) for s, run in _runs(text))
    return sum(font.getlength(run, language=_language(s)) for font, s, run in fonts)


def _wrap(text: str, style: _Style, width: int) -> list[str]:
    """Greedy line breaking of `text` into lines no wider than `width` where possible."""
    lines: list[str] = []
    line = ""
    for atom in _atoms(text):
        if line and _width((line + atom).rstrip(), style) > width:
            lines.append(line.rstrip())
            line = atom.lstrip()
        else:
            line += atom
    return [*lines, line.rstrip()] if line.strip() else lines


def _metrics(text: str, style: _Style) -> tuple[int, int]:
    """Ascent and descent covering every script in `text`."""
    pairs = []
    for script in {s for s, _run in _runs(text)} or {"cjk"}:
        if script == "tibetan":  # the font's own metrics leave room for rare, very tall stacks
            scale, ascent, descent, _shift = _TIBETAN_SIZES[find_font(script, style.bold).family]
            size = style.size * scale
            pairs.append((round(size * ascent), round(size * descent)))
        else:
            pairs.append(_font(script, style.size, style.bold).getmetrics())
    return max(a for a, _ in pairs), max(d for _, d in pairs)


@dataclass(frozen=True)
class _Block:
    """Wrapped lines of one paragraph, set in one style."""

    lines: list[str]
    style: _Style
    ascent: int
    descent: int

    @property
    def height(self) -> int:
        return len(self.lines) * (self.ascent + self.descent)


def _block(text: str, style: _Style, width: int = WIDTH - 2 * MARGIN) -> _Block:
    """Wrap `text`, shrinking the type until every line fits `width`."""
    while True:
        lines = _wrap(text, style, width)
        if style.size <= 24 or all(_width(line, style) <= width for line in lines):
            return _Block(lines, style, *_metrics(text, style))
        style = _Style(int(style.size * 0.9), style.bold, style.fill)


def _draw_block(draw: ImageDraw.ImageDraw, block: _Block, top: int) -> int:
    """Draw `block` centred from `top`; return the y below it."""
    style = block.style
    for line in block.lines:
        x = (WIDTH - _width(line, style)) / 2
        baseline = top + block.ascent
        for script, run in _runs(line):
            font = _font(script, style.size, style.bold)
            language = _language(script)
            shift = _TIBETAN_SIZES[find_font(script, style.bold).family][3] if language else 0
            draw.text(
                (x, baseline + shift * font.size),
                run,
                font=font,
                fill=style.fill,
                anchor="ls",
                language=language,
            )
            x += font.getlength(run, language=language)
        top += block.ascent + block.descent
    return top


def _check(region: str, locale: str, bot_username: str | None) -> str:
    """Validate the arguments (the username only when given); return the username without a
    leading @."""
    if region not in REGIONS:
        raise PosterError(
            "--region", f"unknown region {region!r}; choose from {', '.join(REGIONS)}"
        )
    if locale not in LOCALES:
        raise PosterError(
            "--locale", f"unknown locale {locale!r}; choose from {', '.join(LOCALES)}"
        )
    if bot_username is None:
        return ""
    username = bot_username.removeprefix("@")
    if not _USERNAME.match(username):
        raise PosterError(
            "--bot", f"{bot_username!r} is not a bot username (5-32 of A-Z a-z 0-9 _)"
        )
    return username


def deep_link(bot_username: str, region: str, locale: str) -> str:
    """The t.me link that starts the bot with this region and language."""
    username = _check(region, locale, bot_username)
    return f"https://t.me/{username}?start={region}-{locale}"


def payment_period(
    region: str, today: dt.date, policies: PolicySet | None = None
) -> tuple[dt.date, dt.date] | None:
    """The region's next centralized payment period (for benefit year today.year + 1), if known."""
    benefit_year = today.year + 1
    policy = (policies or load_policies())[region]
    period = policy.get("payment_period", dt.date(benefit_year, 1, 1))
    return period_bounds(period, benefit_year) if period else None


def _qr(link: str, size: int) -> Image.Image:
    """The QR code of `link` with its quiet zone, at most `size` pixels, in whole-pixel modules."""
    import segno
    from PIL import Image

    rows = list(segno.make_qr(link, error="m").matrix_iter(scale=1, border=4))
    modules = len(rows)
    image = Image.new("L", (modules, modules))
    image.putdata([0 if dark else 255 for row in rows for dark in row])
    scale = max(1, size // modules)
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)


@dataclass(frozen=True)
class _Layout:
    """The poster's blocks with their type scaled by `scale`, and the room left for the QR."""

    title: _Block
    region: _Block
    action: _Block
    period: _Block | None
    footer: _Block

    @classmethod
    def of(cls, text: dict[str, str], link: str, scale: float) -> _Layout:
        period = text.get("period")
        return cls(
            title=_block(text["title"], _Style(round(150 * scale), True, PAPER)),
            region=_block(text["region"], _Style(round(120 * scale), True, ACCENT)),
            action=_block(text["action"], _Style(round(84 * scale))),
            period=(
                None if period is None else _block(period, _Style(round(84 * scale), True, ACCENT))
            ),
            footer=_block(re.sub(r"^https?://", "", link), _Style(52, fill=MUTED)),
        )

    @property
    def band(self) -> int:
        return self.title.height + 2 * 110

    @property
    def footer_top(self) -> int:
        return HEIGHT - MARGIN - self.footer.height

    @property
    def text_height(self) -> int:
        return self.action.height + (self.period.height + 60 if self.period is not None else 0)

    @property
    def room(self) -> int:
        """Height left for the QR code."""
        return self.footer_top - (self.band + 80 + self.region.height) - self.text_height - 4 * 80


def poster_link(bot_username: str | None, web_url: str | None, region: str, locale: str) -> str:
    """What the QR code opens: the web page when `web_url` is given (Telegram is not reachable
    everywhere), else the bot's t.me link. PosterError naming the option at fault."""
    if web_url is None:
        if bot_username is None:
            raise PosterError("--bot", "give the bot's username, or --web with the page's address")
        return deep_link(bot_username, region, locale)
    from bot.web.links import web_link

    _check(region, locale, bot_username)
    try:
        return web_link(web_url, region, locale)
    except ValueError as error:
        raise PosterError("--web", str(error)) from None


def render_poster(
    region: str,
    locale: str,
    bot_username: str | None,
    today: dt.date,
    policies: PolicySet | None = None,
    web_url: str | None = None,
) -> Image.Image:
    """The poster page as an RGB image, A4 at 300 dpi; with `web_url` its QR code opens the
    web page instead of Telegram."""
    from PIL import Image, ImageDraw

    from bot.render import render_macro

    link = poster_link(bot_username, web_url, region, locale)
    action = (
        render_macro("web/words.j2", "poster_call_to_action", locale)
        if web_url
        else render_macro("poster.j2", "call_to_action", locale)
    )
    text = {
        "title": render_macro("poster.j2", "title", locale),
        "region": render_macro("poster.j2", "region", locale, region),
        "action": action,
    }
    period = payment_period(region, today, policies)
    if period:
        text["period"] = render_macro("poster.j2", "payment_period", locale, *period)
    if locale == "bo":
        find_font("tibetan")  # fail early and clearly, whatever the catalogue has translated yet
    layout = _Layout.of(text, link, 1.0)
    for step in range(1, 8):  # smaller type until the QR code gets its minimum size
        if layout.room >= QR_MIN:
            break
        layout = _Layout.of(text, link, 0.9**step)
    page = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, WIDTH, layout.band), fill=ACCENT)
    _draw_block(draw, layout.title, 110)
    y = _draw_block(draw, layout.region, layout.band + 80)
    qr = _qr(link, min(QR_MAX, layout.room))
    # Centre the QR code and its words.
    y += (layout.footer_top - y - qr.height - 80 - layout.text_height) // 2
    page.paste(qr.convert("RGB"), ((WIDTH - qr.width) // 2, y))
    y = _draw_block(draw, layout.action, y + qr.height + 80)
    if layout.period is not None:
        _draw_block(draw, layout.period, y + 60)
    _draw_block(draw, layout.footer, layout.footer_top)
    return page


def make_poster(
    region: str,
    locale: str,
    bot_username: str | None,
    out_dir: Path,
    today: dt.date | None = None,
    policies: PolicySet | None = None,
    web_url: str | None = None,
) -> tuple[Path, Path]:
    """Write `yibao-poster-<region>-<locale>` as PNG and one-page A4 PDF; return both paths."""
    page = render_poster(
        region, locale, bot_username, today or dt.date.today(), policies, web_url=web_url
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"yibao-poster-{region}-{locale}.png"
    pdf = png.with_suffix(".pdf")
    page.save(png, dpi=(DPI, DPI))
    page.save(pdf, "PDF", resolution=DPI, quality=95, subsampling=0, title="yibao poster")
    return png, pdf


def _run(args: argparse.Namespace) -> int:
    """Handle `yibao poster`: write the files and print their paths."""
    try:
        poster_link(args.bot, args.web, args.region, args.locale)  # bad options before any work
        policies = load_policies(args.overrides)
        paths = make_poster(
            args.region, args.locale, args.bot, Path(args.out), policies=policies, web_url=args.web
        )
    except PosterError as error:
        print(f"yibao poster: {error}", file=sys.stderr)
        return 2
    except PolicyError as error:
        print(f"yibao poster: --overrides: {error}", file=sys.stderr)
        return 2
    except (FontError, OSError) as error:
        print(f"yibao poster: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def add_cli(subparsers: Commands) -> None:
    """Add the `poster` subcommand; its `handler` returns the exit code."""
    poster = subparsers.add_parser(
        "poster", help="make a printable A4 poster with the bot's QR code"
    )
    poster.add_argument("--region", required=True, help=f"one of {', '.join(REGIONS)}")
    poster.add_argument("--locale", required=True, help=f"one of {', '.join(LOCALES)}")
    poster.add_argument("--bot", metavar="USERNAME", help="the bot's username")
    poster.add_argument(
        "--web",
        metavar="URL",
        help="the web page's address (`yibao web` behind your host name): the QR code opens it "
        "instead of Telegram, which mainland China reaches only through a VPN",
    )
    poster.add_argument(
        "-o", "--out", default=".", metavar="DIR", help="output folder (default: .)"
    )
    poster.add_argument(
        "--overrides",
        default=os.environ.get("POLICY_OVERRIDES") or None,
        help="a deployment's policy values (YAML), e.g. payment periods; default $POLICY_OVERRIDES",
    )
    poster.set_defaults(handler=_run)
