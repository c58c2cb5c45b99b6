"""`yibao web`: the conversation as a web page, for people who cannot reach Telegram.

An adapter of the conversation core (bot/conversation), like the Telegram handlers and the
terminal: each request is an event (a page opened or reloaded is a Look, `/?start=xizang-bo`
a deep link's /start, a button a Press of its data, the answer box a Text, the commands at the
page's foot the bot's commands), the conversation is held once (claimed, locked, read once,
written once: bot/storage/conversations.py) in the bot's store under WEB_BOT_ID, and the core's
screens come back as one HTML page of plain forms. It works with JavaScript off.

A post is answered with the page itself, not a redirect: the screens of one step (an error and
the question again, the reasons under Why?) exist only in its outcome. Reloading such a page
sends its form again, with the same form token, so it is recognised and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDictProxy

from bot.app import start_store
from bot.checkcode import keyring
from bot.conversation import (
    AddReminder,
    Command,
    CountAnswer,
    Event,
    Forget,
    Look,
    Outcome,
    Press,
    State,
    Text,
    Turn,
    locale_of,
    step,
)
from bot.i18n import DEFAULT_LOCALE, available, map_language
from bot.logs import where
from bot.storage import forget_user
from bot.storage.conversations import StoreUnavailable, create_conversations
from bot.storage.health import probe_store
from bot.survey import Context
from bot.web.page import COMMANDS, render_page, style
from bot.web.session import SESSION_COOKIE, VOLUNTEER_COOKIE, Sessions
from bot.web.settings import WEB_BOT_ID, WebSettings
from rules import load_policies

log = logging.getLogger("yibao.web")

# A form post is a few short fields; anything bigger is refused (413) before it is read.
MAX_BODY = 16 * 1024
# What one typed answer may be, as a Telegram message.
MAX_TEXT = 4096
# The volunteer cookie lasts a working day at the desk.
VOLUNTEER_SECONDS = 24 * 3600
HEALTHZ = "/healthz"
ALLOW = "GET, HEAD, POST"


def accept_locale(header: str | None, default: str) -> str:
    """The locale to answer in from an Accept-Language header (`zh-CN,zh;q=0.9,en;q=0.8`):
    the most wanted language we have, else `default`."""
    ranked: list[tuple[float, int, str]] = []
    for place, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                weight = float(value)
            except ValueError:
                continue
        if tag.strip() and tag.strip() != "*" and weight > 0:
            ranked.append((-weight, place, tag.strip()))
    for _, _, tag in sorted(ranked):
        locale = map_language(tag)
        if locale == DEFAULT_LOCALE and not tag.lower().startswith("en"):
            continue  # map_language falls back to English for languages it does not know
        if locale in available():
            return locale
    return default


def _field(form: MultiDictProxy[Any], name: str) -> str | None:
    """A form field's text; None when it is missing or not text (an uploaded file)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def event_of(form: MultiDictProxy[Any]) -> Event:
    """A posted form as the core's event: a button's data, a command, a typed answer."""
    pressed = _field(form, "b")
    if pressed is not None:
        return Press(pressed[:256])
    command = _field(form, "cmd")
    if command is not None:
        # A command the page does not offer is a forged button: the core says so.
        return Command(command) if command in COMMANDS else Press("")
    text = _field(form, "text")
    if text is not None:
        return Text(text[:MAX_TEXT])
    return Look()


def _showing(state: State) -> bool:
    """Whether the state has a screen to show again (else the page starts the conversation)."""
    return bool(state.get("mode") or state.get("await_language"))


class WebChannel:
    """The web page's handlers over one store: sessions, the core, the campaign's counts."""

    def __init__(self, settings: WebSettings, storage: BaseStorage, key: bytes) -> None:
        from bot.campaign import create_campaign_store

        self.settings = settings
        self.storage = storage
        self.conversations = create_conversations(storage)
        self.sessions = Sessions(key)
        self.policies = load_policies(settings.policy_overrides)
        self.card_keys = keyring(settings)
        self.volunteer_token = settings.volunteer_token()
        # Answers count with the bot's when the deployment runs one (`yibao stats` reads them
        # under its id), else under the web's own.
        self.campaign = create_campaign_store(storage)
        self.campaign.bind(settings.bot_id if settings.bot_id is not None else WEB_BOT_ID)
        self.campaign.set_secret(self.sessions.counting_secret())

    # -- what every request needs ----------------------------------------------------------

    def _key(self, person: int) -> StorageKey:
        return StorageKey(bot_id=WEB_BOT_ID, chat_id=person, user_id=person)

    def _client_locale(self, request: web.Request) -> str:
        return accept_locale(request.headers.get("Accept-Language"), self.settings.default_locale)

    def _volunteer(self, request: web.Request) -> bool:
        return self.sessions.is_volunteer(
            request.cookies.get(VOLUNTEER_COOKIE), self.volunteer_token
        )

    def _turn(self, request: web.Request, person: int, volunteer: bool | None = None) -> Turn:
        ctx = Context.now(self.policies, self.settings)
        # No reminders: the page cannot write to anyone later.
        return Turn(
            ctx=ctx,
            person=f"web:{person}",
            client_locale=self._client_locale(request),
            volunteer_allowed=self._volunteer(request) if volunteer is None else volunteer,
            card_keys=self.card_keys,
            reminders=False,
        )

    def _session(self, request: web.Request) -> str:
        """The visitor's session id, or a new one (set on the response)."""
        session = request.cookies.get(SESSION_COOKIE)
        return session if session is not None and Sessions.valid(session) else Sessions.new()

    def _respond(
        self,
        session: str,
        locale: str,
        outcome: Outcome | None,
        *,
        notice: str | None = None,
        status: int = 200,
        volunteer_form: bool = False,
    ) -> web.Response:
        state = outcome.state if outcome is not None else {}
        question = state.get("q") if state.get("mode") in ("survey", "aid") else None
        html = render_page(
            locale,
            outcome.screens if outcome is not None else [],
            form=self.sessions.form_token(session),
            question=question,
            notice=notice,
            volunteer_link=self.volunteer_token is not None,
            volunteer_form=volunteer_form,
        )
        response = web.Response(text=html, content_type="text/html", status=status)
        if status == 405:
            response.headers["Allow"] = ALLOW
        # Renewed with every page: it lasts as long as the conversation it names is kept.
        response.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=self.settings.state_ttl_days * 86_400,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.settings.web_https or None,
        )
        return response

    async def _carry_out(self, outcome: Outcome, turn: Turn, person: int) -> bool:
        """The outcome's effects; True when the person's records were erased (Forget)."""
        from bot.campaign import outcome_kinds

        erased = False
        for effect in outcome.effects:
            match effect:
                case CountAnswer():
                    kinds = outcome_kinds(effect.assessment)
                    await self.campaign.count_answer(
                        effect.person, turn.ctx.today, effect.region, effect.locale, kinds
                    )
                case Forget():
                    # The state is already saved empty; this also scrubs SQLite's pages.
                    await forget_user(self.storage, person)
                    erased = True
                case AddReminder():  # not offered without `reminders`
                    log.warning("a reminder was asked of the web page: ignored")
        return erased

    async def _step(
        self,
        request: web.Request,
        session: str,
        event: Event | None,
        update_id: int,
        volunteer: bool | None = None,
    ) -> tuple[Outcome, Turn, str] | None:
        """Hold the session's conversation under `update_id`, step `event` (None: show again
        what is there, or start), save; None when the update was handled before."""
        person = self.sessions.person(session)
        turn = self._turn(request, person, volunteer)
        async with self.conversations.hold(WEB_BOT_ID, update_id, self._key(person)) as held:
            if held is None:
                return None
            state = held.state
            if event is None:
                event = Look() if _showing(state) else Command("start")
            outcome = step(state, event, turn)
            if _showing(outcome.state) and not (outcome.screens and outcome.screens[-1].buttons):
                # A page is all the person sees (no chat above it): after words only (help,
                # about), the question or answer they were at comes again under them.
                again = step(outcome.state, Look(), turn)
                outcome = Outcome(again.state, outcome.screens + again.screens, outcome.effects)
            await held.save(outcome.state)
        if await self._carry_out(outcome, turn, person):
            session = Sessions.new()  # the erased conversation's id is not used again
        log.info("web %s handled", type(event).__name__)
        return outcome, turn, session

    async def _show(
        self,
        request: web.Request,
        event: Event | None = None,
        *,
        notice: str | None = None,
        status: int = 200,
        volunteer: bool | None = None,
    ) -> web.Response:
        """A page that is looked at: `event` (None: as it is) under an update id of its own."""
        session = self._session(request)
        done = await self._step(request, session, event, Sessions.any_update_id(), volunteer)
        assert done is not None  # a fresh update id is never claimed before
        outcome, turn, session = done
        locale = locale_of(outcome.state, turn.client_locale)
        return self._respond(
            session,
            locale,
            outcome,
            notice=notice,
            status=status,
        )

    # -- the routes --------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        """`/`: GET shows the conversation (`?start=` a deep link), POST is a form sent."""
        if request.method in ("GET", "HEAD"):
            start = request.query.get("start")
            return await self._show(request, None if start is None else Command("start", start))
        if request.method != "POST":
            return await self._show(request, notice="method", status=405)
        form = await request.post()
        session = request.cookies.get(SESSION_COOKIE)
        update_id = (
            self.sessions.update_id(session, _field(form, "form"))
            if session is not None and Sessions.valid(session)
            else None
        )
        if session is None or update_id is None:
            # No session, or a form it did not sign (another site's, or a very old page).
            return await self._show(request, notice="expired", status=403)
        done = await self._step(request, session, event_of(form), update_id)
        if done is None:
            return await self._show(request, notice="repeated")
        outcome, turn, session = done
        return self._respond(session, locale_of(outcome.state, turn.client_locale), outcome)

    async def volunteer(self, request: web.Request) -> web.Response:
        """`/volunteer`: the desk's token, then the bot's /volunteer."""
        if request.method not in ("GET", "HEAD", "POST"):
            return await self._show(request, notice="method", status=405)
        token = self.volunteer_token
        if token is None or self._volunteer(request):
            # No desk here (the core says it is for volunteers), or the pass is still good.
            return await self._show(request, Command("volunteer"))
        session = self._session(request)
        locale = await self._chosen_locale(request, session)
        if request.method != "POST":
            return self._respond(session, locale, None, notice="desk", volunteer_form=True)
        form = await request.post()
        update_id = self.sessions.update_id(session, _field(form, "form"))
        if update_id is None:
            return self._respond(
                session, locale, None, notice="expired", status=403, volunteer_form=True
            )
        if not self.sessions.is_volunteer(
            self.sessions.volunteer_pass(_field(form, "token") or ""), token
        ):
            log.info("a wrong volunteer token was tried")
            return self._respond(
                session, locale, None, notice="wrong_token", status=403, volunteer_form=True
            )
        done = await self._step(request, session, Command("volunteer"), update_id, volunteer=True)
        if done is None:
            return await self._show(request, notice="repeated")
        outcome, turn, session = done
        response = self._respond(session, locale_of(outcome.state, turn.client_locale), outcome)
        response.set_cookie(
            VOLUNTEER_COOKIE,
            self.sessions.volunteer_pass(token),
            max_age=VOLUNTEER_SECONDS,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.settings.web_https or None,
        )
        return response

    async def _chosen_locale(self, request: web.Request, session: str) -> str:
        """The language of a page outside the conversation (the desk): the one chosen, read
        without holding the conversation, else the browser's."""
        person = self.sessions.person(session)
        state = await self.storage.get_data(self._key(person))
        return locale_of(state, self._client_locale(request))

    def bare(self, request: web.Request, notice: str, status: int) -> web.Response:
        """A page with only a notice (and the way to the questions): no session, no store."""
        html = render_page(self._client_locale(request), [], form="", notice=notice, bare=True)
        return web.Response(text=html, content_type="text/html", status=status)

    async def healthz(self, request: web.Request) -> web.Response:
        """200 "ok" when the store can serve, else 503 with a short reason (no secrets)."""
        reason = await probe_store(self.storage)
        if reason is not None:
            return web.Response(status=503, text=reason)
        return web.Response(text="ok")

    async def close(self) -> None:
        await self.campaign.close()
        await self.storage.close()


def _headers(response: web.StreamResponse) -> None:
    """What every page says about itself: nothing from elsewhere, not framed, not kept."""
    _, css = style()
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'none'; style-src {css}; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    # Pages hold a person's answers: no cache keeps them.
    response.headers.setdefault("Cache-Control", "no-store")


def _guard(channel: WebChannel) -> Any:
    """Errors as pages in the visitor's language: 404, 503 (store unavailable), 500."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = channel.bare(request, "not_found", 404)
        except web.HTTPException:
            raise
        except StoreUnavailable as error:
            log.warning("the store is unavailable: %s", error)
            response = channel.bare(request, "busy", 503)
        except Exception as error:
            # By type and place only: an exception's message may quote what a person typed.
            log.error("a page failed: %s at %s", type(error).__name__, where(error))
            response = channel.bare(request, "error", 500)
        _headers(response)
        return response

    return guard


def create_web_app(settings: WebSettings, storage: BaseStorage, key: bytes) -> web.Application:
    """The web page on `storage` (closed with the app), its forms signed with `key`."""
    channel = WebChannel(settings, storage, key)
    app = web.Application(middlewares=[_guard(channel)], client_max_size=MAX_BODY)
    app.router.add_route("*", "/", channel.page)
    app.router.add_route("*", "/volunteer", channel.volunteer)
    app.router.add_get(HEALTHZ, channel.healthz)

    async def on_cleanup(app: web.Application) -> None:
        await channel.close()

    app.on_cleanup.append(on_cleanup)
    return app


async def open_store(settings: WebSettings) -> BaseStorage:
    """The store the settings name, checked as the bot's transports check it, not adopted for
    a bot (bot.app.start_store). SettingsError naming the setting when it cannot be used."""
    return await start_store(settings, None)
