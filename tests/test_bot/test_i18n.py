"""Languages: complete catalogues, every answer rendered in every locale, switching mid-survey."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fakes.session import make_person

from bot import render as render_module
from bot.i18n import LOCALES, LOCALES_DIR, map_language, translations
from bot.render import render, render_macro
from bot.survey import AID_CLASSES, AID_QUESTIONS, QUESTIONS, Context
from rules import Profile, assess, load_policies
from rules.aid import AidProfile, assess_aid

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")
TODAY = dt.date(2026, 11, 23)
POLICIES = load_policies()
OTHER = [locale for locale in LOCALES if locale != "en"]


def _catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_catalogue_is_complete_with_matching_placeholders(locale: str) -> None:
    catalog = _catalog(locale)
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    assert _ids(catalog) == _ids(template), "run scripts/i18n update"
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, ids[0]
        assert all(strings), f"{locale}: untranslated {ids[0]!r}"
        assert len(strings) == catalog.num_plurals or len(ids) == 1
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, f"{locale}: {ids[0]!r} -> {string!r}"


def test_the_template_is_in_step_with_the_sources(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "ngettext:1,2",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with fresh.open("rb") as handle:
        current = _ids(read_po(handle))
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        assert current == _ids(read_po(handle)), "msgids changed: run scripts/i18n"


class _Recording:
    """A catalogue that notes each msgid it cannot translate."""

    def __init__(self, inner, missed: set[str]) -> None:
        self.inner, self.missed = inner, missed

    def gettext(self, message: str) -> str:
        result = self.inner.gettext(message)
        if result == message:
            self.missed.add(message)
        return result

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        result = self.inner.ngettext(singular, plural, n)
        if result in (singular, plural):
            self.missed.add(singular)
        return result

    def pgettext(self, context: str, message: str) -> str:
        return self.inner.pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.inner.npgettext(context, singular, plural, n)


@pytest.fixture
def missed(monkeypatch: pytest.MonkeyPatch):
    notes: set[str] = set()
    monkeypatch.setattr(
        render_module, "translations", lambda locale: _Recording(translations(locale), notes)
    )
    render_module.environment.cache_clear()
    yield notes
    render_module.environment.cache_clear()


def _profile(region: str, year: int, **facts) -> Profile:
    return Profile(region=region, benefit_year=year, today=TODAY, **facts)


COVERED = {y: "resident" for y in range(2025, 2033)}
KINDS = {
    "exempt": _profile("xizang", 2027, group="medical_aid"),
    "waiting": _profile("xizang", 2027),
    "repair": _profile("xizang", 2030, repair_years=1),
    "no_cover": _profile("xizang", 2035),
    "cap_rise": _profile("xizang", 2033, coverage=COVERED, zero_claim_years=list(COVERED)),
    "cap_fall": _profile("shanxi", 2052),
    "draft": _profile("chongqing", 2027, payment_date=dt.date(2027, 2, 1)),
    "outpatient": _profile("tianjin", 2029, coverage={y: "resident" for y in range(2025, 2029)}),
    "national": _profile("national", 2029, group="newborn"),
    # the payment period unknown: the answer gives both outcomes
    "unknown_period": _profile("xizang", 2027, payment_date=dt.date(2027, 1, 10)),
    "newborn": _profile("xizang", 2027, group="newborn", birth_date=dt.date(2026, 10, 5)),
    "cleared": _profile(
        "xizang",
        2028,
        coverage={2025: "resident", 2026: "resident", 2027: "resident"},
        zero_claim_years=[2025, 2026],
        incentive_used_years=[2027],
    ),
}
LATIN = re.compile(r"(?<![/\w])[A-Za-z]{3,}")  # /commands are names Telegram needs in Latin


def _rendered(locale: str) -> list[str]:
    texts = []
    for profile in KINDS.values():
        assessment = assess(profile, POLICIES)
        texts += [render("result.j2", locale, a=assessment), render("why.j2", locale, a=assessment)]
    # The what-ifs of the answer with the payment period unknown: one more year paid, repaired.
    unknown = KINDS["unknown_period"]
    paid = unknown.model_copy(update={"coverage": {2026: "resident"}})
    repaired = unknown.model_copy(update={"repair_years": 1})
    for kind, changed in (("whatif_paid", paid), ("whatif_repair", repaired)):
        texts.append(
            render(
                "whatif.j2",
                locale,
                kind=kind,
                a=assess(unknown, POLICIES),
                h=assess(changed, POLICIES),
                year=2026,
            )
        )
    for name, number in AID_CLASSES.items():
        for expense in ("inpatient", "outpatient"):
            aid = AidProfile.model_validate(
                {"class": number, "expense": expense, "self_paid": 30000, "family_income": 50000}
            )
            for year in (2026, 2025, 2028):
                result = assess_aid(aid, POLICIES["xizang-aid"], year)
                texts.append(render("aid_result.j2", locale, r=result))
        texts.append(name and render_macro("questions.j2", "option", locale, "aid_class", name))
    ctx = Context(today=TODAY, policies=POLICIES)
    answers = {
        "region": "xizang",
        "benefit_year": "2027",
        "insurance": "resident",
        "group": "newborn",
        "birth_date": "2026-10-05",
        "paid_years": ["2025"],
        "payment": "period",
        "late_year": "on_time",
        "in_period": "unsure",
        "left_on": "2026-05-01",
        "zero_claim_years": [],
        "incentive_used_years": [],
        "repair_years": 1,
        "aid_class": "catastrophic",
        "aid_expense": "inpatient",
        "aid_cost": 1000,
        "aid_income": 5000,
    }
    for question in (*QUESTIONS, *AID_QUESTIONS):
        texts.append(render_macro("questions.j2", "prompt", locale, question.id, answers))
        texts.append(render_macro("questions.j2", "label", locale, question.id))
        for option in question.options(answers, ctx):
            texts.append(render_macro("questions.j2", "option", locale, question.id, option))
    texts.append(render("summary.j2", locale, rows=list(answers), answers=answers))
    for reason in (
        "use_buttons",
        "not_a_year",
        "year_out_of_range",
        "not_a_date",
        "date_in_future",
        "birth_too_early",
        "payment_out_of_range",
        "not_a_number",
        "number_out_of_range",
        "stale_button",
        "unknown_button",
        "not_text",
        "invalid",
    ):
        texts.append(
            render_macro("questions.j2", "invalid", locale, reason, {"low": 2025, "high": 2027})
        )
    for id_ in (
        "forgotten",
        "choose_language",
        "welcome",
        "chinese_copy",
        "no_survey",
        "aid_only_xizang",
        "restarted",
    ):
        texts.append(render_macro("messages.j2", "text", locale, id_))
    for id_ in (
        "back",
        "done",
        "show_result",
        "why",
        "whatif_repair",
        "whatif_paid",
        "aid",
        "edit",
        "restart",
        "result",
        "bilingual",
    ):
        texts.append(render_macro("messages.j2", "button", locale, id_))
    texts.append(render_macro("messages.j2", "last_answer", locale, "x", "y"))
    texts.append(render("help.j2", locale))
    texts.append(render("about.j2", locale, policies=list(POLICIES.values()), version="1-0123"))
    return texts


@pytest.mark.parametrize("locale", OTHER)
def test_every_answer_renders_fully_translated_without_english(
    locale: str, missed: set[str]
) -> None:
    texts = _rendered(locale)
    assert not missed, f"untranslated in {locale}: {sorted(missed)[:5]}"
    for text in texts:
        assert not LATIN.findall(text), (
            f"English in a {locale} answer: {LATIN.findall(text)} in {text!r}"
        )


def test_english_renders_every_kind_of_result(missed: set[str]) -> None:
    texts = _rendered("en")
    assert all(texts)
    joined = "\n".join(texts)
    for fragment in (
        "no cover in 2035",
        "draft for comment",
        "No waiting period",
        "limited to 28,000 yuan",
        "Outpatient cap",
    ):
        assert fragment in joined


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("zh", "zh_Hans"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-hant", "zh_Hans"),
        ("bo", "bo"),
        ("en-US", "en"),
        ("ru", "en"),
        (None, "en"),
    ],
)
def test_language_codes_map_to_our_locales(code: str | None, locale: str) -> None:
    assert map_language(code) == locale


async def test_a_tibetan_speaker_switches_to_chinese_mid_survey_and_keeps_the_answers() -> None:
    person = make_person(language="bo")
    await person.say("/start")
    assert person.buttons()[0] == "✓ བོད་ཡིག", "the client's language comes first, ticked"
    region_question = await person.press("བོད་ཡིག")
    xizang = render_macro("questions.j2", "option", "bo", "region", "xizang")
    assert region_question.text == render_macro("questions.j2", "prompt", "bo", "region", {})
    await person.press(xizang)
    await person.say("2027")
    await person.say("/language")
    await person.press("中文")
    last_answer, question = person.texts[-2], person.last.text
    assert ("2027" in last_answer and last_answer.startswith("您")) or "2027" in last_answer
    assert question == render_macro("questions.j2", "prompt", "zh_Hans", "insurance", {})
    await person.press(render_macro("questions.j2", "option", "zh_Hans", "insurance", "none"))
    await person.press(render_macro("questions.j2", "option", "zh_Hans", "group", "none"))
    await person.press(render_macro("messages.j2", "button", "zh_Hans", "done"))
    await person.press(render_macro("questions.j2", "option", "zh_Hans", "payment", "period"))
    summary = await person.press(
        render_macro("questions.j2", "option", "zh_Hans", "repair_years", "0")
    )
    assert "西藏" in summary.text and "2027" in summary.text
    result = await person.press(render_macro("messages.j2", "button", "zh_Hans", "show_result"))
    assert "2027年5月1日" in result.text and not LATIN.findall(result.text)
    card = await person.press(render_macro("messages.j2", "button", "zh_Hans", "why"))
    assert "西藏 一(三)" in card.text


def test_a_fresh_clone_without_compiled_catalogues_still_speaks_tibetan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from bot import i18n

    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "LOCALES_DIR", copy)
    i18n.translations.cache_clear()
    try:
        assert "bo" in i18n.available()
        assert i18n.translations("bo").gettext("Why?") == _catalog("bo")["Why?"].string
        assert not list(copy.rglob("*.mo")), "compiled in memory, nothing written"
    finally:
        i18n.translations.cache_clear()


async def test_show_in_chinese_too_gives_the_answer_in_both_languages() -> None:
    person = make_person(language="en")
    await person.start("English")
    await person.press("Xizang")
    await person.say("2027")
    await person.press("None")
    await person.press("None of these")
    await person.press("Done")
    await person.press("Within the payment period")
    await person.press("None")
    english = await person.press("Show my result")
    chinese = await person.press("Show in Chinese too")
    assert person.texts[-2] == english.text
    assert "May 1, 2027" in english.text and "132,000" in english.text
    assert "2027年5月1日" in chinese.text and "132,000" in chinese.text and "西藏" in chinese.text


@pytest.mark.parametrize(
    ("locale", "stutter"),
    [
        # Templates join sentences with a space; after 。，：）】 and the like Chinese has none.
        ("zh_Hans", r"[。？！：；，、）】」』][ \t]"),
        # A Tibetan label already ending in a shad, then the template's own: ། ། (a stutter).
        ("bo", r"།[ \t]*།"),
        # Two blank lines where one separates paragraphs, in any language.
        *((locale, r"\n[ \t]*\n[ \t]*\n") for locale in LOCALES),
    ],
)
def test_punctuation_and_spacing_read_as_the_language_sets_them(locale: str, stutter: str) -> None:
    found = [
        text[max(0, m.start() - 20) : m.end() + 10]
        for text in _rendered(locale)
        for m in re.finditer(stutter, text)
    ]
    assert not found, found[:10]
