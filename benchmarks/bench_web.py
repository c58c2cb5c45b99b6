"""The web page (`yibao web`): page weight and time to first byte, on loopback.

Run by hand: `python benchmarks/bench_web.py [--requests 300]`.
Starts a real `python -m bot.web` process on a free port with a fresh DATA_DIR, then:

- page weight: the bytes of each kind of page a survey shows (the language choice, a question
  with its answer box, marked years, the summary, the answer, its reasons), per language, and
  what they would weigh gzipped (the pages load nothing else: no script, no image, no font
  file, an inline style sheet);
- time to first byte: from sending a request to its response's status line and headers, for
  a page opened again (GET /, which reads and claims as a post does) and for a form sent
  (POST /, a year marked and unmarked: one read, one write), one request at a time, as one
  person on a phone would; p50, p95 and max over `--requests`.

Prints figures, asserts nothing (speed is never a test). Targets: under 60 KB a page without
fonts, first byte under 50 ms locally.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import html
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from common import free_port  # this folder is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
LOCALES = {"en": "en-US", "zh_Hans": "zh-CN", "bo": "bo"}
FORM = re.compile(r'name="form" value="([^"]+)"')
BUTTON = re.compile(r'name="b" value="([^"]+)"')


class Visitor:
    """One browser: its cookies, the page it shows, and a press of a button by its data."""

    def __init__(self, base: str, accept: str = "en") -> None:
        self.base = base
        self.client = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Accept-Language": accept}
        )
        self.html = ""

    async def open(self, path: str = "") -> str:
        async with self.client.get(self.base + path) as response:
            self.html = await response.text()
        return self.html

    def values(self) -> list[str]:
        return [html.unescape(v) for v in BUTTON.findall(self.html)]

    def fields(self, value: str) -> dict[str, str]:
        return {"form": html.unescape(FORM.findall(self.html)[0]), "b": value}

    async def press(self, prefix: str) -> str:
        value = next((v for v in self.values() if v.startswith(prefix)), None)
        if value is None:
            raise SystemExit(f"no button {prefix!r} on the page")
        async with self.client.post(self.base, data=self.fields(value)) as response:
            self.html = await response.text()
        return self.html

    async def close(self) -> None:
        await self.client.close()


async def wait_up(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            try:
                async with client.get(base + "healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("yibao web did not start")


def size(page: str) -> int:
    return len(page.encode())


async def weights(base: str, locale: str, accept: str) -> dict[str, int]:
    """Bytes of each kind of page on the way to an answer and its reasons."""
    sizes: dict[str, int] = {}
    person = Visitor(base, accept)
    try:
        sizes["languages"] = size(await person.open())
        await person.press(f"l:{locale}")
        sizes["question + answer box"] = size(await person.press("p:region:xizang"))
        await person.press("p:benefit_year:2027")
        await person.press("p:insurance:none")
        await person.press("p:group:none")
        sizes["years marked"] = size(await person.press("p:paid_years:2025"))
        await person.press("n:done:paid_years")
        later = ("p:late_year:on_time", "p:payment:period", "n:done:", "p:repair_years:0")
        for _ in range(12):
            values = person.values()
            if "n:result:" in values:
                break
            await person.press(next(w for w in later if any(v.startswith(w) for v in values)))
        sizes["summary"] = size(person.html)
        answer = await person.press("n:result:")
        sizes["answer"] = size(answer)
        sizes["answer, gzipped"] = len(gzip.compress(answer.encode()))
        sizes["reasons (Why?)"] = size(await person.press("n:why:"))
    finally:
        await person.close()
    return sizes


async def first_bytes(base: str, requests: int) -> tuple[list[float], list[float]]:
    """Milliseconds to the response head: pages opened again, and forms sent."""
    gets: list[float] = []
    posts: list[float] = []
    person = Visitor(base)
    try:
        await person.open("?start=xizang-en")
        for value in ("p:benefit_year:2027", "p:insurance:none", "p:group:none"):
            await person.press(value)
        for _ in range(requests):
            started = time.perf_counter()
            async with person.client.get(base) as response:
                gets.append((time.perf_counter() - started) * 1000)
                await response.read()
            fields = person.fields("p:paid_years:2025")
            started = time.perf_counter()
            async with person.client.post(base, data=fields) as response:
                posts.append((time.perf_counter() - started) * 1000)
                person.html = await response.text()
    finally:
        await person.close()
    return gets, posts


def describe(name: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[max(0, int(len(values) * 0.95) - 1)]
    return (
        f"  {name:<34} p50 {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms"
        f"   max {values[-1]:6.2f} ms"
    )


async def run(args: argparse.Namespace, base: str) -> None:
    await wait_up(base)
    print("page weight (bytes, HTML: everything the page loads):")
    for locale, accept in LOCALES.items():
        sizes = await weights(base, locale, accept)
        print(f"  {locale}:")
        for kind, size in sizes.items():
            print(f"    {kind:<24} {size:7,d} ({size / 1024:.1f} KB)")
    gets, posts = await first_bytes(base, args.requests)
    print(f"time to first byte, one request at a time, {args.requests} each (SQLite):")
    print(describe("GET / (page opened again)", gets))
    print(describe("POST / (a year marked)", posts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "DATA_DIR": folder, "WEB_PORT": str(port), "PYTHONPATH": str(ROOT)}
        for name in ("REDIS_URL", "WEB_SESSION_KEY", "WEB_VOLUNTEER_TOKEN"):
            env.pop(name, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.web"], env=env, cwd=folder, stderr=subprocess.DEVNULL
        )
        try:
            asyncio.run(run(args, f"http://127.0.0.1:{port}/"))
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
