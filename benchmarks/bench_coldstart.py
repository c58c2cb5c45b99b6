"""Cold start of `yibao chat`: from launch to the first prompt on the terminal.

Run by hand: `python benchmarks/bench_coldstart.py [--runs 5]`. Starts the real console script
with a pipe and times until the first button line appears; also times `import aiogram` alone,
the floor no code of ours can go under. Prints figures, no asserts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

YIBAO = Path(sys.executable).with_name("yibao")


def first_prompt() -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(YIBAO), "chat", "--lang", "en"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        if line.startswith("[1]"):
            elapsed = time.perf_counter() - start
            break
    else:
        raise SystemExit("no prompt appeared")
    process.stdin.close()
    process.wait(timeout=30)
    return elapsed


def import_time(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def main(runs: int) -> None:
    prompts = [first_prompt() for _ in range(runs)]
    imports = [import_time("aiogram") for _ in range(runs)]
    python = [import_time("sys") for _ in range(runs)]
    print(
        f"yibao chat, launch to first prompt: median {statistics.median(prompts):.2f} s "
        f"(target < 1 s)"
    )
    print(f"python -c 'import aiogram' alone: median {statistics.median(imports):.2f} s")
    print(f"python start-up alone: median {statistics.median(python):.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
