"""The screens of the conversation, built from the templates in one language: text and buttons.

Every channel shows these: Telegram as messages with inline keyboards, the terminal as numbered
buttons, the web page as forms. Wording lives in the templates; here are only ids and layout.
"""

from __future__ import annotations

from functools import lru_cache

from bot.conversation.model import Button, Rows, Screen, pack
from bot.i18n import available
from bot.render import render, render_macro
from bot.survey import BY_ID, Answers, Context, Question
from bot.transports.screen import LANGUAGES_PER_ROW, language_choices, rows_of

PICK, NAV, EDIT, LANG, REMIND = "p", "n", "e", "l", "rm"


def _rows(buttons: list[Button], per_row: int) -> Rows:
    return tuple(tuple(row) for row in rows_of(buttons, per_row))


# Labels and rows below depend only on the language and ids: each is built once, not per screen.


@lru_cache(maxsize=1024)
def label(locale: str, id_: str) -> str:
    """A button's label (messages.j2 `button`)."""
    return render_macro("messages.j2", "button", locale, id_)


@lru_cache(maxsize=1024)
def question_label(locale: str, qid: str) -> str:
    """A question's short name (questions.j2 `label`), as the summary lists it."""
    return render_macro("questions.j2", "label", locale, qid)


@lru_cache(maxsize=1024)
def nav(locale: str, action: str, question: str = "") -> Button:
    """A navigation button; Back and Done name the question they stand under, so a press of an
    older question's Back is told from the current one's."""
    return Button(label(locale, action), pack(NAV, action, question))


def text(locale: str, id_: str) -> Screen:
    """A one-paragraph message of messages.j2 `text`, no buttons."""
    return Screen(render_macro("messages.j2", "text", locale, id_))


def with_restart(locale: str, id_: str) -> Screen:
    """A message of messages.j2 `text` with one button to begin the questions: where a channel
    has no command line (the web page), the way on."""
    return Screen(render_macro("messages.j2", "text", locale, id_), ((nav(locale, "restart"),),))


def question(
    q: Question,
    answers: Answers,
    ctx: Context,
    locale: str,
    example: str | None,
    *,
    back: bool,
    pending: list[str] | None = None,
    replace: bool = False,
) -> Screen:
    """A question: its prompt, its options (or year toggles, `pending` marked), Done, Back."""
    prompt = render_macro(
        "questions.j2", "prompt", locale, q.id, answers, example, ctx.today.isoformat()
    )
    chosen = tuple(sorted(pending or ())) if q.kind == "years" else ()
    return Screen(
        prompt, _question_rows(q.id, q.options(answers, ctx), locale, back, chosen), replace
    )


@lru_cache(maxsize=1024)
def _question_rows(
    qid: str, options: tuple[str, ...], locale: str, back: bool, chosen: tuple[str, ...]
) -> Rows:
    # The same question offers the same buttons to everyone: built once per combination.
    years = BY_ID[qid].kind == "years"
    if years:
        labels = [f"{'☑' if year in chosen else '☐'} {year}" for year in options]
    else:
        labels = [render_macro("questions.j2", "option", locale, qid, v) for v in options]
    buttons = [Button(text, pack(PICK, qid, v)) for text, v in zip(labels, options, strict=True)]
    rows = list(_rows(buttons, BY_ID[qid].row))
    for shown, id_ in ((years, "done"), (back, "back")):
        if shown:
            rows.append((nav(locale, id_, qid),))
    return tuple(rows)


def summary(rows: list[str], answers: Answers, locale: str) -> Screen:
    """The answers so far, one edit button each, then the result and Back."""
    return Screen(
        render("summary.j2", locale, rows=rows, answers=answers), _summary_rows(tuple(rows), locale)
    )


@lru_cache(maxsize=1024)
def _summary_rows(rows: tuple[str, ...], locale: str) -> Rows:
    buttons = [Button("✎ " + question_label(locale, q), pack(EDIT, q)) for q in rows]
    buttons += [Button(label(locale, "show_result"), pack(NAV, "result", "")), nav(locale, "back")]
    return _rows(buttons, 2)


@lru_cache(maxsize=1024)
def result_buttons(
    locale: str,
    *,
    whatif_repair: bool,
    whatif_paid: bool,
    aid: bool,
    volunteer: bool = False,
    reminders: tuple[str, ...] = (),
) -> Rows:
    """Buttons under an answer, one a row; the reminder offers go before the last ones."""
    ids = ["why"] + ["whatif_repair"] * whatif_repair + ["whatif_paid"] * whatif_paid
    ids += ["aid"] * aid
    ids += ["bilingual"] * (locale != "zh_Hans" and "zh_Hans" in available())
    ids += ["card"]
    rows = [(nav(locale, i),) for i in ids]
    rows += [
        (Button(render_macro("campaign.j2", "button", locale, kind), pack(REMIND, kind)),)
        for kind in reminders
    ]
    rows += [(nav(locale, i),) for i in (["next_person"] if volunteer else ["edit", "restart"])]
    return tuple(rows)


@lru_cache(maxsize=16)
def after_detail(locale: str) -> Rows:
    """Buttons under the reasons, a copy or the aid answer."""
    return ((nav(locale, "result"),), (nav(locale, "restart"),))


@lru_cache(maxsize=16)
def linked(locale: str) -> Rows:
    """Under the deep link's greeting: change the region or the language it chose."""
    return ((nav(locale, "change_region"), nav(locale, "language")),)


@lru_cache(maxsize=16)
def after_what_if(locale: str) -> Rows:
    """Under a what-if: back to the person's own answer."""
    return ((Button(label(locale, "back_to_answer"), pack(NAV, "result", "")),),)


def languages(locale: str, id_: str = "choose_language") -> Screen:
    """A message of messages.j2 with one button per language, in its own script; `locale`'s
    own first and ticked."""
    buttons = [Button(name, pack(LANG, loc)) for loc, name in language_choices(locale)]
    return Screen(
        render_macro("messages.j2", "text", locale, id_), _rows(buttons, LANGUAGES_PER_ROW)
    )
