"""The one survey engine: asks the questions of bot/survey.py, validates, goes back, answers."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, MaybeInaccessibleMessage, Message
from pydantic import ValidationError

from bot import keyboards
from bot.campaign import CampaignStore, outcome_kinds, reminder_buttons
from bot.cards import card_text
from bot.checkcode import keyring
from bot.handlers.chats import PrivateChat
from bot.keyboards import Edit, Nav, Pick
from bot.next_steps import next_steps
from bot.render import render, render_macro
from bot.settings import Settings
from bot.survey import (
    AID_CLASSES,
    AID_QUESTIONS,
    BY_ID,
    QUESTIONS,
    Answers,
    Context,
    InvalidAnswer,
    Question,
    asked,
    break_years_asked,
    check_choice,
    evaluate,
    example_date,
    paid_years,
    parse_text,
    to_profile,
    validate_answers,
)
from rules import Assessment, PolicySet, assess
from rules.aid import AidProfile, assess_aid

log = logging.getLogger("yibao.survey")

# Answers that may no longer fit once the answer they hang on changes.
FACTS = ("in_period", "left_on", "continuous_years")
DEPENDENTS = {
    "region": ("repair_years", *FACTS),
    "benefit_year": (
        "payment",
        "paid_years",
        "late_year",
        "zero_claim_years",
        "incentive_used_years",
        "repair_years",
        *FACTS,
    ),
    "insurance": (
        "paid_years",
        "late_year",
        "zero_claim_years",
        "incentive_used_years",
        "repair_years",
        *FACTS,
    ),
    "group": ("birth_date", "payment", "repair_years", *FACTS),
    "birth_date": ("paid_years", "late_year", *FACTS),
    "paid_years": ("late_year", "zero_claim_years", "incentive_used_years", "repair_years", *FACTS),
    "late_year": ("repair_years",),
    "zero_claim_years": ("incentive_used_years",),
    "payment": ("repair_years", *FACTS),
    "in_period": ("repair_years",),
    "left_on": ("continuous_years", "repair_years"),
    "continuous_years": ("repair_years",),
    "aid_class": ("aid_income",),
}


def context(policies: PolicySet, settings: Settings | None = None) -> Context:
    """Today, the policies and the deployment's contacts, for one update."""
    if settings is None:
        return Context(today=dt.date.today(), policies=policies)
    return Context(
        today=dt.date.today(),
        policies=policies,
        office=settings.office_contact,
        payment_url=settings.payment_url,
        volunteers=frozenset(settings.volunteer_ids),
    )


def is_volunteer(data: dict[str, Any], user_id: int, ctx: Context) -> bool:
    """Volunteer mode is on and the user is still in VOLUNTEER_IDS: checked at every use, so
    one removed from the setting loses the mode at their next press."""
    return bool(data.get("volunteer")) and user_id in ctx.volunteers


def _questions(mode: str) -> tuple[Question, ...]:
    return AID_QUESTIONS if mode == "aid" else QUESTIONS


def _first_open(answers: Answers, ctx: Context, mode: str) -> Question | None:
    """The first relevant question without an answer: the next one, also after an edit."""
    for question in _questions(mode):
        if question.id not in answers and question.relevant(answers, ctx):
            return question
    return None


def _initial_pending(question: Question, answers: Answers) -> list[str]:
    if question.id in answers:
        return list(answers[question.id])
    if question.id == "paid_years":
        return [str(y) for y in paid_years(answers)]
    return []


async def ask(
    message: Message,
    state: FSMContext,
    ctx: Context,
    locale: str,
    question: Question,
    pending: list[str] | None = None,
) -> None:
    """Send `question` and remember it as the current one; `pending` keeps marked years."""
    data = await state.get_data()
    answers: Answers = data.get("answers", {})
    if question.kind != "years":
        pending = None
    elif pending is None:
        pending = _initial_pending(question, answers)
    history: list[str] = data.get("history", [])
    example = example_date(question.id, answers, ctx)  # a date the question accepts
    text = render_macro("questions.j2", "prompt", locale, question.id, answers, example)
    # In the aid questions, Back from the first one leads back to the answer.
    back = bool(history) or data.get("mode") == "aid"
    markup = keyboards.question(question, answers, ctx, locale, back=back, pending=pending)
    # The current question is kept before sending: if the send fails or the process dies, the
    # redelivered update still finds the person at a question instead of nowhere.
    await state.update_data(q=question.id, pending=pending)
    sent = await message.answer(text, reply_markup=markup)
    # `screen`: the message whose Back and Done are current (their data names no question).
    await state.update_data(screen=sent.message_id)


def _shows_current(message: MaybeInaccessibleMessage | None, data: dict[str, Any]) -> bool:
    """Whether a Back or Done press comes from the current question (or summary), not an old one.

    Their data names no question, so the message tells: the one last asked, any copy with the
    current question's options, or at the summary any message with its edit buttons.
    """
    if message is None:
        return False
    if data.get("q") and message.message_id == data.get("screen"):
        return True
    markup = message.reply_markup if isinstance(message, Message) else None
    rows = markup.inline_keyboard if markup else []
    pressed = [button.callback_data or "" for row in rows for button in row]
    prefix = Pick(q=data["q"], v="").pack() if data.get("q") else Edit(q="").pack()
    return any(d.startswith(prefix) for d in pressed)


async def advance(message: Message, state: FSMContext, ctx: Context, locale: str) -> None:
    """Ask the next open question, or show the summary (survey) or the aid answer."""
    data = await state.get_data()
    mode = data.get("mode", "survey")
    question = _first_open(data.get("answers", {}), ctx, mode)
    if question is not None:
        await ask(message, state, ctx, locale, question)
    elif mode == "aid":
        await show_aid(message, state, ctx, locale)
    else:
        await show_summary(message, state, ctx, locale)


async def start_survey(
    message: Message,
    state: FSMContext,
    ctx: Context,
    locale: str,
    keep: Answers | None = None,
    *,
    linked: bool = False,
) -> None:
    """Begin a fresh survey; `keep` pre-fills answers (e.g. a volunteer's region); `linked`: the
    region came from a deep link, whose greeting offers to change it."""
    data = await state.get_data()
    # A new person starts clean: only the language and the volunteer's own mode carry over.
    await state.set_data({k: data[k] for k in ("locale", "volunteer") if k in data})
    # A volunteer's surveys are different people's: each is counted apart (show_result).
    person = secrets.token_hex(8) if is_volunteer(data, message.chat.id, ctx) else None
    await state.update_data(
        mode="survey", answers=dict(keep or {}), history=[], linked=linked, person=person
    )
    await advance(message, state, ctx, locale)


async def store(
    message: Message, state: FSMContext, ctx: Context, locale: str, question: Question, value: Any
) -> None:
    """Keep an answer, drop what hangs on a changed one, and move on."""
    data = await state.get_data()
    answers: Answers = dict(data.get("answers", {}))
    if answers.get(question.id) != value:
        for dependent in DEPENDENTS.get(question.id, ()):
            answers.pop(dependent, None)
    answers[question.id] = value
    try:
        validate_answers(answers)
    except InvalidAnswer as error:
        await reask(message, state, ctx, locale, error.reason)
        return
    history = [*data.get("history", []), question.id]
    await state.update_data(answers=answers, history=history, q=None, pending=None)
    await advance(message, state, ctx, locale)


async def reask(
    message: Message, state: FSMContext, ctx: Context, locale: str, reason: str, **values: Any
) -> None:
    """Say what was wrong and ask the current question again; nothing else changes.

    With no survey to go back to, only "Send /start to begin." (what was wrong with an answer
    to no question would only confuse)."""
    if _has_screen(await state.get_data()):
        await message.answer(render_macro("questions.j2", "invalid", locale, reason, values))
    await show_again(message, state, ctx, locale)


def _has_screen(data: dict[str, Any]) -> bool:
    """Whether show_again has a question or screen to show (else it says "Send /start")."""
    if BY_ID.get(data.get("q") or "") is not None or data.get("mode") == "summary":
        return True
    if data.get("await_language"):
        return True
    return bool(data.get("answers")) and data.get("mode") in ("result", "whatif", "aid_result")


async def show_again(message: Message, state: FSMContext, ctx: Context, locale: str) -> None:
    """Show the current question or screen again, as it was."""
    data = await state.get_data()
    current = BY_ID.get(data.get("q") or "")
    if not _has_screen(data):
        await message.answer(render_macro("messages.j2", "text", locale, "no_survey"))
    elif data.get("await_language"):  # the first question of all: the language
        await message.answer(
            render_macro("messages.j2", "text", locale, "choose_language"),
            reply_markup=keyboards.languages(preselected=locale),
        )
    elif current is not None:
        # Bad input leaves the years marked so far as they were.
        await ask(message, state, ctx, locale, current, data.get("pending"))
    elif data.get("mode") == "summary":
        await show_summary(message, state, ctx, locale)
    elif data.get("mode") == "aid_result":
        await show_aid(message, state, ctx, locale)  # not "Send /start": that would erase all
    else:
        await show_result(message, state, ctx, locale)


async def show_current(message: Message, state: FSMContext, ctx: Context, locale: str) -> bool:
    """Show again whatever the person was looking at; False when there is nothing yet."""
    data = await state.get_data()
    mode, answers = data.get("mode"), data.get("answers", {})
    history = data.get("history", [])
    if history and history[-1] in answers:
        last = history[-1]
        label = render_macro("questions.j2", "label", locale, last)
        value = render_macro("questions.j2", "answer", locale, last, answers[last], answers)
        await message.answer(render_macro("messages.j2", "last_answer", locale, label, value))
    current = BY_ID.get(data.get("q") or "")
    if current is not None:
        await ask(message, state, ctx, locale, current)
    elif mode == "summary":
        await show_summary(message, state, ctx, locale)
    elif mode in ("result", "why", "whatif"):
        await show_result(message, state, ctx, locale)
    elif mode == "aid_result":
        await show_aid(message, state, ctx, locale)
    else:
        return False
    return True


async def show_summary(message: Message, state: FSMContext, ctx: Context, locale: str) -> None:
    data = await state.get_data()
    answers = data.get("answers", {})
    rows = [q.id for q in asked(answers, ctx)]
    await state.update_data(mode="summary", q=None)
    await message.answer(
        render("summary.j2", locale, rows=rows, answers=answers),
        reply_markup=keyboards.summary(rows, locale),
    )


async def show_result(
    message: Message,
    state: FSMContext,
    ctx: Context,
    locale: str,
    campaign: CampaignStore | None = None,
) -> None:
    """The answer; `campaign` is given only when a survey is first answered, to count it."""

    data = await state.get_data()
    answers = data.get("answers", {})
    try:
        assessment = evaluate(answers, ctx)
    except (ValidationError, KeyError, ValueError):
        # An answer no longer fits the others (e.g. after an edit): ask what is missing.
        log.info("answers could not be assessed; asking again")
        await state.update_data(
            mode="survey", answers={k: answers[k] for k in ("region",) if k in answers}
        )
        await advance(message, state, ctx, locale)
        return
    await state.update_data(mode="result", q=None)
    # A person counts once a day however often they change their answers and look again.
    person = f"{message.chat.id}:{data.get('person') or ''}"
    if campaign is not None and await campaign.first_today(person, ctx.today):
        await campaign.record_answer(
            ctx.today, assessment.region, locale, outcome_kinds(assessment)
        )
    markup = keyboards.result(
        locale,
        **what_ifs(assessment, answers),
        aid=assessment.region == "xizang",
        volunteer=is_volunteer(data, message.chat.id, ctx),
        extra=reminder_buttons(assessment, ctx.today, locale, ctx.policies),
    )
    steps = next_steps(assessment, ctx.today, ctx.office, ctx.payment_url)
    await message.answer(render("result.j2", locale, a=assessment, n=steps), reply_markup=markup)


def what_if_answers(kind: str, answers: Answers) -> Answers | None:
    """The answers of a what-if: the person's own plus one change, never stored. None when the
    what-if has nothing to change."""
    if kind == "whatif_repair":
        return {**answers, "repair_years": int(answers.get("repair_years", 0)) + 1}
    paid = paid_years(answers)
    unpaid = [int(y) for y in break_years_asked(answers) if int(y) not in paid]
    if not unpaid:
        return None
    changed = {**answers, "paid_years": [str(y) for y in sorted([*paid, unpaid[-1]])]}
    changed.pop("repair_years", None)
    return changed


async def show_what_if(
    message: Message, state: FSMContext, ctx: Context, locale: str, kind: str
) -> None:
    """A hypothesis beside the person's own answer; the answers stay as they are."""
    answers = (await state.get_data()).get("answers", {})
    changed = what_if_answers(kind, answers)
    if changed is None:
        await reask(message, state, ctx, locale, "stale_button")
        return
    await state.update_data(mode="whatif", q=None)
    added = set(changed.get("paid_years", [])) - {str(y) for y in paid_years(answers)}
    text = render(
        "whatif.j2",
        locale,
        kind=kind,
        a=evaluate(answers, ctx),
        h=evaluate(changed, ctx),
        year=min(added, default=None),
    )
    await message.answer(text, reply_markup=keyboards.after_what_if(locale))


def what_ifs(assessment: Assessment, answers: Answers) -> dict[str, bool]:
    """Which what-if buttons the answer offers (and so which presses are not forged). Only years
    the person was asked about count: a baby is not asked about years before birth."""
    paid = paid_years(answers)
    unpaid = [y for y in break_years_asked(answers) if int(y) not in paid]
    return {
        "whatif_repair": assessment.repair.useful_years > assessment.repair.requested_years,
        "whatif_paid": bool(unpaid) and not assessment.waiting.exempt,
    }


async def show_why(message: Message, state: FSMContext, ctx: Context, locale: str) -> None:
    assessment = evaluate((await state.get_data())["answers"], ctx)
    await message.answer(
        render("why.j2", locale, a=assessment), reply_markup=keyboards.after_detail(locale)
    )


async def show_aid(message: Message, state: FSMContext, ctx: Context, locale: str) -> None:
    answers = (await state.get_data())["answers"]
    aid = AidProfile.model_validate(
        {
            "class": AID_CLASSES[answers["aid_class"]],
            "expense": answers["aid_expense"],
            "self_paid": answers["aid_cost"],
            "family_income": answers.get("aid_income"),
        }
    )
    result = assess_aid(aid, ctx.policies["xizang-aid"], int(answers["benefit_year"]))
    await state.update_data(mode="aid_result", q=None)
    await message.answer(
        render("aid_result.j2", locale, r=result), reply_markup=keyboards.after_detail(locale)
    )


# Filters are coroutines: aiogram runs a plain function (or a magic F filter) in a thread.
async def _plain_text(message: Message) -> bool:
    return bool(message.text) and not message.text.startswith("/")


async def _command_text(message: Message) -> bool:
    return bool(message.text) and message.text.startswith("/")


def create_router() -> Router:
    router = Router(name="survey")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())

    @router.callback_query(Pick.filter())
    async def on_pick(
        query: CallbackQuery,
        callback_data: Pick,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        await query.answer()
        ctx = context(policies, settings)
        data = await state.get_data()
        question = BY_ID.get(callback_data.q)
        if question is None or data.get("q") != question.id:
            await reask(query.message, state, ctx, locale, "stale_button")
            return
        answers = data.get("answers", {})
        try:
            value = check_choice(question, callback_data.v, answers, ctx)
        except InvalidAnswer as error:
            await reask(query.message, state, ctx, locale, error.reason, **error.values)
            return
        if question.kind == "years":
            pending = list(data.get("pending") or [])
            pending = (
                [y for y in pending if y != value]
                if value in pending
                else sorted([*pending, value])
            )
            await state.update_data(pending=pending)
            if not isinstance(query.message, Message):  # an old message, sent without content
                await ask(query.message, state, ctx, locale, question, pending)
                return
            markup = keyboards.question(
                question, answers, ctx, locale, back=bool(data.get("history")), pending=pending
            )
            try:
                await query.message.edit_reply_markup(reply_markup=markup)
            except TelegramBadRequest as error:
                if "message is not modified" in error.message:
                    return  # an older copy of the question already shows these marks
                # Deleted, too old to edit, or otherwise not editable: the marks (saved above)
                # come in a new copy of the question instead, once.
                log.info("question not edited (%s): sent again", type(error).__name__)
                await ask(query.message, state, ctx, locale, question, pending)
            return
        if question.id == "payment" and value == "today":
            try:
                value = parse_text(question, ctx.today.isoformat(), answers, ctx)
            except InvalidAnswer as error:
                await reask(query.message, state, ctx, locale, error.reason, **error.values)
                return
        elif question.id == "repair_years":
            value = int(value)
        await store(query.message, state, ctx, locale, question, value)

    @router.callback_query(Nav.filter())
    async def on_nav(
        query: CallbackQuery,
        callback_data: Nav,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        campaign: CampaignStore,
        settings: Settings | None = None,
    ) -> None:
        await query.answer()
        ctx = context(policies, settings)
        data = await state.get_data()
        action, mode = callback_data.a, data.get("mode")
        answers: Answers = dict(data.get("answers", {}))
        if action == "language":  # from the deep link's greeting, at any point
            await query.message.answer(
                render_macro("messages.j2", "text", locale, "choose_language"),
                reply_markup=keyboards.languages(preselected=locale),
            )
            return
        if not answers and action not in ("restart",):
            await reask(query.message, state, ctx, locale, "stale_button")
            return
        if action in ("back", "done") and not _shows_current(query.message, data):
            await reask(query.message, state, ctx, locale, "stale_button")  # an older question's
        elif action == "restart":
            await start_survey(query.message, state, ctx, locale)
        elif action == "done" and data.get("q") and BY_ID[data["q"]].kind == "years":
            await store(
                query.message, state, ctx, locale, BY_ID[data["q"]], list(data.get("pending") or [])
            )
        elif action == "back" and mode in ("survey", "summary", "aid"):
            history = list(data.get("history", []))
            if not history and mode == "aid":
                kept = {k: v for k, v in answers.items() if not k.startswith("aid_")}
                await state.update_data(answers=kept)
                await show_result(query.message, state, ctx, locale)
                return
            if not history:
                await reask(query.message, state, ctx, locale, "stale_button")
                return
            previous = history.pop()
            if mode == "summary":
                await state.update_data(mode="survey")
            answers.pop(previous, None)
            await state.update_data(answers=answers, history=history)
            await ask(query.message, state, ctx, locale, BY_ID[previous])
        elif action == "result" and mode in (
            "summary",
            "result",
            "why",
            "whatif",
            "aid",
            "aid_result",
        ):
            if mode in ("aid", "aid_result"):
                await state.update_data(
                    answers={k: v for k, v in answers.items() if not k.startswith("aid_")}
                )
            # Counted once, when the summary is confirmed; re-showing an answer is not a new one.
            counted = campaign if mode == "summary" else None
            await show_result(query.message, state, ctx, locale, counted)
        elif action == "why" and mode == "result":
            await show_why(query.message, state, ctx, locale)
        elif action in ("whatif_repair", "whatif_paid") and not (
            mode == "result" and what_ifs(evaluate(answers, ctx), answers)[action]
        ):
            await reask(query.message, state, ctx, locale, "stale_button")  # not offered
        elif action in ("whatif_repair", "whatif_paid") and mode == "result":
            await show_what_if(query.message, state, ctx, locale, action)
        elif action == "aid" and mode == "result" and answers.get("region") == "xizang":
            await state.update_data(mode="aid", history=[])
            await advance(query.message, state, ctx, locale)
        elif action == "bilingual" and mode == "result":
            assessment = evaluate(answers, ctx)
            steps = next_steps(assessment, ctx.today, ctx.office, ctx.payment_url)
            await query.message.answer(render("result.j2", locale, a=assessment, n=steps))
            chinese = render_macro("messages.j2", "text", "zh_Hans", "chinese_copy")
            copy = render("result.j2", "zh_Hans", a=assessment, n=steps, buttons=False)
            card = chinese + "\n\n" + copy
            await query.message.answer(card, reply_markup=keyboards.after_detail(locale))
        elif action == "card" and mode == "result":
            profile = to_profile(answers, ctx)
            keys = keyring(settings)  # CARD_KEYS as /explain opens them
            text = card_text(profile, assess(profile, ctx.policies), locale, keys)
            await query.message.answer(text, reply_markup=keyboards.after_detail(locale))
        elif (
            action == "next_person"
            and mode == "result"
            and is_volunteer(data, query.from_user.id, ctx)
        ):
            await start_survey(
                query.message, state, ctx, locale, keep={"region": answers["region"]}
            )
        elif action == "change_region" and mode == "survey" and data.get("linked"):
            # From the deep link's greeting: the region the poster chose, changed.
            answers.pop("region", None)
            await state.update_data(answers=answers, history=[], linked=False)
            await advance(query.message, state, ctx, locale)
        elif action == "edit" and mode in ("result", "why"):
            await show_summary(query.message, state, ctx, locale)
        else:
            await reask(query.message, state, ctx, locale, "stale_button")

    @router.callback_query(Edit.filter())
    async def on_edit(
        query: CallbackQuery,
        callback_data: Edit,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        await query.answer()
        ctx = context(policies, settings)
        data = await state.get_data()
        question = BY_ID.get(callback_data.q)
        answers = data.get("answers", {})
        if data.get("mode") != "summary" or question is None or question.id not in answers:
            await reask(query.message, state, ctx, locale, "stale_button")
            return
        await state.update_data(
            mode="survey", history=[q.id for q in asked(answers, ctx) if q.id != question.id]
        )
        await ask(query.message, state, ctx, locale, question)

    @router.callback_query()
    async def on_unknown_button(
        query: CallbackQuery,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        await query.answer()
        await reask(query.message, state, context(policies, settings), locale, "stale_button")

    @router.message(_plain_text)
    async def on_text(
        message: Message,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        ctx = context(policies, settings)
        data = await state.get_data()
        question = BY_ID.get(data.get("q") or "")
        if question is None:
            await reask(message, state, ctx, locale, "use_buttons")
            return
        try:
            value = parse_text(question, message.text, data.get("answers", {}), ctx, locale=locale)
        except InvalidAnswer as error:
            await reask(message, state, ctx, locale, error.reason, **error.values)
            return
        await store(message, state, ctx, locale, question, value)

    @router.message(_command_text)
    async def on_unknown_command(
        message: Message,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        # Not "I can only read text": it was text, a command this bot does not have.
        await message.answer(render_macro("campaign.j2", "text", locale, "unknown_command"))
        await show_again(message, state, context(policies, settings), locale)

    @router.message()
    async def on_other(
        message: Message,
        state: FSMContext,
        policies: PolicySet,
        locale: str,
        settings: Settings | None = None,
    ) -> None:
        await reask(message, state, context(policies, settings), locale, "not_text")

    return router
