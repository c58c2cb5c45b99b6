"""The web page as a person uses it over HTTP: languages, deep links, bad input, forms sent
twice or from elsewhere, erasing, the volunteer desk, and what the store keeps."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import aiohttp
import pytest
import redis

from bot.app import SQLITE_FILE, create_storage
from bot.campaign import create_campaign_store
from bot.render import render, render_macro
from bot.web.session import SESSION_COOKIE, VOLUNTEER_COOKIE
from bot.web.settings import WEB_BOT_ID

from .citizen import WebCitizen
from .conftest import VOLUNTEER_TOKEN, serve, web_settings


async def to_years_question(person: WebCitizen) -> None:
    await person.start()
    await person.press("Xizang")
    await person.say("2027")
    await person.press("None")
    await person.press("None of these")
    assert "Which years did you pay for?" in person.page.text


async def to_result(person: WebCitizen) -> str:
    await to_years_question(person)
    await person.press("Done")
    if "paid late" in person.page.text:
        await person.press("No, on time")
    await person.press("Within the payment period")
    for _ in range(10):
        if "Your answers" in person.page.text:
            break
        await person.press("Done" if "pay nothing" in person.page.text else "None")
    return await person.press("Show my result")


async def test_a_first_visit_is_greeted_in_the_browsers_language(site: str) -> None:
    async with WebCitizen(site, language="zh-CN,zh;q=0.9,en;q=0.8") as person:
        page = await person.open("/")
    assert page.status == 200
    assert page.lang == "zh-Hans"
    assert page.text == render_macro("messages.j2", "text", "zh_Hans", "welcome")
    assert page.labels()[0] == "✓ 中文"
    assert "བོད་ཡིག" in page.labels()


@pytest.mark.parametrize(
    ("header", "lang"),
    [("bo-CN", "bo"), ("fr-FR, zh;q=0.5", "zh-Hans"), ("de", "en"), ("en;q=0, zh-TW", "zh-Hans")],
)
async def test_the_page_speaks_the_first_language_it_has(site: str, header: str, lang: str) -> None:
    async with WebCitizen(site, language=header) as person:
        page = await person.open("/")
    assert page.lang == lang


async def test_a_survey_reaches_the_answer_and_its_reasons(site: str) -> None:
    async with WebCitizen(site) as person:
        answer = await to_result(person)
        assert "Your insurance in 2027 (Xizang)" in answer
        assert "Waiting period" in answer
        assert "Why?" in person.page.labels()
        assert person.page.answer_box is None  # the answer takes no typed text
        why = await person.press("Why?")
    assert why.startswith("Why")
    assert "[Xizang 一(三)]" in why


async def test_a_poster_link_opens_in_its_region_and_language(site: str) -> None:
    async with WebCitizen(site, language="en") as person:
        page = await person.open("/?start=xizang-bo")
        assert page.lang == "bo"
        assert page.screens[0] == render_macro("messages.j2", "linked", "bo", "xizang", "bo")
        assert page.answer_box is not None  # the benefit year may be typed
        changed = await person.press("ས་ཁུལ་བརྗེ་བ།")  # Change region
    assert "Xizang" not in changed
    assert person.page.lang == "bo"


async def test_the_conversation_is_where_it_was_when_the_page_is_opened_again(site: str) -> None:
    async with WebCitizen(site) as person:
        await to_years_question(person)
        await person.press("2025")
        again = await person.open("/")
    assert "Which years did you pay for?" in again.text
    assert "☑ 2025" in again.labels()


async def test_a_restart_of_the_server_keeps_every_conversation(data_dir: Path) -> None:
    async with serve(data_dir=data_dir) as (url, _):
        person = WebCitizen(url)
        await to_years_question(person)
        cookie = person.cookie(SESSION_COOKIE)
    async with (
        serve(data_dir=data_dir) as (url, _),
        aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie or ""}) as client,
        client.get(url) as response,
    ):
        html = await response.text()
    await person.close()
    assert "Which years did you pay for?" in html


async def test_the_same_store_as_the_bot_keeps_it(store: dict[str, object]) -> None:
    """SQLite or Redis, as the bot's settings choose."""
    async with serve(**store) as (url, _), WebCitizen(url) as person:
        await to_years_question(person)
        await person.press("2025")
        cookie = person.cookie(SESSION_COOKIE)
    async with serve(**store) as (url, _), WebCitizen(url) as again:
        again.client.cookie_jar.update_cookies({SESSION_COOKIE: cookie or ""})
        page = await again.open("/")
    assert "☑ 2025" in page.labels()


async def test_the_session_cookie_is_http_only_and_same_site(site: str) -> None:
    async with WebCitizen(site) as person:
        await person.open("/")
        header = person.set_cookies()[SESSION_COOKIE]
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # plain HTTP: a Secure cookie would never come back
    assert f"Max-Age={60 * 86400}" in header  # as long as the conversation is kept


async def test_behind_https_the_cookie_is_secure(data_dir: Path) -> None:
    async with serve(data_dir=data_dir, web_https=True) as (url, _), WebCitizen(url) as person:
        await person.open("/")
        header = person.set_cookies()[SESSION_COOKIE]
    assert "Secure" in header


async def test_the_store_keeps_neither_the_cookie_nor_a_telegram_id(data_dir: Path) -> None:
    async with serve(data_dir=data_dir) as (url, _), WebCitizen(url) as person:
        await to_result(person)
        cookie = person.cookie(SESSION_COOKIE)
    assert cookie
    conn = sqlite3.connect(data_dir / SQLITE_FILE)
    try:
        rows = conn.execute("SELECT key, user_id, chat_id, data FROM fsm").fetchall()
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert cookie not in dump
    [(key, user_id, chat_id, data)] = rows
    assert key.startswith(f"fsm:{WEB_BOT_ID}:")
    assert user_id == chat_id < 0  # Telegram's user ids are positive: never the same person
    assert "xizang" in data


async def test_a_form_from_elsewhere_changes_nothing(site: str) -> None:
    async with WebCitizen(site) as person:
        await to_years_question(person)
        control = person.find("2025")
        forged = {**control.fields, "form": "A" * 22 + "." + "B" * 32}
        page = await person.submit(control.action, forged)
        assert page.status == 403
        assert page.notice.startswith("This page could not be checked")
        assert "☐ 2025" in page.labels()
        missing = {k: v for k, v in control.fields.items() if k != "form"}
        page = await person.submit(control.action, missing)
        assert page.status == 403
        assert "☐ 2025" in page.labels()
        stranger = WebCitizen(site)  # signed for another session: a cross-site post
        await stranger.open("/")
        page = await person.submit(
            control.action, {**control.fields, "form": stranger_form(stranger)}
        )
        await stranger.close()
        assert page.status == 403
        assert "☐ 2025" in (await person.open("/")).labels()


def stranger_form(person: WebCitizen) -> str:
    return person.page.commands[0].fields["form"]


async def test_a_post_without_a_session_is_refused_in_the_browsers_language(site: str) -> None:
    async with (
        aiohttp.ClientSession(headers={"Accept-Language": "zh-CN"}) as client,
        client.post(site, data={"b": "p:region:xizang", "form": "x"}) as response,
    ):
        html = await response.text()
        status = response.status
    assert status == 403
    assert "无法核验这个网页" in html


async def test_a_form_sent_twice_is_applied_once(site: str) -> None:
    async with WebCitizen(site) as person:
        await to_years_question(person)
        control = person.find("2025")
        first = await person.submit(control.action, control.fields)
        assert "☑ 2025" in first.labels()
        second = await person.submit(control.action, control.fields)  # reload, double tap
    assert second.status == 200
    assert second.notice == "That was already sent. Here is where you are."
    assert "☑ 2025" in second.labels()  # not unmarked again


async def test_a_forged_button_is_answered_and_the_question_stays(site: str) -> None:
    async with WebCitizen(site, language="zh-CN") as person:
        await person.open("/?start=xizang-zh_Hans")
        question = person.page.text
        form = person.page.commands[0].fields["form"]
        page = await person.submit("./", {"form": form, "b": "p:region:atlantis"})
        assert page.status == 200
        assert page.screens[0] == render_macro(
            "questions.j2", "invalid", "zh_Hans", "stale_button", {}
        )
        assert page.text == question
        form = page.commands[0].fields["form"]
        page = await person.submit("./", {"form": form, "cmd": "stats"})
    assert page.text == question


async def test_free_text_where_a_year_is_asked_is_answered_in_the_persons_language(
    site: str,
) -> None:
    async with WebCitizen(site) as person:
        await person.open("/?start=xizang-bo")
        question = person.page.text
        await person.say("soon")
    assert person.page.lang == "bo"
    assert person.page.screens[0].startswith("ལོ་ཞིག་")  # "Please tap a year or type it"
    assert person.page.text == question


async def test_an_unexpected_method_gets_a_page_saying_so(site: str) -> None:
    async with WebCitizen(site) as person:
        await to_years_question(person)
        async with person.client.put(site, data={"b": "n:done:paid_years"}) as response:
            status, allow, html = response.status, response.headers["Allow"], await response.text()
        page = await person.open("/")
    assert status == 405
    assert allow == "GET, HEAD, POST"
    assert "This page cannot be used that way. Nothing was changed" in html
    assert "Which years did you pay for?" in html
    assert "Which years did you pay for?" in page.text


async def test_an_unknown_address_says_so_in_the_browsers_language(site: str) -> None:
    async with WebCitizen(site, language="bo") as person:
        page = await person.open("/nowhere")
    assert page.status == 404
    assert page.notice == "དྲ་ངོས་དེ་འདྲ་མེད།"
    assert ("དྲི་བར་འགྲོ།", "./") in page.links


async def test_erase_my_answers_forgets_the_person(data_dir: Path) -> None:
    async with serve(data_dir=data_dir) as (url, _), WebCitizen(url) as person:
        await to_years_question(person)
        before = person.cookie(SESSION_COOKIE)
        page = await person.command("forget")
        after = person.cookie(SESSION_COOKIE)
        assert page.text.startswith("Done: everything kept about you has been erased.")
        assert after and after != before  # the erased session's id is not used again
        again = await person.open("/")
    assert again.text == render_macro("messages.j2", "text", "en", "welcome")
    conn = sqlite3.connect(data_dir / SQLITE_FILE)
    try:
        assert conn.execute("SELECT COUNT(*) FROM fsm WHERE data LIKE '%xizang%'").fetchone() == (
            0,
        )
    finally:
        conn.close()


async def test_the_commands_at_the_foot_are_the_bots(site: str) -> None:
    async with WebCitizen(site) as person:
        await to_years_question(person)
        help_page = await person.command("help")
        assert help_page.screens[0] == render("help.j2", "en")
        assert "Which years did you pay for?" in help_page.text  # and the question again
        language = await person.command("language")
        assert language.text == render_macro("messages.j2", "text", "en", "choose_language")
        await person.press("中文")
        chosen = person.page
        assert chosen.lang == "zh-Hans"
        assert "☐ 2025" in chosen.labels()  # the question it was at, now in Chinese
        restarted = await person.command("restart")
    assert restarted.lang == "zh-Hans"
    assert restarted.labels()[0] == "西藏"


async def test_the_volunteer_desk_opens_with_its_token_only(data_dir: Path) -> None:
    settings = {"data_dir": data_dir, "web_volunteer_token": VOLUNTEER_TOKEN}
    async with serve(**settings) as (url, _), WebCitizen(url) as person:
        await person.open("/?start=tianjin-zh_Hans")
        assert ("志愿者服务台", "volunteer") in person.page.links
        desk = await person.open("/volunteer")
        box = desk.token_box
        assert box is not None
        wrong = await person.submit(box["action"], {**box["fields"], "token": "guess-guess-guess"})
        assert wrong.status == 403
        assert wrong.notice == "志愿者口令不正确。"
        assert person.cookie(VOLUNTEER_COOKIE) is None
        box = wrong.token_box
        assert box is not None
        opened = await person.submit(box["action"], {**box["fields"], "token": VOLUNTEER_TOKEN})
        assert opened.screens[0] == render_macro("messages.j2", "text", "zh_Hans", "volunteer_on")
        assert person.cookie(VOLUNTEER_COOKIE)
        assert opened.lang == "zh-Hans"


async def test_next_person_starts_afresh_in_the_same_region_and_language(data_dir: Path) -> None:
    settings = {"data_dir": data_dir, "web_volunteer_token": VOLUNTEER_TOKEN}
    async with serve(**settings) as (url, _), WebCitizen(url, language="zh-CN") as person:
        desk = await person.open("/volunteer")
        box = desk.token_box
        assert box is not None
        await person.submit(box["action"], {**box["fields"], "token": VOLUNTEER_TOKEN})
        assert person.page.labels()[0] == "西藏"
        await person.press("天津")
        await person.say("2027")
        await person.press("无")
        await person.press("以上都不是")
        for _ in range(12):
            if "下一位 »" in person.page.labels():
                break
            labels = person.page.labels()
            wanted = ("完成 ✓", "集中缴费期", "没有，按时缴纳", "无", "查看我的结果")
            pick = next(x for x in wanted if any(x in label for label in labels))
            await person.press(pick)
        assert "下一位 »" in person.page.labels()
        nxt = await person.press("下一位 »")
        assert person.page.lang == "zh-Hans"
        assert "天津" not in person.page.labels()  # the region is kept: the next question comes
        async with WebCitizen(url) as newcomer:
            linked = await newcomer.open("/?start=tianjin-zh_Hans")
    assert nxt == linked.text  # the first question after Tianjin, in Chinese
    assert "☑" not in " ".join(person.page.labels())


async def test_without_a_token_there_is_no_desk(site: str) -> None:
    async with WebCitizen(site) as person:
        page = await person.open("/volunteer")
    assert page.token_box is None
    assert page.text == render_macro("messages.j2", "text", "en", "volunteers_only")
    assert not [href for _, href in page.links if "volunteer" in href]


async def test_a_first_answer_is_counted_once_a_day(data_dir: Path) -> None:
    async with serve(data_dir=data_dir) as (url, _), WebCitizen(url) as person:
        await to_result(person)
        await person.press("Change my answers")
        await person.press("Show my result")
    storage = create_storage(web_settings(data_dir=data_dir))
    campaign = create_campaign_store(storage)
    campaign.bind(WEB_BOT_ID)
    try:
        today = dt.date.today()
        rows = await campaign.counts(today, today)
    finally:
        await campaign.close()
        await storage.close()
    assert {(r.region, r.locale) for r in rows} == {("xizang", "en")}
    assert {r.count for r in rows} == {1}


async def test_the_page_loads_nothing_from_elsewhere_and_stays_small(site: str) -> None:
    async with WebCitizen(site) as person:
        await to_result(person)
        page = person.page
        policy = person.headers["Content-Security-Policy"]
        await person.press("Why?")
        why = person.page
    assert "default-src 'none'" in policy
    assert person.headers["Cache-Control"] == "no-store"
    for html in (page.html, why.html):
        assert len(html.encode()) < 60 * 1024
        assert not re.search(r"<(script|img|iframe|link rel=\"stylesheet\")", html)
        assert not re.search(r"(src|action)=\"(https?:)?//", html)


async def test_healthz_tells_whether_the_store_serves(site: str) -> None:
    async with aiohttp.ClientSession() as client, client.get(site + "healthz") as response:
        assert (response.status, await response.text()) == (200, "ok")


async def test_redis_keys_expire_with_the_conversation(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    async with serve(redis_url=redis_url, state_ttl_days=3) as (url, _), WebCitizen(url) as person:
        await to_years_question(person)
    with redis.Redis.from_url(redis_url) as client:
        keys = [k.decode() for k in client.keys(f"fsm:{WEB_BOT_ID}:*")]
        assert keys
        assert all(0 < client.ttl(k) <= 3 * 86400 for k in keys)
