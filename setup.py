"""Build hook: the gettext catalogues go into the wheel, compiled.

The catalogues live at the top of the repository (`locales/<locale>/LC_MESSAGES/messages.po`,
where scripts/i18n and the translators work on them); the compiled `.mo` files are not kept in
git. Every build compiles each `.po` afresh into `bot/locales/<locale>/LC_MESSAGES/messages.mo`
inside the package, where bot/i18n.py looks first, so an installed wheel speaks every language
without the source tree and never carries a stale `.mo`. An editable install needs nothing
here: bot/i18n.py then reads `locales/` in the checkout. Everything else is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

LOCALES = Path("locales")  # the build runs in the project's root (an sdist's or the checkout)
DOMAIN = "messages"


class BuildPy(build_py):
    """build_py, then the compiled catalogues into bot/locales/ of the build."""

    def _catalogues(self) -> list[tuple[Path, Path]]:
        """(source .po, target .mo in the build) for every locale with a catalogue."""
        return [
            (po, Path(self.build_lib, "bot", "locales", po.relative_to(LOCALES)).with_suffix(".mo"))
            for po in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
        ]

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        catalogues = self._catalogues()
        if not catalogues:
            raise FileError(
                f"no catalogues in {LOCALES.resolve()}: the wheel would speak only English"
            )
        for po, mo in catalogues:
            locale = po.parts[-3]
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=locale, domain=DOMAIN)
            mo.parent.mkdir(parents=True, exist_ok=True)
            with mo.open("wb") as handle:
                write_mo(handle, catalog)  # fuzzy entries left out, as `pybabel compile` does
            self.announce(f"compiled {po} -> {mo}", level=2)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, *(str(mo) for _po, mo in self._catalogues())]


setup(cmdclass={"build_py": BuildPy})
