"""The built package on its own: the wheel, installed into a fresh virtualenv and run away from the
source tree, speaks Tibetan, Chinese and English, because the compiled catalogues and the
templates travel inside it.

The wheel is built the way `python -m build` builds it: a source distribution from the checkout
(PEP 517's build_sdist), then the wheel from that unpacked sdist, so a file left out of either is
missed here too. Everything runs offline: the build uses this virtualenv's setuptools and Babel
(--no-build-isolation), and the fresh virtualenv sees this one's installed dependencies through a
.pth file (a plain path, not a site directory, so the editable install's hook in it never runs),
while the project itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import venv
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
WAITING = "No waiting period (待遇等待期): you are covered from %(date)s."
# Typed as a person would, one press or message a line: keep Tibetan, Xizang, the benefit year
# 2025 (typed: the buttons offer only this year and next), resident insurance, none of the
# special situations, paid within the period, then "Show my result" under the five answers.
SURVEY = "1\n1\n2025\n1\n1\n1\n6\n"
TIBETAN = re.compile(r"[\u0f00-\u0fff]")
# What the fresh virtualenv's Python reports about the installed project.
PROBE = """
import json, sys
import bot, rules.policy
from bot import i18n, render
msgid = sys.argv[1]
print(json.dumps({
    "bot": bot.__file__,
    "policies": str(rules.policy.POLICY_DIR),
    "template": render.environment("en").get_template("result.j2").filename,
    "available": i18n.available(),
    "files": {locale: i18n.translations(locale).files for locale in i18n.LOCALES},
    "text": {locale: i18n.translations(locale).gettext(msgid) for locale in i18n.LOCALES},
}))
"""


def _run(*command: str | Path, cwd: Path, typed: str | None = None) -> str:
    """Run a command in `cwd` with a bare environment (no PYTHONPATH, no settings); its output."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        input=typed,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(cwd)},
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _msgstr(locale: str, msgid: str) -> str:
    """The translation of `msgid` in the checkout's catalogue for `locale`."""
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        message = read_po(handle, locale=locale).get(msgid)
    assert message is not None and message.string, f"{msgid!r} is not translated in {locale}"
    return str(message.string)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv, away from the checkout, with only the wheel installed into it."""
    tmp = tmp_path_factory.mktemp("packaging")
    hook = (
        "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    )
    sdist = _run(sys.executable, "-c", hook, tmp / "sdist", cwd=ROOT).split()[-1]
    with tarfile.open(tmp / "sdist" / sdist) as archive:
        archive.extractall(tmp / "source", filter="data")
    (source,) = (tmp / "source").iterdir()
    assert not list(source.rglob("*.mo"))  # as in a fresh clone: the build compiles them
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    build = ("wheel", source, "--no-deps", "--no-build-isolation", "--no-index")
    _run(*pip, *build, "-w", tmp / "dist", cwd=tmp)
    (wheel,) = (tmp / "dist").glob("yibao-*.whl")

    env = tmp / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    _run(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp)
    # The dependencies (aiogram, Babel, ...) from this virtualenv, after the new one's own.
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp)
    ours = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    Path(purelib.strip(), "dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    return env


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty folder outside the checkout, to run the installed project in."""
    assert ROOT not in tmp_path.resolve().parents
    return tmp_path


def test_the_installed_wheel_answers_a_whole_survey_in_tibetan(
    installed: Path, elsewhere: Path
) -> None:
    screen = _run(installed / "bin" / "yibao", "chat", "--lang", "bo", cwd=elsewhere, typed=SURVEY)
    answer = screen.split("\n\n")
    # The waiting-period line, in the words of the Tibetan catalogue, with its date.
    before, after = _msgstr("bo", WAITING).split("%(date)s")
    waiting = [b for b in answer if b.startswith(before) and b.endswith(after) and "2025" in b]
    assert len(waiting) == 1, screen
    assert "waiting period" not in screen.lower()
    # Every message the bot printed is Tibetan, not English msgids shown untranslated.
    for block in filter(None, answer):
        words = TIBETAN.findall(block)
        assert len(words) > len(re.findall(r"[A-Za-z]", block)), block


def test_the_catalogues_and_templates_load_from_the_wheel(installed: Path, elsewhere: Path) -> None:
    probe = json.loads(_run(installed / "bin" / "python", "-c", PROBE, WAITING, cwd=elsewhere))
    package = Path(probe["bot"]).parent
    assert installed in package.parents  # the wheel's copy, not the checkout
    assert installed in Path(probe["policies"]).parents
    assert Path(probe["template"]) == package / "templates" / "result.j2"
    assert probe["available"] == ["zh_Hans", "bo", "en"]
    for locale in ("en", "zh_Hans", "bo"):
        catalogue = package / "locales" / locale / "LC_MESSAGES" / "messages.mo"
        assert probe["files"][locale] == [str(catalogue)]
        assert probe["text"][locale] == _msgstr(locale, WAITING)
    assert probe["text"]["zh_Hans"] != WAITING
