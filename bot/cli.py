"""The `yibao` command: the assistant in a terminal, the bot's transports, `assess` and `policy`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sys
from typing import Any, Protocol

from bot.i18n import LOCALES
from rules import PolicyError, load_policies


class Commands(Protocol):
    """`yibao`'s sub-commands, as each module's add_cli adds its own: what
    ArgumentParser.add_subparsers() returns, whose class argparse keeps private."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def _assess(args: argparse.Namespace) -> int:
    from bot.assess import InputError, run_assess

    try:
        policies = load_policies(args.overrides)
        print(run_assess(sys.stdin.read(), policies, dt.date.today(), args.locale))
    except InputError as error:
        print(f"yibao assess: {error}", file=sys.stderr)
        return 2
    except PolicyError as error:
        print(f"yibao assess: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    return 0


def _chat(args: argparse.Namespace) -> int:
    """`yibao chat`: the conversation in this terminal."""
    from bot.settings import load_settings

    settings = load_settings()
    load_policies(settings.policy_overrides)  # a bad POLICY_OVERRIDES stops it before any output
    from bot.i18n import client_locale
    from bot.render import render_macro
    from bot.transports.screen import client_language_code
    from bot.transports.terminal import run_terminal  # the conversation core: no aiogram

    locale = client_locale(client_language_code(args.lang), settings.default_locale)
    print(render_macro("messages.j2", "text", locale, "terminal_hint"), file=sys.stderr)
    return asyncio.run(run_terminal(settings, sys.stdin, sys.stdout, args.lang))


def _run(args: argparse.Namespace) -> int:
    """`yibao run`: long polling."""
    from bot.settings import load_settings

    settings = load_settings()
    settings.require_token()  # before the slow aiogram import, so a mistake shows at once
    load_policies(settings.policy_overrides)  # and before the state file or Telegram is opened
    from bot.transports.polling import run_polling

    asyncio.run(run_polling(settings))
    return 0


def _webhook(args: argparse.Namespace) -> int:
    """`yibao webhook`: the webhook server."""
    from bot.settings import load_settings

    settings = load_settings()
    settings.require_token()
    load_policies(settings.policy_overrides)
    from bot.transports.webhook import run_webhook

    asyncio.run(run_webhook(settings))
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run a settings-driven command: a bad setting is one line on stderr and exit code 2."""
    from bot.settings import SettingsError

    logging.basicConfig(level=logging.WARNING if args.command == "chat" else logging.INFO)
    try:
        return int(args.serve(args))
    except SettingsError as error:
        print(f"yibao: {error}", file=sys.stderr)
        return 2
    except PolicyError as error:  # POLICY_OVERRIDES names a file that cannot be used
        print(f"yibao: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)  # the shell prompt goes below the echoed ^C
        return 0


def _explain(args: argparse.Namespace) -> int:
    """`yibao explain CODE`: the answer behind a check code, opened with CARD_KEYS."""
    from bot.cards import explain_text, unverifiable_text
    from bot.checkcode import InvalidCode, UnverifiableCode, keyring
    from bot.render import render_macro
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"yibao explain: {error}", file=sys.stderr)
        return 2
    if settings.card_keys is None:
        print(
            "yibao explain: CARD_KEYS is not set: put the bot's card keys in the environment or"
            " in .env (a code made without them can be checked only in the session that made it)",
            file=sys.stderr,
        )
        return 2
    try:
        keys = keyring(settings)
        print(explain_text(args.code, load_policies(args.overrides), args.locale, keys))
    except UnverifiableCode:
        print(unverifiable_text(args.locale), file=sys.stderr)
        return 2
    except InvalidCode:
        print(render_macro("messages.j2", "text", args.locale, "bad_code"), file=sys.stderr)
        return 2
    except PolicyError as error:
        print(f"yibao explain: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    return 0


def _card_key(args: argparse.Namespace) -> int:
    """`yibao card-key`: a fresh random key for CARD_KEYS, on standard output."""
    import secrets

    from bot.settings import CARD_KEY_BYTES

    print(secrets.token_urlsafe(CARD_KEY_BYTES))
    return 0


def _policy_show(args: argparse.Namespace) -> int:
    """`yibao policy show REGION`: the policy book, every value beside the words it encodes."""
    from bot.render import render
    from rules.book import book

    try:
        policies = load_policies(args.overrides)
    except PolicyError as error:
        print(f"yibao policy show: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    if args.region not in policies:
        known = ", ".join(policies)
        print(
            f"yibao policy show: unknown region {args.region!r} (known: {known})", file=sys.stderr
        )
        return 2
    print(render("policy_book.j2", args.locale, b=book(policies[args.region], dt.date.today())))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yibao", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    assess = commands.add_parser("assess", help="assess JSON profiles read from standard input")
    assess.add_argument("--locale", default="en", choices=LOCALES)
    assess.add_argument(
        "--overrides",
        default=os.environ.get("POLICY_OVERRIDES") or None,
        help="a deployment's policy values (YAML); default $POLICY_OVERRIDES",
    )
    assess.set_defaults(handler=_assess)
    chat = commands.add_parser("chat", help="talk to the assistant in this terminal, offline")
    chat.add_argument("--lang", metavar="CODE", help="your language code (default: $LANG)")
    chat.set_defaults(handler=_serve, serve=_chat)
    run = commands.add_parser("run", help="run the Telegram bot with long polling")
    run.set_defaults(handler=_serve, serve=_run)
    webhook = commands.add_parser("webhook", help="serve the Telegram bot's webhook")
    webhook.set_defaults(handler=_serve, serve=_webhook)
    explain = commands.add_parser("explain", help="reproduce the answer behind a check code")
    explain.add_argument("code", help="the check code printed on an answer card")
    explain.add_argument("--locale", default="en", choices=LOCALES)
    explain.add_argument("--overrides", default=os.environ.get("POLICY_OVERRIDES") or None)
    explain.set_defaults(handler=_explain)
    card_key = commands.add_parser(
        "card-key", help="print a fresh random key for CARD_KEYS (the check codes' key)"
    )
    card_key.set_defaults(handler=_card_key)
    policy = commands.add_parser("policy", help="the policy documents as encoded")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    show = policy_commands.add_parser(
        "show", help="print a policy's book: each value with its clause and the words it encodes"
    )
    show.add_argument("region", help="xizang, shanxi, chongqing, tianjin, national or xizang-aid")
    show.add_argument("--locale", default="en", choices=LOCALES)
    show.add_argument("--overrides", default=os.environ.get("POLICY_OVERRIDES") or None)
    show.set_defaults(handler=_policy_show)
    from bot.campaign.cli import add_cli as add_stats
    from bot.ledger import add_cli as add_batch
    from bot.poster import add_cli as add_poster
    from bot.web.cli import add_cli as add_web

    add_batch(commands)
    add_poster(commands)
    add_stats(commands)
    add_web(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
