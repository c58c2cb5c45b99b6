"""A citizen talking to webhook servers over real HTTP, reading replies from the fake Bot API."""

from __future__ import annotations

import itertools
import time
from typing import Any

import aiohttp

from fakes.bot_api import FakeBotAPI

_update_ids = itertools.count(1)


class HttpCitizen:
    """Posts Telegram updates to one or more webhook URLs in turn, as one private-chat user."""

    def __init__(
        self,
        fake: FakeBotAPI,
        client: aiohttp.ClientSession,
        urls: list[str],
        secret: str,
        user_id: int = 501,
        language: str = "en",
    ) -> None:
        self.fake, self.client, self.secret = fake, client, secret
        self._urls = itertools.cycle(urls)
        self.user = {
            "id": user_id,
            "is_bot": False,
            "first_name": "Citizen",
            "language_code": language,
        }
        self.chat = {"id": user_id, "type": "private"}

    async def post(self, update: dict[str, Any]) -> int:
        update = {"update_id": next(_update_ids), **update}
        async with self.client.post(
            next(self._urls), json=update, headers={"X-Telegram-Bot-Api-Secret-Token": self.secret}
        ) as response:
            return response.status

    def message_update(self, text: str) -> dict[str, Any]:
        """The update of `text` sent in the private chat, with its update_id (not posted)."""
        message = {
            "message_id": next(_update_ids),
            "date": int(time.time()),
            "chat": self.chat,
            "from": self.user,
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return {"update_id": next(_update_ids), "message": message}

    async def say(self, text: str) -> str:
        assert await self.post(self.message_update(text)) == 200
        return self.last_text

    async def start(self, language: str = "English") -> str:
        """Send /start and, at first contact, choose the language."""
        await self.say("/start")
        _, markup = self._last_with_buttons()
        if any(language in b["text"] for row in markup["inline_keyboard"] for b in row):
            await self.press(language)
        return self.last_text

    async def answer_none_to_the_end(self) -> str:
        """From after the payment question: "None" (or Done) until the summary, then the result."""
        for _ in range(10):
            if "Your answers" in self.last_text:
                break
            await self.press("Done" if "pay nothing" in self.last_text else "None")
        return await self.press("Show my result")

    def press_update(self, label: str) -> dict[str, Any]:
        """The update of a press on the newest button labelled `label` (not posted)."""
        message_id, markup = self._last_with_buttons()
        buttons = [b for row in markup["inline_keyboard"] for b in row]
        matches = [b for b in buttons if b["text"] == label] or [
            b for b in buttons if label in b["text"]
        ]
        assert matches, f"no button {label!r} in {[b['text'] for b in buttons]}"
        query = {
            "id": str(next(_update_ids)),
            "from": self.user,
            "chat_instance": "ci",
            "data": matches[0]["callback_data"],
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self.chat,
                "text": "...",
            },
        }
        return {"update_id": next(_update_ids), "callback_query": query}

    async def press(self, label: str) -> str:
        assert await self.post(self.press_update(label)) == 200
        return self.last_text

    def _messages(self) -> dict[int, dict[str, Any]]:
        """This chat's messages by id as they stand now: sent, then edited."""
        messages: dict[int, dict[str, Any]] = {}
        for call in self.fake.calls:
            if str(call.params.get("chat_id")) != str(self.chat["id"]) or call.outcome == "error":
                continue
            if call.method == "sendMessage" and isinstance(call.result, dict):
                messages[call.result["message_id"]] = {
                    "text": call.params.get("text", ""),
                    "markup": call.params.get("reply_markup"),
                }
            elif call.method in ("editMessageReplyMarkup", "editMessageText"):
                entry = messages.setdefault(int(call.params["message_id"]), {"text": ""})
                entry["markup"] = call.params.get("reply_markup")
                entry["text"] = call.params.get("text", entry["text"])
        return messages

    def _last_with_buttons(self) -> tuple[int, dict[str, Any]]:
        for message_id, message in sorted(self._messages().items(), reverse=True):
            if message.get("markup"):
                return message_id, message["markup"]
        raise AssertionError("no message with buttons")

    @property
    def texts(self) -> list[str]:
        return [m["text"] for _, m in sorted(self._messages().items())]

    @property
    def last_text(self) -> str:
        return self.texts[-1] if self.texts else ""


async def survey_to_result(person: HttpCitizen, region: str = "Xizang") -> str:
    """A whole survey, as in the e2e tests: /start to the first answer."""
    await person.start()
    await person.press(region)
    await person.say("2027")
    await person.press("None")
    await person.press("None of these")
    await person.press("Done")
    if "paid late" in person.last_text:
        await person.press("No, on time")
    if "pay nothing" not in person.last_text and "How many" not in person.last_text:
        await person.press("Within the payment period")
    return await person.answer_none_to_the_end()
