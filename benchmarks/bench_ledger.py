"""`yibao batch` throughput and peak memory, at two ledger sizes to show memory stays flat.

Run by hand: `python benchmarks/bench_ledger.py [--rows 1000000]` (measures rows/10 and rows).
Prints figures, no assertions.
Each size runs in a fresh process, as peak RSS (ru_maxrss) only ever grows within one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_ledger  # this folder is on sys.path when run as a script

TODAY = dt.date(2026, 11, 23)


def child(rows: int, workdir: Path) -> None:
    """Measure one size in this process and print the figures as JSON."""
    from bot.ledger import run_batch
    from rules import load_policies

    source = workdir / f"ledger-{rows}.csv"
    write_ledger(source, rows)
    policies = load_policies()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu = time.perf_counter(), time.process_time()
    summary = run_batch(source, workdir / f"result-{rows}.csv", today=TODAY, policies=policies)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"rows": summary.rows, "errors": summary.errors, "seconds": seconds,
                      "cpu": cpu,
                      "reused": summary.reused,
                      "baseline_kib": baseline, "peak_kib": peak}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return

    root = Path(__file__).resolve().parents[1]
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for rows in (max(1, args.rows // 10), args.rows):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(rows), "--dir", workdir],
                capture_output=True, text=True, check=True, cwd=root,
            )  # fmt: skip
            result = json.loads(done.stdout)
            results.append(result)
            print(
                f"{result['rows']:>9,} rows ({result['errors']:,} with errors, "
                f"{result['reused'] / result['rows']:.0%} answers reused from an equal row): "
                f"{result['rows'] / result['seconds']:,.0f} rows/s, {result['seconds']:.1f} s "
                f"({result['rows'] / result['cpu']:,.0f} rows per CPU-second); "
                f"peak RSS {result['peak_kib'] / 1024:.1f} MiB "
                f"(before the batch {result['baseline_kib'] / 1024:.1f} MiB)"
            )
    small, large = results
    growth = [(r["peak_kib"] - r["baseline_kib"]) / 1024 for r in results]
    print(
        f"{large['rows'] // small['rows']}x the rows: peak RSS ratio "
        f"{large['peak_kib'] / small['peak_kib']:.2f}, growth during the batch "
        f"{growth[0]:.1f} -> {growth[1]:.1f} MiB"
    )


if __name__ == "__main__":
    main()
