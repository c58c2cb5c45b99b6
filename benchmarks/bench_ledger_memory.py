"""`yibao batch` memory on hostile and large ledgers: peak RSS stays flat whatever the file.

Run by hand: `python benchmarks/bench_ledger_memory.py [--line-mib 1024] [--rows 1000000]`.
Cases, each in a fresh process (peak RSS, ru_maxrss, only ever grows within one):
- line: one row whose cell is `--line-mib` MiB with no line break (refused after 64 KiB);
- field: one 200 KB cell (refused);
- late-gbk: `--rows` good rows, then a GBK-encoded row (refused, naming that row);
- rows/10 and rows: a realistic ledger (benchmarks/bench_ledger.py's mix), assessed in full.
Prints, per case: the outcome (rows, or the error line), seconds, peak RSS and the RSS before the
batch (MiB); for line and field also tracemalloc's peak of Python allocations during the batch;
for a refused batch, any output file it left behind. `--module PATH` measures another ledger.py
instead (say `git show REV:bot/ledger.py`), for before/after figures. No assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

from common import write_ledger  # this folder is on sys.path when run as a script

TODAY = dt.date(2026, 11, 23)
HEADER = b"id,region,benefit_year,coverage,notes\n"


def write_long_line(path: Path, mib: int) -> None:
    """A header, then one row whose last cell is `mib` MiB of letters, no line break."""
    chunk = b"x" * (1 << 20)
    with path.open("wb") as file:
        file.write(HEADER + b"A1,xizang,2027,2025:none,")
        for _ in range(mib):
            file.write(chunk)


def write_field(path: Path, size: int = 200_000) -> None:
    path.write_bytes(HEADER + b"A1,xizang,2027,2025:none," + b"y" * size + b"\n")


def write_late_gbk(path: Path, rows: int) -> None:
    with path.open("wb") as file:
        file.write(HEADER)
        for i in range(rows):
            file.write(f"H{i:07d},xizang,2027,2025:none;2026:resident,\n".encode())
        file.write("B1,西藏,2027,2025:none,\n".encode("gbk"))


def load(module: Path | None) -> ModuleType:
    if module is None:
        import bot.ledger

        return bot.ledger
    spec = importlib.util.spec_from_file_location("measured_ledger", module)
    assert spec and spec.loader
    ledger = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ledger  # dataclasses look their module up there
    spec.loader.exec_module(ledger)
    return ledger


def child(case: str, source: Path, workdir: Path, module: Path | None) -> None:
    """Run one batch in this process and print its figures as JSON."""
    from rules import load_policies

    ledger = load(module)
    policies = load_policies()
    traced = case in ("line", "field")  # tracemalloc slows a long run several times over
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        summary = ledger.run_batch(source, workdir / "result.csv", today=TODAY, policies=policies)
        outcome = f"{summary.rows:,} rows, {summary.errors:,} with errors"
    except Exception as error:  # the old ledger raised csv.Error, MemoryError and others
        outcome = f"refused: {type(error).__name__}: {str(error)[:200]}"
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    left = sorted(p.name for p in workdir.iterdir() if p.name.startswith((".result", "result")))
    if not outcome.startswith("refused"):
        left = []  # the result of a batch that went through is expected
    print(json.dumps({"outcome": outcome, "seconds": seconds, "baseline_kib": baseline,
                      "peak_kib": peak, "traced_peak": traced_peak, "left": left}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--line-mib", type=int, default=1024, help="size of the one-line row")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--module", type=Path, help="a ledger.py to measure instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.source, args.dir, args.module)
        return

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cases = [
            (f"line ({args.line_mib:,} MiB, no line break)", "line", "line.csv",
             lambda p: write_long_line(p, args.line_mib)),
            ("field (200 KB cell)", "field", "field.csv", write_field),
            (f"late-gbk (GBK row after {args.rows:,})", "late-gbk", "gbk.csv",
             lambda p: write_late_gbk(p, args.rows)),
            (f"rows ({max(1, args.rows // 10):,})", "rows", "small.csv",
             lambda p: write_ledger(p, max(1, args.rows // 10))),
            (f"rows ({args.rows:,})", "rows", "large.csv", lambda p: write_ledger(p, args.rows)),
        ]  # fmt: skip
        for title, case, name, write in cases:
            source = workdir / name
            write(source)
            command = [sys.executable, __file__, "--child", case, "--source", str(source),
                       "--dir", str(workdir)]  # fmt: skip
            if args.module:
                command += ["--module", str(args.module.resolve())]
            done = subprocess.run(command, capture_output=True, text=True, cwd=root)
            source.unlink()
            if done.returncode:
                print(f"{title}: the process ended with {done.returncode}: "
                      f"{done.stderr.strip().splitlines()[-1:]}")  # fmt: skip
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            traced = result["traced_peak"]
            print(
                f"{title}: {result['outcome']}; {result['seconds']:.2f} s, peak RSS "
                f"{result['peak_kib'] / 1024:.1f} MiB (before the batch "
                f"{result['baseline_kib'] / 1024:.1f} MiB)"
                + (f", tracemalloc peak {traced / 1024 / 1024:.2f} MiB" if traced else "")
                + (f"; files left: {', '.join(result['left'])}" if result["left"] else "")
            )
            for leftover in workdir.glob("*result*"):
                leftover.unlink()


if __name__ == "__main__":
    main()
