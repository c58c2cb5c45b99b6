"""The glossary (locales/glossary.yaml): the catalogues use its terms, its Chinese terms are the
texts' own, and no wording the bilingual review rejected is back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR

POLICIES = Path("/work/shared/policies")
GLOSSARY = yaml.safe_load((LOCALES_DIR / "glossary.yaml").read_text(encoding="utf-8"))
CONCEPTS = GLOSSARY["concepts"]
TRANSLATED = ("zh_Hans", "bo")
KEY = {"zh_Hans": "zh", "bo": "bo"}


def _entries(locale: str) -> list[tuple[str, str]]:
    """(English msgid, translation) pairs, every plural form its own pair."""
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    pairs = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(ids[-1], string) for string in strings if string]
    return pairs


def _uses(english: str, term: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(term)}", english, re.IGNORECASE) is not None


def test_the_glossary_is_complete_and_readable() -> None:
    assert 30 <= len(CONCEPTS) <= 60
    for name, concept in CONCEPTS.items():
        assert concept["en"] and concept["zh"] and concept["bo"] and concept["source"], name


@pytest.mark.parametrize("name", sorted(CONCEPTS))
def test_each_chinese_term_is_in_the_text_it_cites(name: str) -> None:
    concept = CONCEPTS[name]
    file = concept["source"].split()[0]
    text = re.sub(r"\s+", "", (POLICIES / file).read_text(encoding="utf-8"))
    if concept.get("coined"):
        return  # our own word: the source names where the texts describe the thing
    assert concept["zh"] in text, f"{name}: {concept['zh']} is not in {file}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_use_the_glossary_terms(locale: str) -> None:
    key = KEY[locale]
    wrong = []
    for english, string in _entries(locale):
        for name, concept in CONCEPTS.items():
            if not any(_uses(english, term) for term in concept["en"]):
                continue
            accepted = [concept[key], *concept.get(f"{key}_also", [])]
            if not any(term in string for term in accepted):
                wrong.append(f"{name}: {english!r} -> {string!r}")
            wrong += [
                f"{name}: {avoided!r} in {string!r}"
                for avoided in concept.get(f"avoid_{key}", [])
                if avoided in string
            ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_no_rejected_wording_is_back(locale: str) -> None:
    found = []
    for _english, string in _entries(locale):
        for avoided in GLOSSARY["avoid"][KEY[locale]]:
            if avoided.startswith("re:"):
                hit = re.search(avoided[3:], string) is not None
            else:
                hit = avoided in string
            if hit:
                found.append(f"{avoided!r} in {string!r}")
    assert not found, "\n".join(found)
