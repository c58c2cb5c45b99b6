"""`yibao web`: serve the conversation as a web page on WEB_HOST:WEB_PORT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli import Commands
    from bot.web.settings import WebSettings

logger = logging.getLogger("yibao.web")

SHUTDOWN_TIMEOUT = 10.0


async def run_web(settings: WebSettings, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or `stop` is set). SettingsError for a bad setting, a
    damaged state file, an unreachable Redis or a port that cannot be had."""
    from bot.transports.serving import serve
    from bot.web.app import create_web_app, open_store

    key = settings.session_key()
    storage = await open_store(settings)
    app = create_web_app(settings, storage, key)  # its on_cleanup closes the store

    def started() -> None:
        host = f"[{settings.web_host}]" if ":" in settings.web_host else settings.web_host
        print(f"yibao web: open http://{host}:{settings.web_port}/", file=sys.stderr, flush=True)

    await serve(
        app,
        settings.web_host,
        settings.web_port,
        port_setting="WEB_PORT",
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        stop=stop,
        started=started,
    )


def _web(args: argparse.Namespace) -> int:
    """`yibao web`: a bad setting is one line on stderr and exit code 2."""
    from bot.settings import SettingsError
    from bot.web.settings import load_web_settings
    from rules import PolicyError, load_policies

    logging.basicConfig(level=logging.INFO)
    try:
        overrides = {}
        if args.host is not None:
            overrides["web_host"] = args.host
        if args.port is not None:
            overrides["web_port"] = args.port
        settings = load_web_settings(**overrides)
        load_policies(settings.policy_overrides)  # before the store is opened
        asyncio.run(run_web(settings))
    except SettingsError as error:
        print(f"yibao web: {error}", file=sys.stderr)
        return 2
    except PolicyError as error:
        print(f"yibao web: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
    return 0


def add_cli(subparsers: Commands) -> None:
    """Add `web` to the `yibao` command's subparsers; its `handler` returns the exit code."""
    parser = subparsers.add_parser(
        "web", help="serve the assistant as a web page (no Telegram needed)"
    )
    parser.add_argument("--host", help="address to listen on (default: $WEB_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: $WEB_PORT or 8081)")
    parser.set_defaults(handler=_web)
