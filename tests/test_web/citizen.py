"""A person using the web page over real HTTP, reading the page as a browser shows it: the
notice, the screens' text and their buttons, the answer box, the commands at the foot."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL


@dataclass
class Control:
    """A submit button (or a link) and the form it sends."""

    label: str
    action: str
    fields: dict[str, str]
    url: str = ""


@dataclass
class Page:
    """What a person sees on one page."""

    status: int
    lang: str = ""
    notice: str = ""
    screens: list[str] = field(default_factory=list)
    buttons: list[list[Control]] = field(default_factory=list)  # per screen
    commands: list[Control] = field(default_factory=list)
    answer_box: dict[str, Any] | None = None  # the typed-answer form: action and fields
    token_box: dict[str, Any] | None = None  # the volunteer desk's form
    links: list[tuple[str, str]] = field(default_factory=list)
    html: str = ""

    @property
    def text(self) -> str:
        """The last screen's text: what the page answers."""
        return self.screens[-1] if self.screens else ""

    @property
    def all_text(self) -> str:
        return "\n\n".join([self.notice, *self.screens]).strip()

    def labels(self) -> list[str]:
        return [c.label for row in self.buttons for c in row]


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.stack: list[str] = []
        self.form: dict[str, Any] | None = None
        self.paragraphs: list[str] | None = None
        self.text: list[str] | None = None
        self.button: dict[str, str] | None = None
        self.link: dict[str, str] | None = None
        self.notice: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.page.lang = a.get("lang", "")
        elif tag == "section":
            self.paragraphs = []
            self.page.buttons.append([])
        elif tag == "p" and self.paragraphs is not None and self.form is None:
            self.text = []
        elif tag == "p" and "notice" in a.get("class", ""):
            self.notice = []
        elif tag == "form":
            self.form = {"action": a.get("action", ""), "class": a.get("class", ""), "fields": {}}
        elif tag == "input" and self.form is not None:
            self.form["fields"][a.get("name", "")] = a.get("value", "")
            if a.get("type") != "hidden":
                self.form["input"] = a
        elif tag == "button":
            self.button = {"name": a.get("name", ""), "value": a.get("value", ""), "label": ""}
        elif tag == "a":
            self.link = {"href": a.get("href", ""), "label": "", "class": a.get("class", "")}

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.text is not None and self.paragraphs is not None:
            self.paragraphs.append("".join(self.text))
            self.text = None
        elif tag == "p" and self.notice is not None:
            self.page.notice = "".join(self.notice).strip()
            self.notice = None
        elif tag == "section" and self.paragraphs is not None:
            self.page.screens.append("\n\n".join(self.paragraphs))
            self.paragraphs = None
        elif tag == "button" and self.button is not None and self.form is not None:
            fields = {**self.form["fields"]}
            if self.button["name"]:
                fields[self.button["name"]] = self.button["value"]
            control = Control(self.button["label"].strip(), self.form["action"], fields)
            if "commands" in self.form["class"]:
                self.page.commands.append(control)
            elif "buttons" in self.form["class"]:
                self.page.buttons[-1].append(control)
            self.button = None
        elif tag == "a" and self.link is not None:
            label, href = self.link["label"].strip(), self.link["href"]
            self.page.links.append((label, href))
            if "button" in self.link["class"] and self.page.buttons and self.paragraphs is not None:
                self.page.buttons[-1].append(Control(label, "", {}, url=href))
            self.link = None
        elif tag == "form" and self.form is not None:
            if "typed" in self.form["class"]:
                name = self.form.get("input", {}).get("name")
                box = "answer_box" if name == "text" else "token_box"
                setattr(self.page, box, self.form)
            self.form = None

    def handle_data(self, data: str) -> None:
        if self.button is not None:
            self.button["label"] += data
        if self.link is not None:
            self.link["label"] += data
        if self.text is not None:
            self.text.append(data)
        if self.notice is not None:
            self.notice.append(data)


def read_page(status: int, html: str) -> Page:
    page = Page(status=status, html=html)
    _Reader(page).feed(html)
    return page


class WebCitizen:
    """One visitor with their own cookies, using the page at `base` as its forms allow."""

    def __init__(self, base: str, language: str = "en") -> None:
        self.base = URL(base)
        self.language = language
        self.client = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Accept-Language": language},
        )
        self.page = Page(status=0)
        self.url = self.base
        self.headers: CIMultiDict[str] = CIMultiDict()

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> WebCitizen:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self, path: str = "/") -> Page:
        self.url = self.base.join(URL(path))
        async with self.client.get(self.url) as response:
            self.headers = CIMultiDict(response.headers)
            self.page = read_page(response.status, await response.text())
        return self.page

    async def submit(self, action: str, fields: dict[str, str]) -> Page:
        target = self.url.join(URL(action))
        async with self.client.post(target, data=fields) as response:
            self.url = target
            self.headers = CIMultiDict(response.headers)
            self.page = read_page(response.status, await response.text())
        return self.page

    def cookie(self, name: str) -> str | None:
        """The value of a cookie the browser keeps for the page."""
        for morsel in self.client.cookie_jar:
            if morsel.key == name:
                return morsel.value
        return None

    def set_cookies(self) -> dict[str, str]:
        """The last response's Set-Cookie headers, by cookie name."""
        found = {}
        for header in self.headers.getall("Set-Cookie", []):
            name = header.partition("=")[0]
            found[name] = header
        return found

    def find(self, label: str) -> Control:
        """The newest button labelled `label` (or containing it), as Telegram's fakes find."""
        controls = [c for row in reversed(self.page.buttons) for c in row]
        found = [c for c in controls if c.label == label] or [
            c for c in controls if label in c.label
        ]
        assert found, f"no button {label!r} in {self.page.labels()}"
        return found[0]

    async def press(self, label: str) -> str:
        control = self.find(label)
        await self.submit(control.action, control.fields)
        return self.page.text

    async def press_data(self, data: str) -> Page:
        """Press the button that sends `data` (a language-independent way to find it)."""
        for row in self.page.buttons:
            for control in row:
                if control.fields.get("b") == data:
                    return await self.submit(control.action, control.fields)
        raise AssertionError(f"no button sending {data!r}")

    async def say(self, text: str) -> str:
        box = self.page.answer_box
        assert box is not None, f"no answer box on the page: {self.page.text!r}"
        await self.submit(box["action"], {**box["fields"], "text": text})
        return self.page.text

    async def command(self, name: str) -> Page:
        for control in self.page.commands:
            if control.fields.get("cmd") == name:
                return await self.submit(control.action, control.fields)
        raise AssertionError(f"no command {name!r} at the page's foot")

    async def start(self, language: str = "English") -> str:
        """Open the page and, at first contact, choose the language."""
        await self.open("/")
        if any(language in label for label in self.page.labels()):
            await self.press(language)
        return self.page.text
