"""A bare aiogram echo bot on a webhook: the reference bench_webhook.py holds yibao against.

Started by bench_webhook.py with BOT_TOKEN, TELEGRAM_API_BASE, WEBHOOK_SECRET and WEBHOOK_PORT
set. Stock aiogram throughout: its aiohttp session, SimpleRequestHandler, no storage, one handler
that sends the text back.
"""

from __future__ import annotations

import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web


async def echo(message: Message) -> None:
    await message.answer(message.text or "")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    dispatcher = Dispatcher()
    dispatcher.message.register(echo)
    api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"])
    bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=api))
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    SimpleRequestHandler(
        dispatcher, bot, secret_token=os.environ["WEBHOOK_SECRET"], handle_in_background=False
    ).register(app, path="/webhook")
    web.run_app(
        app, host="127.0.0.1", port=int(os.environ["WEBHOOK_PORT"]), print=None, access_log=None
    )


if __name__ == "__main__":
    main()
