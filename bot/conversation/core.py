"""The conversation: `step(state, event, turn) -> Outcome`, the same for every channel.

Given what is kept of one person's conversation (a JSON-able dict), what they just did, and
today's context, it returns the new state, the screens to show, and the effects to carry out.
It sends nothing, reads and writes no store, and knows no channel: the Telegram handlers, the
terminal and the web page are adapters that load the state once, call `step`, save once, and
show the screens. Which question comes next is decided in bot/survey.py (`next_question`).

State keys: `answers` (question id -> stored value), `history` (questions answered, in order,
for Back), `mode` (survey, summary, result, why, whatif, aid, aid_result), `q` (the question
asked now), `pending` (years marked at a years question, not yet confirmed), `locale` (chosen),
`await_language` (first contact: the language is asked first), `volunteer`, `linked` (the
region came from a deep link), `person` (a volunteer's survey: a random tag, to count each
person apart).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from pydantic import ValidationError

from bot.campaign.offers import reminder_due, reminder_options, reminder_payload
from bot.cards import card_text, explain_text, unverifiable_text
from bot.checkcode import InvalidCode, UnverifiableCode
from bot.conversation import screens
from bot.conversation.model import (
    AddReminder,
    Command,
    CountAnswer,
    Event,
    Forget,
    Look,
    Other,
    Outcome,
    Press,
    Screen,
    State,
    Text,
    Turn,
    unpack,
)
from bot.i18n import available
from bot.next_steps import next_steps
from bot.render import render, render_macro
from bot.survey import (
    AID_CLASSES,
    BY_ID,
    Answers,
    InvalidAnswer,
    Question,
    asked,
    break_years_asked,
    check_choice,
    evaluate,
    example_date,
    next_question,
    paid_years,
    parse_deep_link,
    parse_text,
    to_profile,
    validate_answers,
)
from rules import Assessment, assess
from rules.aid import AidProfile, assess_aid

log = logging.getLogger("yibao.conversation")

# What the answer's screens may lead to, by the mode they are shown in.
SHOWS_ANSWER = ("result", "why", "whatif")
COMMANDS = ("start", "restart", "help", "about", "language", "volunteer", "explain", "forget")


def step(state: State, event: Event, turn: Turn) -> Outcome:
    """Handle one event of one person.

    `state`: what was kept of their conversation ({} for a new person; not changed here).
    Returns the new state (to save), the screens to show in order, and the effects to carry
    out. Raises nothing for anything a person can send: a forged or stale button, text where a
    button was asked, an unknown command each get a screen saying so and the question again.
    """
    conversation = _Conversation(state, turn)
    conversation.handle(event)
    return Outcome(conversation.data, conversation.screens, conversation.effects)


def locale_of(state: State, client_locale: str) -> str:
    """The language to answer in: the one chosen (kept in `state`), else `client_locale`, the
    channel's guess (bot.i18n.client_locale)."""
    chosen = state.get("locale")
    return chosen if chosen in available() else client_locale


def _unpaid(answers: Answers) -> list[int]:
    """The years the person was asked about and did not pay, ascending (a baby is not asked
    about years before birth)."""
    paid = paid_years(answers)
    return [int(y) for y in break_years_asked(answers) if int(y) not in paid]


def what_if_answers(kind: str, answers: Answers) -> Answers | None:
    """The answers of a what-if: the person's own plus one change, never stored. None when the
    what-if has nothing to change."""
    if kind == "whatif_repair":
        return {**answers, "repair_years": int(answers.get("repair_years", 0)) + 1}
    unpaid = _unpaid(answers)
    if not unpaid:
        return None
    paid = sorted([*paid_years(answers), unpaid[-1]])
    changed = {**answers, "paid_years": [str(y) for y in paid]}
    changed.pop("repair_years", None)
    return changed


def what_ifs(assessment: Assessment, answers: Answers) -> dict[str, bool]:
    """Which what-if buttons the answer offers (and so which presses are not forged). Only years
    the person was asked about count."""
    return {
        "whatif_repair": assessment.repair.useful_years > assessment.repair.requested_years,
        "whatif_paid": bool(_unpaid(answers)) and not assessment.waiting.exempt,
    }


def aid_policy(assessment: Assessment, turn: Turn) -> str | None:
    """The id of the medical-aid policy of the answer's region, if its texts give one."""
    return turn.ctx.policies[assessment.region].aid_policy


class _Conversation:
    """One step's work: the state being changed, the screens and effects gathered."""

    def __init__(self, state: State, turn: Turn) -> None:
        self.data: State = dict(state)
        self.turn = turn
        self.ctx = turn.ctx
        self.locale = locale_of(state, turn.client_locale)
        self.screens: list[Screen] = []
        self.effects: list[Any] = []

    # -- what the person did ------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        match event:
            case Command(name=name, args=args) if name in COMMANDS:
                getattr(self, f"on_{name}")(args)
            case Command():
                # Not "I can only read text": it was text, a command this bot does not have.
                self.say(render_macro("campaign.j2", "text", self.locale, "unknown_command"))
                self.show_again()
            case Text(text=text):
                self.on_text(text)
            case Press(data=data, detached=detached):
                self.on_press(data, detached)
            case Other():
                self.reask("not_text")
            case Look():
                self.show_again()

    def on_text(self, text: str) -> None:
        question = BY_ID.get(self.data.get("q") or "")
        if question is None:
            self.reask("use_buttons")
            return
        try:
            value = parse_text(question, text, self.answers, self.ctx, locale=self.locale)
        except InvalidAnswer as error:
            self.reask(error.reason, **error.values)
            return
        self.store(question, value)

    def on_press(self, data: str, detached: bool) -> None:
        prefix, parts = unpack(data)
        if prefix == screens.PICK and len(parts) == 2:
            self.on_pick(parts[0], parts[1], detached)
        elif prefix == screens.NAV and len(parts) == 2:
            self.on_nav(parts[0], parts[1])
        elif prefix == screens.EDIT and len(parts) == 1:
            self.on_edit(parts[0])
        elif prefix == screens.LANG and len(parts) == 1:
            self.on_language_chosen(parts[0])
        elif prefix == screens.REMIND and len(parts) == 1:
            self.on_remind(parts[0])
        else:
            self.reask("unknown_button")  # forged, or from a version of the bot long gone

    def on_pick(self, qid: str, value: Any, detached: bool) -> None:
        question = BY_ID.get(qid)
        if question is None:
            self.reask("unknown_button")  # no question of ours: forged
            return
        if self.data.get("q") != question.id:
            self.reask("stale_button")
            return
        answers = self.answers
        try:
            value = check_choice(question, value, answers, self.ctx)
        except InvalidAnswer as error:
            self.reask(error.reason, **error.values)
            return
        if question.kind == "years":
            pending = list(self.data.get("pending") or [])
            pending = (
                [y for y in pending if y != value]
                if value in pending
                else sorted([*pending, value])
            )
            self.ask(question, pending, replace=not detached)
            return
        if question.id == "payment" and value == "today":
            try:
                value = parse_text(question, self.ctx.today.isoformat(), answers, self.ctx)
            except InvalidAnswer as error:
                self.reask(error.reason, **error.values)
                return
        elif question.id == "repair_years":
            value = int(value)
        self.store(question, value)

    def on_nav(self, action: str, qid: str) -> None:
        data, mode = self.data, self.data.get("mode")
        answers = dict(self.answers)
        if action == "language":  # from the deep link's greeting, at any point
            self.show(screens.languages(self.locale))
            return
        if not answers and action != "restart":
            self.reask("stale_button")
            return
        if action in ("back", "done") and not self._current(qid):
            self.reask("stale_button")  # an older question's
        elif action == "restart":
            self.start_survey()
        elif action == "done" and data.get("q") and BY_ID[data["q"]].kind == "years":
            self.store(BY_ID[data["q"]], list(data.get("pending") or []))
        elif action == "back" and mode in ("survey", "summary", "aid"):
            self.go_back(answers)
        elif action == "result" and mode in ("summary", *SHOWS_ANSWER, "aid", "aid_result"):
            if mode in ("aid", "aid_result"):
                self.data["answers"] = {
                    k: v for k, v in answers.items() if not k.startswith("aid_")
                }
            # Counted once, when the summary is confirmed; re-showing an answer is not a new one.
            self.show_result(count=mode == "summary")
        elif action == "why" and mode == "result":
            self.show(
                Screen(
                    render("why.j2", self.locale, a=evaluate(answers, self.ctx)),
                    screens.after_detail(self.locale),
                )
            )
        elif action in ("whatif_repair", "whatif_paid"):
            if mode == "result" and what_ifs(evaluate(answers, self.ctx), answers)[action]:
                self.show_what_if(action)
            else:
                self.reask("stale_button")  # not offered
        elif action == "aid" and mode == "result" and self._aid_policy() is not None:
            self.data.update(mode="aid", history=[])
            self.advance()
        elif action == "bilingual" and mode == "result":
            self.show_bilingual(answers)
        elif action == "card" and mode == "result":
            profile = to_profile(answers, self.ctx)
            card = card_text(
                profile, assess(profile, self.ctx.policies), self.locale, self.turn.card_keys
            )
            self.show(Screen(card, screens.after_detail(self.locale)))
        elif action == "next_person" and mode == "result" and self.volunteer:
            self.start_survey(keep={"region": answers["region"]})
        elif action == "change_region" and mode == "survey" and data.get("linked"):
            # From the deep link's greeting: the region the poster chose, changed.
            answers.pop("region", None)
            self.data.update(answers=answers, history=[], linked=False)
            self.advance()
        elif action == "edit" and mode in ("result", "why"):
            self.show_summary()
        else:
            self.reask("stale_button")

    def _current(self, qid: str) -> bool:
        """Whether Back or Done names what is shown now: the question asked, or the summary."""
        current = self.data.get("q")
        if current:
            return qid == current
        return qid == "" and self.data.get("mode") == "summary"

    def go_back(self, answers: Answers) -> None:
        """Back: the previous question, its answer cleared; from the first aid question, the
        answer the aid questions came from."""
        history = list(self.data.get("history", []))
        if not history and self.data.get("mode") == "aid":
            self.data["answers"] = {k: v for k, v in answers.items() if not k.startswith("aid_")}
            self.show_result()
            return
        if not history:
            self.reask("stale_button")
            return
        previous = history.pop()
        if self.data.get("mode") == "summary":
            self.data["mode"] = "survey"
        answers.pop(previous, None)
        self.data.update(answers=answers, history=history)
        self.ask(BY_ID[previous])

    def on_edit(self, qid: str) -> None:
        question = BY_ID.get(qid)
        answers = self.answers
        if self.data.get("mode") != "summary" or question is None or question.id not in answers:
            self.reask("stale_button")
            return
        self.data.update(
            mode="survey", history=[q.id for q in asked(answers, self.ctx) if q.id != question.id]
        )
        self.ask(question)

    def on_language_chosen(self, locale: str) -> None:
        if locale not in available():
            self.reask("stale_button")
            return
        self.locale = self.data["locale"] = locale
        if self.data.get("await_language"):
            self.data["await_language"] = False
            self.start_survey()
        elif not self.show_current():
            self.show(screens.with_restart(locale, "no_survey"))

    def on_remind(self, kind: str) -> None:
        """Opt in to a reminder the current answer offers."""
        assessment = self._assessment() if self.turn.reminders else None
        today, policies = self.ctx.today, self.ctx.policies
        if assessment is None or kind not in reminder_options(assessment, today, policies):
            self.say(render_macro("campaign.j2", "text", self.locale, "reminder_unavailable"))
            return
        due = reminder_due(kind, assessment, today, policies)
        payload = reminder_payload(kind, assessment, policies)
        self.effects.append(AddReminder(kind, due, self.locale, payload))
        self.say(render_macro("campaign.j2", "reminder_set", self.locale, kind, due, payload))

    # -- commands -----------------------------------------------------------------------------

    def on_start(self, args: str) -> None:
        link = parse_deep_link(args, available())
        if link is not None:
            # A poster's link (`/start xizang-bo`) settles the region and the language.
            region, chosen = link
            if chosen:
                self.data.update(locale=chosen, await_language=False)
                self.locale = chosen
            # One line confirms what the link chose, with a way to change either.
            self.show(
                Screen(
                    render_macro("messages.j2", "linked", self.locale, region, self.locale),
                    screens.linked(self.locale),
                )
            )
            self.start_survey(keep={"region": region}, linked=True)
            return
        if self.data.get("locale") is None and len(available()) > 1:
            # First contact: the language is asked once, the client's own pre-selected.
            self.data = {"await_language": True}
            self.show(screens.languages(self.locale, "welcome"))
            return
        self.start_survey()

    on_restart = on_start

    def on_help(self, args: str) -> None:
        """The help, then, mid-survey, where the person was, so that the question and its
        buttons are at hand again below it (the help itself says how to begin)."""
        self.say(render("help.j2", self.locale))
        if self._has_screen():
            self.show_again()

    def on_about(self, args: str) -> None:
        policies = self.ctx.policies
        self.say(
            render(
                "about.j2", self.locale, policies=list(policies.values()), version=policies.version
            )
        )

    def on_language(self, args: str) -> None:
        self.show(screens.languages(self.locale))

    def on_volunteer(self, args: str) -> None:
        if not self.turn.volunteer_allowed:
            self.show(screens.text(self.locale, "volunteers_only"))
            return
        self.data["volunteer"] = True
        self.show(screens.text(self.locale, "volunteer_on"))
        self.start_survey()

    def on_explain(self, args: str) -> None:
        try:
            text = explain_text(args, self.ctx.policies, self.locale, self.turn.card_keys)
        except UnverifiableCode:
            text = unverifiable_text(self.locale)
        except InvalidCode:
            text = render_macro("messages.j2", "text", self.locale, "bad_code")
        self.say(text)

    def on_forget(self, args: str) -> None:
        self.data = {}
        self.effects.append(Forget())
        self.show(screens.with_restart(self.locale, "forgotten"))

    # -- the survey ---------------------------------------------------------------------------

    @property
    def answers(self) -> Answers:
        answers: Answers = self.data.get("answers", {})
        return answers

    @property
    def volunteer(self) -> bool:
        """Volunteer mode is on and the person is still a volunteer: checked at every use, so
        one removed from VOLUNTEER_IDS loses the mode at their next press."""
        return bool(self.data.get("volunteer")) and self.turn.volunteer_allowed

    def show(self, screen: Screen) -> None:
        self.screens.append(screen)

    def say(self, text: str) -> None:
        self.screens.append(Screen(text))

    def ask(
        self, question: Question, pending: list[str] | None = None, replace: bool = False
    ) -> None:
        """Show `question` and make it the current one; `pending` keeps marked years."""
        answers = self.answers
        if question.kind != "years":
            pending = None
        elif pending is None:
            pending = _initial_pending(question, answers)
        example = example_date(question.id, answers, self.ctx)  # a date the question accepts
        # In the aid questions, Back from the first one leads back to the answer.
        back = bool(self.data.get("history")) or self.data.get("mode") == "aid"
        self.data.update(q=question.id, pending=pending)
        self.show(
            screens.question(
                question,
                answers,
                self.ctx,
                self.locale,
                example,
                back=back,
                pending=pending,
                replace=replace,
            )
        )

    def advance(self) -> None:
        """Ask the next open question, or show the summary (survey) or the aid answer."""
        mode = self.data.get("mode", "survey")
        question = next_question(self.answers, self.ctx, mode)
        if question is not None:
            self.ask(question)
        elif mode == "aid":
            self.show_aid()
        else:
            self.show_summary()

    def start_survey(self, keep: Answers | None = None, *, linked: bool = False) -> None:
        """Begin a fresh survey; `keep` pre-fills answers (a volunteer's region, a deep link's);
        `linked`: the region came from a deep link, whose greeting offers to change it."""
        # A new person starts clean: only the language and the volunteer's own mode carry over.
        kept: State = {k: self.data[k] for k in ("locale", "volunteer") if k in self.data}
        # A volunteer's surveys are different people's: each is counted apart (show_result).
        person = secrets.token_hex(8) if self.volunteer else None
        self.data = {
            **kept,
            "mode": "survey",
            "answers": dict(keep or {}),
            "history": [],
            "linked": linked,
            "person": person,
        }
        self.advance()

    def store(self, question: Question, value: Any) -> None:
        """Keep an answer, drop what hangs on a changed one, and move on."""
        answers = dict(self.answers)
        if answers.get(question.id) != value:
            for dependent in question.resets:
                answers.pop(dependent, None)
        answers[question.id] = value
        try:
            validate_answers(answers)
        except InvalidAnswer as error:
            self.reask(error.reason)
            return
        history = [*self.data.get("history", []), question.id]
        self.data.update(answers=answers, history=history, q=None, pending=None)
        self.advance()

    def reask(self, reason: str, **values: Any) -> None:
        """Say what was wrong and show the current question or screen again; nothing else
        changes. With no survey to go back to, only "Send /start to begin." (what was wrong
        with an answer to no question would only confuse)."""
        if self._has_screen():
            self.say(render_macro("questions.j2", "invalid", self.locale, reason, values))
        self.show_again()

    def _has_screen(self) -> bool:
        """Whether show_again has a question or screen to show (else it says "Send /start")."""
        data = self.data
        if BY_ID.get(data.get("q") or "") is not None or data.get("mode") == "summary":
            return True
        if data.get("await_language"):
            return True
        return bool(data.get("answers")) and data.get("mode") in ("result", "whatif", "aid_result")

    def show_again(self) -> None:
        """Show the current question or screen again, as it was."""
        data = self.data
        current = BY_ID.get(data.get("q") or "")
        if not self._has_screen():
            self.show(screens.with_restart(self.locale, "no_survey"))
        elif data.get("await_language"):  # the first question of all: the language
            self.show(screens.languages(self.locale))
        elif current is not None:
            # Bad input leaves the years marked so far as they were.
            self.ask(current, data.get("pending"))
        elif data.get("mode") == "summary":
            self.show_summary()
        elif data.get("mode") == "aid_result":
            self.show_aid()  # not "Send /start": that would erase all
        else:
            self.show_result()

    def show_current(self) -> bool:
        """Show again whatever the person was looking at, after their last answer (a language
        was chosen); False when there is nothing yet."""
        data = self.data
        mode, answers, history = data.get("mode"), self.answers, data.get("history", [])
        if history and history[-1] in answers:
            last = history[-1]
            name = render_macro("questions.j2", "label", self.locale, last)
            value = render_macro(
                "questions.j2", "answer", self.locale, last, answers[last], answers
            )
            self.say(render_macro("messages.j2", "last_answer", self.locale, name, value))
        current = BY_ID.get(data.get("q") or "")
        if current is not None:
            self.ask(current)
        elif mode == "summary":
            self.show_summary()
        elif mode in SHOWS_ANSWER:
            self.show_result()
        elif mode == "aid_result":
            self.show_aid()
        else:
            return False
        return True

    def show_summary(self) -> None:
        answers = self.answers
        rows = [q.id for q in asked(answers, self.ctx)]
        self.data.update(mode="summary", q=None)
        self.show(screens.summary(rows, answers, self.locale))

    def _assessment(self) -> Assessment | None:
        """The person's current answer, or None when their answers no longer give one."""
        if not self.answers:
            return None
        try:
            return evaluate(self.answers, self.ctx)
        except (ValidationError, KeyError, ValueError, TypeError):
            return None

    def _aid_policy(self) -> str | None:
        assessment = self._assessment()
        return None if assessment is None else aid_policy(assessment, self.turn)

    def show_result(self, *, count: bool = False) -> None:
        """The answer; `count`: it is a survey's first answer (the summary confirmed)."""
        answers = self.answers
        try:
            assessment = evaluate(answers, self.ctx)
        except (ValidationError, KeyError, ValueError):
            # An answer no longer fits the others (e.g. after an edit): ask what is missing.
            log.info("answers could not be assessed; asking again")
            self.data.update(
                mode="survey", answers={k: answers[k] for k in ("region",) if k in answers}
            )
            self.advance()
            return
        self.data.update(mode="result", q=None)
        if count:
            # A person counts once a day however often they change answers and look again.
            person = f"{self.turn.person}:{self.data.get('person') or ''}"
            self.effects.append(CountAnswer(person, assessment.region, self.locale, assessment))
        today, policies = self.ctx.today, self.ctx.policies
        buttons = screens.result_buttons(
            self.locale,
            **what_ifs(assessment, answers),
            aid=aid_policy(assessment, self.turn) is not None,
            volunteer=self.volunteer,
            reminders=tuple(reminder_options(assessment, today, policies))
            if self.turn.reminders
            else (),
        )
        steps = next_steps(assessment, today, self.ctx.office, self.ctx.payment_url)
        self.show(Screen(render("result.j2", self.locale, a=assessment, n=steps), buttons))

    def show_what_if(self, kind: str) -> None:
        """A hypothesis beside the person's own answer; the answers stay as they are."""
        answers = self.answers
        changed = what_if_answers(kind, answers)
        if changed is None:
            self.reask("stale_button")
            return
        self.data.update(mode="whatif", q=None)
        added = set(changed.get("paid_years", [])) - {str(y) for y in paid_years(answers)}
        text = render(
            "whatif.j2",
            self.locale,
            kind=kind,
            a=evaluate(answers, self.ctx),
            h=evaluate(changed, self.ctx),
            year=min(added, default=None),
        )
        self.show(Screen(text, screens.after_what_if(self.locale)))

    def show_bilingual(self, answers: Answers) -> None:
        """The answer in the person's language and a copy in Chinese, for the hospital desk."""
        assessment = evaluate(answers, self.ctx)
        steps = next_steps(assessment, self.ctx.today, self.ctx.office, self.ctx.payment_url)
        self.say(render("result.j2", self.locale, a=assessment, n=steps))
        chinese = render_macro("messages.j2", "text", "zh_Hans", "chinese_copy")
        copy = render("result.j2", "zh_Hans", a=assessment, n=steps, buttons=False)
        self.show(Screen(chinese + "\n\n" + copy, screens.after_detail(self.locale)))

    def show_aid(self) -> None:
        answers = self.answers
        aid = AidProfile.model_validate(
            {
                "class": AID_CLASSES[answers["aid_class"]],
                "expense": answers["aid_expense"],
                "self_paid": answers["aid_cost"],
                "family_income": answers.get("aid_income"),
            }
        )
        policy_id = self._aid_policy()
        if policy_id is None:  # the region's texts give no medical aid: back to the answer
            self.show_result()
            return
        result = assess_aid(aid, self.ctx.policies[policy_id], int(answers["benefit_year"]))
        self.data.update(mode="aid_result", q=None)
        self.show(
            Screen(
                render("aid_result.j2", self.locale, r=result), screens.after_detail(self.locale)
            )
        )


def _initial_pending(question: Question, answers: Answers) -> list[str]:
    if question.id in answers:
        return list(answers[question.id])
    if question.id == "paid_years":
        return [str(y) for y in paid_years(answers)]
    return []
