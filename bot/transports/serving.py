"""Serving an aiohttp app until SIGINT/SIGTERM: `yibao webhook` and `yibao web` alike."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import suppress

from aiohttp import web

from bot.settings import SettingsError

# A connection that has not sent a whole request head within this many seconds (of opening, or
# of its last response) is closed: silent or trickling clients cannot hold connections.
IDLE_TIMEOUT = 5.0
BACKLOG = 128  # connections the kernel queues before refusing more


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    port_setting: str,
    shutdown_timeout: float,
    stop: asyncio.Event | None = None,
    started: Callable[[], None] = lambda: None,
) -> None:
    """Serve `app` on `host`:`port` until SIGINT/SIGTERM (or `stop` is set), then stop accepting,
    wait up to `shutdown_timeout` seconds for requests in flight and run the app's on_cleanup.
    `started` runs once listening.

    No access log (people's addresses and deep links are nobody's business here), and a client
    hanging up does not cut its request off half-handled. SettingsError naming `port_setting`
    when the port cannot be had.
    """
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=IDLE_TIMEOUT,
        handler_cancellation=False,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=BACKLOG)
        try:
            await site.start()
        except OSError as error:
            raise SettingsError(
                f"{port_setting}: cannot listen on {host}:{port}: {error.strerror}"
            ) from None
        started()
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
