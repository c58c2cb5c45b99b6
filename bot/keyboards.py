"""Inline keyboards, built per locale (lazy strings never go into Telegram objects)."""

from __future__ import annotations

from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import available
from bot.render import render_macro
from bot.survey import BY_ID, Answers, Context, Question
from bot.transports.screen import LANGUAGES_PER_ROW, language_choices, options_per_row, rows_of


class Pick(CallbackData, prefix="p"):
    """An option of a question."""

    q: str
    v: str


class Nav(CallbackData, prefix="n"):
    """A navigation button: back, done, result, why, what-if, aid, edit, restart."""

    a: str


class Edit(CallbackData, prefix="e"):
    """Change the answer to one question from the summary."""

    q: str


class Lang(CallbackData, prefix="l"):
    """Choose a language."""

    v: str


def _button(locale: str, id_: str) -> str:
    return render_macro("messages.j2", "button", locale, id_)


def question(
    q: Question,
    answers: Answers,
    ctx: Context,
    locale: str,
    *,
    back: bool,
    pending: list[str] | None = None,
) -> InlineKeyboardMarkup:
    """The buttons of a question: its options (or year toggles), then Done and Back."""
    chosen = tuple(sorted(pending or ())) if q.kind == "years" else ()
    return _question(q.id, q.options(answers, ctx), locale, back, chosen)


@lru_cache(maxsize=1024)
def _question(
    qid: str, options: tuple[str, ...], locale: str, back: bool, chosen: tuple[str, ...]
) -> InlineKeyboardMarkup:
    # The same question offers the same buttons to everyone: built once per combination.
    years = BY_ID[qid].kind == "years"
    if years:
        labels = [f"{'☑' if year in chosen else '☐'} {year}" for year in options]
    else:
        labels = [render_macro("questions.j2", "option", locale, qid, v) for v in options]
    buttons = [
        InlineKeyboardButton(text=label, callback_data=Pick(q=qid, v=v).pack())
        for label, v in zip(labels, options, strict=True)
    ]
    rows = rows_of(buttons, options_per_row(qid, years))
    for shown, id_ in ((years, "done"), (back, "back")):
        if shown:
            rows.append([_nav(locale, id_)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _nav(locale: str, id_: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_button(locale, id_), callback_data=Nav(a=id_).pack())


def summary(rows: list[str], locale: str) -> InlineKeyboardMarkup:
    """One edit button per answer, then the result."""
    buttons = [
        InlineKeyboardButton(
            text="✎ " + render_macro("questions.j2", "label", locale, q),
            callback_data=Edit(q=q).pack(),
        )
        for q in rows
    ]
    show = InlineKeyboardButton(
        text=_button(locale, "show_result"), callback_data=Nav(a="result").pack()
    )
    buttons += [show, _nav(locale, "back")]
    return InlineKeyboardMarkup(inline_keyboard=rows_of(buttons, 2))


def result(
    locale: str,
    *,
    whatif_repair: bool,
    whatif_paid: bool,
    aid: bool,
    volunteer: bool = False,
    extra: list[InlineKeyboardButton] | None = None,
) -> InlineKeyboardMarkup:
    """Buttons under an answer; `extra` rows (e.g. reminders) go before the last ones."""
    ids = ["why"] + ["whatif_repair"] * whatif_repair + ["whatif_paid"] * whatif_paid
    ids += ["aid"] * aid
    ids += ["bilingual"] * (locale != "zh_Hans" and "zh_Hans" in available())
    ids += ["card"]
    rows = [
        [InlineKeyboardButton(text=_button(locale, i), callback_data=Nav(a=i).pack())] for i in ids
    ]
    rows += [[button] for button in extra or []]
    last = ["next_person"] if volunteer else ["edit", "restart"]
    rows += [
        [InlineKeyboardButton(text=_button(locale, i), callback_data=Nav(a=i).pack())] for i in last
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def after_detail(locale: str) -> InlineKeyboardMarkup:
    """Buttons under the reasons or the aid answer."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[_nav(locale, "result")], [_nav(locale, "restart")]]
    )


def linked(locale: str) -> InlineKeyboardMarkup:
    """Under the deep link's greeting: change the region or the language it chose."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[_nav(locale, "change_region"), _nav(locale, "language")]]
    )


def after_what_if(locale: str) -> InlineKeyboardMarkup:
    """Under a what-if: back to the person's own answer."""
    back = InlineKeyboardButton(
        text=_button(locale, "back_to_answer"), callback_data=Nav(a="result").pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[back]])


def languages(preselected: str | None = None) -> InlineKeyboardMarkup:
    """One button per language, in its own script; the client's own first and ticked."""
    buttons = [
        InlineKeyboardButton(text=label, callback_data=Lang(v=locale).pack())
        for locale, label in language_choices(preselected)
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows_of(buttons, LANGUAGES_PER_ROW))
