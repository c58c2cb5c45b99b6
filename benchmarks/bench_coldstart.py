"""Cold start of `yibao chat`: the greeting, then the replies to the first presses.

Run by hand: `python benchmarks/bench_coldstart.py [--runs 5] [--read 1.5]`. Starts the real
console script with pipes, as a person would use it, and times:

- the greeting: from launch until its buttons appear;
- the first tap ("1": a language) when the person types it `--read` seconds after the greeting,
  from the moment the line is written until the reply's buttons (the region question) appear;
- the same when "1" is already waiting on stdin at launch (the worst case: nothing to hide the
  loading behind), from the greeting and from launch;
- the second tap (a region) `--read` seconds after the first reply: the first one that needs
  the real dispatcher, hence aiogram, loaded;
- `import aiogram` alone, the floor no code of ours can go under, and python's start-up.

Prints figures (medians of `--runs`), no asserts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

YIBAO = Path(sys.executable).with_name("yibao")


def _next_buttons(stdout: IO[str]) -> float:
    """Read until the next line with a first button; the time it appeared."""
    for line in stdout:
        if line.startswith("[1]"):
            return time.perf_counter()
    raise SystemExit("no buttons appeared")


def conversation(read: float | None) -> dict[str, float]:
    """One `yibao chat`: greeting, then "1" `read` s later (None: waiting at launch), then "1"."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(YIBAO), "chat", "--lang", "en"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert process.stdin and process.stdout
    if read is None:
        process.stdin.write("1\n")
        process.stdin.flush()
    greeting = _next_buttons(process.stdout)
    figures = {"greeting": greeting - start}
    if read is None:
        figures["first tap, typed ahead, from greeting"] = _next_buttons(process.stdout) - greeting
        figures["first tap, typed ahead, from launch"] = time.perf_counter() - start
    else:
        time.sleep(read)
        written = time.perf_counter()
        process.stdin.write("1\n")
        process.stdin.flush()
        reply = _next_buttons(process.stdout)
        figures["first tap"] = reply - written
        time.sleep(read)
        written = time.perf_counter()
        process.stdin.write("1\n")
        process.stdin.flush()
        figures["second tap"] = _next_buttons(process.stdout) - written
    process.stdin.close()
    process.wait(timeout=60)
    return figures


def import_time(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def main(runs: int, read: float) -> None:
    rows: dict[str, list[float]] = {}
    for _ in range(runs):
        for delay in (read, None):
            for name, value in conversation(delay).items():
                rows.setdefault(name, []).append(value)
    rows["python -c 'import aiogram' alone"] = [import_time("aiogram") for _ in range(runs)]
    rows["python start-up alone"] = [import_time("sys") for _ in range(runs)]
    print(f"yibao chat --lang en, {runs} runs, a person reading {read} s before each tap:")
    for name, values in rows.items():
        spread = " ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<40} median {statistics.median(values):5.2f} s   ({spread})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--read", type=float, default=1.5, help="seconds before each tap")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.read)
