"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright) on a
phone-sized screen: a survey to the answer in each language with JavaScript off, Back and an
edit on the way, a screenshot of each answer, and axe-core's accessibility check.

Screenshots go to $YIBAO_ARTIFACTS (default tests/artifacts/, which ignores itself in git).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from bot.checkcode import keyring
from bot.conversation import Command, Event, Press, Text, Turn, step
from bot.render import render_macro
from bot.survey import Context
from rules import load_policies

from .conftest import serve

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("YIBAO_ARTIFACTS") or ROOT / "tests" / "artifacts")
PHONE = {"width": 360, "height": 740}
# The browser's language for each locale, as a phone set to it sends it.
BROWSER_LOCALE = {"en": "en-US", "zh_Hans": "zh-CN", "bo": "bo-CN"}
LANG = {"en": "en", "zh_Hans": "zh-Hans", "bo": "bo"}
# The glossary's term for the waiting period, which the answer must name.
WAITING = {"en": "Waiting period", "zh_Hans": "待遇等待期", "bo": "ཐོབ་ཐང་སྒུག་དུས"}
# What to press at the survey's later questions: the first offered of these.
LATER = ("p:late_year:on_time", "p:payment:period", "n:done:", "p:repair_years:0")


def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")  # test output, never committed
    return ARTIFACTS


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    async with serve(data_dir=tmp_path / "data") as (url, _):
        yield url


class Walk:
    """A person's taps and typing in the browser, kept as the core's events to replay."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.events: list[Event] = [Command("start")]

    async def values(self) -> list[str]:
        buttons = self.page.locator("main button[name=b]")
        return [await b.get_attribute("value") or "" for b in await buttons.all()]

    async def tap(self, value: str) -> None:
        # Each tap sends a form: the next page is read once it has come.
        async with self.page.expect_navigation():
            await self.page.locator(f'main button[value="{value}"]').click()
        self.events.append(Press(value))

    async def back(self) -> None:
        """« Back under the question shown."""
        await self.tap(next(v for v in await self.values() if v.startswith("n:back:")))

    async def type_answer(self, label: str, text: str) -> None:
        await self.page.get_by_label(label).fill(text)
        async with self.page.expect_navigation():
            await self.page.get_by_label(label).press("Enter")
        self.events.append(Text(text))

    async def later_questions(self) -> None:
        """Answer the rest as "none" or "done" until the summary."""
        for _ in range(12):
            offered = await self.values()
            if "n:result:" in offered:
                return
            pick = next(
                (v for want in LATER for v in offered if v.startswith(want)),
                next((v for v in offered if v.endswith(":none")), f"nothing to press in {offered}"),
            )
            await self.tap(pick)
        raise AssertionError("no summary after twelve questions")


def replayed(events: list[Event], locale: str) -> str:
    """The answer the core itself gives for the same events: what the page must show."""
    ctx = Context(today=dt.date.today(), policies=load_policies())
    turn = Turn(
        ctx=ctx, person="replay", client_locale=locale, card_keys=keyring(), reminders=False
    )
    state: dict[str, object] = {}
    screens = []
    for event in events:
        outcome = step(state, event, turn)
        state, screens = outcome.state, outcome.screens
    return screens[-1].text


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


async def survey(page: Page, site: str, locale: str) -> Walk:
    """From the first visit to the answer, as a person taps: the language, Xizang, a typed
    year, a wrong insurance taken back, a marked year, the rest, an edit, the answer."""
    walk = Walk(page)
    await page.goto(site)
    assert await page.get_attribute("html", "lang") == LANG[locale]
    await walk.tap(f"l:{locale}")  # the browser's own, ticked: a person confirms it
    await walk.tap("p:region:xizang")
    await walk.type_answer(render_macro("web/words.j2", "label", locale, "answer"), "2027")
    await walk.tap("p:insurance:employee")
    await walk.back()  # the insurance question again, to answer it otherwise
    await walk.tap("p:insurance:none")
    await walk.tap("p:group:none")
    await walk.tap("p:paid_years:2025")
    assert (
        await page.locator('button[value="p:paid_years:2025"]').get_attribute("aria-pressed")
        == "true"
    )
    await walk.tap("n:done:paid_years")
    await walk.later_questions()
    await walk.tap("e:group")  # edit from the summary
    await walk.tap("p:group:none")
    await walk.later_questions()
    await walk.tap("n:result:")
    return walk


@pytest.mark.parametrize("locale", ["en", "zh_Hans", "bo"])
async def test_a_survey_reaches_a_readable_answer_without_javascript(
    browser: Browser, site: str, locale: str
) -> None:
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=BROWSER_LOCALE[locale],
        java_script_enabled=False,
    )
    try:
        context.set_default_timeout(5000)
        page = await context.new_page()
        walk = await survey(page, site, locale)
        shown = await page.locator("section.current").inner_text()
        assert await page.get_attribute("html", "lang") == LANG[locale]
        assert lines(shown)[: len(lines(replayed(walk.events, locale)))] == lines(
            replayed(walk.events, locale)
        )
        assert WAITING[locale] in shown
        folder = artifacts()
        await page.screenshot(path=str(folder / f"web-answer-{locale}.png"))
        await page.screenshot(path=str(folder / f"web-answer-{locale}-full.png"), full_page=True)
    finally:
        await context.close()


async def check(page: Page, where: str) -> None:
    """axe-core finds nothing; every control is at least 44 px each way; nothing is wider
    than the phone."""
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{where}: {results.generate_report()}"
    for control in await page.locator("button, a, input:not([type=hidden])").all():
        box = await control.bounding_box()
        assert box is not None
        label = await control.inner_text() or await control.get_attribute("name")
        assert box["height"] >= 44 and box["width"] >= 44, f"{where}: {label!r} is {box}"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{where}: the page is {width} px wide"


@pytest.mark.parametrize("locale", ["en", "zh_Hans", "bo"])
async def test_every_screen_passes_axe_and_fits_a_phone(
    browser: Browser, site: str, locale: str
) -> None:
    context = await browser.new_context(
        viewport=PHONE, locale=BROWSER_LOCALE[locale], bypass_csp=True
    )
    try:
        context.set_default_timeout(5000)
        page = await context.new_page()
        await page.goto(site)
        await check(page, "the languages")
        walk = Walk(page)
        await walk.tap(f"l:{locale}")
        await walk.tap("p:region:xizang")
        await check(page, "a question with an answer box")
        await walk.type_answer(render_macro("web/words.j2", "label", locale, "answer"), "soon")
        await check(page, "a typed answer refused")
        await walk.tap("p:benefit_year:2027")
        await walk.tap("p:insurance:none")
        await walk.tap("p:group:none")
        await walk.tap("p:paid_years:2025")
        await check(page, "years marked")
        await walk.tap("n:done:paid_years")
        await walk.later_questions()
        await check(page, "the summary")
        await walk.tap("n:result:")
        await check(page, "the answer")
        await walk.tap("n:why:")
        await check(page, "the reasons")
        await page.goto(site + "nowhere")
        await check(page, "a page that does not exist")
    finally:
        await context.close()
