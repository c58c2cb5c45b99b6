"""Webhook latency under a fixed offered rate, on loopback: one worker (SQLite), two (Redis).

Run by hand: `python benchmarks/bench_webhook.py [--rates 100,200,300,400] [--seconds 5]
[--rounds 8]`.
Starts real `yibao webhook` processes pointed at the in-repo fake Bot API, and an open-loop
load generator: updates are sent on schedule whether or not earlier ones have finished. The
handler replies before the webhook answers (handle_in_background=False), so the time from POST
to the HTTP response bounds the time from POST to the fake Bot API receiving the reply.
Each update is a step of a survey (a poster deep link, then a typed year), so every one reads
and writes the conversation state, renders a template and sends one message.
Prints p50, p99 and max per rate, and the highest rate held with p99 under 100 ms; then, closed
loop (four users answering as fast as replies come), updates per second and the worker's CPU
time per update. The same runs against a bare aiogram echo bot (echo_webhook.py) give the
reference, in the same run. Last, `--rounds` alternating closed-loop rounds compare the worker
CPU per update on Redis and on SQLite, and print the median ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from common import free_port  # this folder is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakes.bot_api import FakeBotAPI  # noqa: E402

SECRET = "bench-secret"
YIBAO = Path(sys.executable).with_name("yibao")
ECHO = Path(__file__).with_name("echo_webhook.py")


async def wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise SystemExit(f"worker on port {port} did not start")


def start_worker(
    port: int, fake: FakeBotAPI, data_dir: Path, redis_url: str | None, echo: bool = False
) -> subprocess.Popen:
    env = {
        **os.environ,
        "BOT_TOKEN": "42:BENCH",
        "TELEGRAM_API_BASE": fake.base_url,
        "WEBHOOK_SECRET": SECRET,
        "CARD_KEYS": secrets.token_urlsafe(32),  # yibao webhook needs one; no card is made here
        "WEBHOOK_PORT": str(port),
        "DATA_DIR": str(data_dir),
        "THROTTLE_RATE": "1000",
        "THROTTLE_BURST": "1000",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    command = [sys.executable, str(ECHO)] if echo else [str(YIBAO), "webhook"]
    return subprocess.Popen(
        command,
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def update(update_id: int, user: int, text: str) -> dict:
    message = {
        "message_id": update_id,
        "date": int(time.time()),
        "text": text,
        "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "C", "language_code": "en"},
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    return {"update_id": update_id, "message": message}


async def offer(urls: list[str], rate: int, seconds: float, first_user: int) -> list[float]:
    """Send rate x seconds updates on schedule; return each one's latency in seconds."""
    count = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def one(i: int) -> None:
            nonlocal errors
            user = first_user + i // 2
            text = "/start xizang-en" if i % 2 == 0 else "2027"
            start = time.perf_counter()
            async with client.post(
                urls[i % len(urls)],
                json=update(first_user + i, user, text),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - start)

        # The two steps of one user go out back to back, in order; users interleave.
        tasks = []
        begin = time.perf_counter()
        for i in range(0, count, 2):
            await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(_pair(one, i)))
        await asyncio.gather(*tasks)
    if errors:
        print(f"  {errors} updates failed")
    return latencies


async def _pair(one, i: int) -> None:
    await one(i)
    await one(i + 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closed_loop(urls: list[str], count: int, first_user: int) -> float:
    """Four users each sending their next update when the last is answered; updates/s."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def user(n: int) -> None:
            for k in range(count // 8):
                uid = first_user + n * 1_000_000 + k
                for step, text in enumerate(("/start xizang-en", "2027")):
                    async with client.post(
                        urls[(n + step) % len(urls)],
                        json=update(uid * 2 + step, uid, text),
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    ) as r:
                        await r.read()
                        if r.status != 200:
                            failed.append(r.status)

        failed: list[int] = []
        start = time.perf_counter()
        await asyncio.gather(*(user(n) for n in range(4)))
        elapsed = time.perf_counter() - start
        if failed:
            print(f"  closed loop: {len(failed)} updates failed")
        return (count // 8) * 8 / elapsed


def describe(rate: int, latencies: list[float]) -> tuple[float, str]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    return p99, (
        f"  offered {rate:>4}/s: {len(ordered)} updates, p50 {p50:6.1f} ms, "
        f"p99 {p99:6.1f} ms, max {ordered[-1] * 1000:6.1f} ms"
    )


async def scenario(
    name: str,
    workers: int,
    redis_url: str | None,
    rates: list[int],
    seconds: float,
    echo: bool = False,
    redis_pid: int | None = None,
) -> int:
    print(name)
    async with FakeBotAPI() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            ports = [free_port() for _ in range(workers)]
            processes = [start_worker(p, fake, Path(tmp), redis_url, echo) for p in ports]
            try:
                for port in ports:
                    await wait_healthy(port)
                urls = [f"http://127.0.0.1:{p}/webhook" for p in ports]
                await offer(urls, 20, 2, 1)  # warm up
                held = 0
                for n, rate in enumerate(rates):
                    latencies = await offer(urls, rate, seconds, 1_000_000 * (n + 2))
                    p99, line = describe(rate, latencies)
                    print(line)
                    if p99 < 100:
                        held = max(held, rate)
                print(f"  highest offered rate with p99 < 100 ms: {held or 'none'}/s")
                before = [cpu_seconds(p.pid) for p in processes]
                server_before = cpu_seconds(redis_pid) if redis_pid else 0.0
                count = int(max(rates) * seconds)
                sent_before = len(fake.sent_messages())
                rate = await closed_loop(urls, count, 90_000_000)
                # Replies the fake Bot API delivered: the same on every store when all were handled.
                replies = len(fake.sent_messages()) - sent_before
                used = sum(cpu_seconds(p.pid) for p in processes) - sum(before)
                updates = count // 8 * 8
                print(
                    f"  closed loop: {rate:,.0f} updates/s, "
                    f"worker CPU {used / updates * 1000:.2f} ms per update "
                    f"({replies:,} replies to {updates:,} updates)"
                )
                if redis_pid:
                    server = cpu_seconds(redis_pid) - server_before
                    per_update = server / updates * 1000
                    print(
                        f"  redis-server CPU {per_update:.3f} ms per update: one Redis core "
                        f"serves about {1000 / per_update:,.0f} updates/s; N workers with a "
                        f"core each hold about N x {1000 / (used / updates * 1000):,.0f}/s "
                        "up to that"
                    )
                return held
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(timeout=30)


async def alternate(rounds: int, count: int, redis_url: str) -> None:
    """Worker CPU per update on Redis against SQLite, in alternating closed-loop rounds of one
    run: one SQLite worker and two Redis workers are all started (an idle worker uses no CPU),
    then each round drives SQLite, then Redis. The machine's load drifts over minutes; rounds
    a few seconds apart see the same, so the median of the rounds' ratios is the figure."""
    print(f"worker CPU per update, {rounds} alternating closed-loop rounds of {count:,} updates")
    async with FakeBotAPI() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_port, *redis_ports = (free_port() for _ in range(3))
            (Path(tmp) / "sqlite").mkdir()
            sqlite = start_worker(sqlite_port, fake, Path(tmp) / "sqlite", None)
            shared = [start_worker(p, fake, Path(tmp), redis_url) for p in redis_ports]
            kinds = {
                "SQLite, one worker": ([sqlite], [sqlite_port]),
                "Redis, two workers": (shared, redis_ports),
            }
            try:
                for port in (sqlite_port, *redis_ports):
                    await wait_healthy(port)
                ratios = []
                user = 200_000_000
                for n in range(rounds + 1):  # the first round warms up, uncounted
                    used = {}
                    for name, (processes, ports) in kinds.items():
                        urls = [f"http://127.0.0.1:{p}/webhook" for p in ports]
                        before = sum(cpu_seconds(p.pid) for p in processes)
                        await closed_loop(urls, count, user)
                        user += 10_000_000
                        spent = sum(cpu_seconds(p.pid) for p in processes) - before
                        used[name] = spent / (count // 8 * 8) * 1000
                    if n:
                        ratio = used["Redis, two workers"] / used["SQLite, one worker"]
                        ratios.append(ratio)
                        print(
                            "  round {}: SQLite {:.2f} ms, Redis {:.2f} ms per update: "
                            "{:.2f}x".format(n, *used.values(), ratio)
                        )
                median = statistics.median(ratios)
                print(
                    f"  Redis / SQLite worker CPU per update: median {median:.2f}x "
                    f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
                )
            finally:
                for process in (sqlite, *shared):
                    process.terminate()
                for process in (sqlite, *shared):
                    process.wait(timeout=30)


async def main(rates: list[int], seconds: float, rounds: int) -> None:
    bare = await scenario("bare aiogram echo bot, one process", 1, None, rates, seconds, True)
    ours = await scenario("one worker, SQLite", 1, None, rates, seconds)
    if bare:
        print(f"one worker against bare aiogram, highest rate held: {ours / bare:.2f}x")
    if not shutil.which("redis-server"):
        print("two workers, Redis: skipped (no redis-server on PATH)")
        return
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        url = f"redis://127.0.0.1:{port}/0"
        await scenario("two workers, Redis", 2, url, rates, seconds, redis_pid=server.pid)
        if rounds:
            await alternate(rounds, 2_000, url)
    finally:
        server.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="100,200,300,400")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rounds", type=int, default=8, help="alternating SQLite/Redis CPU rounds (0: none)"
    )
    args = parser.parse_args()
    asyncio.run(main([int(r) for r in args.rates.split(",")], args.seconds, args.rounds))
