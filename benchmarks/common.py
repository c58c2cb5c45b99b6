"""Code the benchmarks share, standard library only (so that importing it changes no memory or
start-up figure): a realistic ledger (bench_ledger, bench_ledger_memory) and a free loopback port
(bench_state, bench_webhook). Whole surveys through a dispatcher are in surveys.py.

Not a benchmark: scripts import it from this folder, which is on sys.path when a script is run by
hand (`python benchmarks/bench_ledger.py`).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a realistic ledger ---------------------------------------------------------------------------

HEADER = ["id", "region", "benefit_year", "coverage", "payment_date", "group", "repair_years",
          "zero_claim_years", "name"]  # fmt: skip


def write_ledger(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic mix: mostly continuous payers, some breaks, late payments, groups, bad rows."""
    rng = random.Random(seed)
    regions = ["xizang", "西藏", "xizang", "shanxi", "山西", "chongqing", "tianjin", "national"]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for i in range(rows):
            year = rng.choice([2026, 2027, 2027, 2027, 2028])
            breaks = rng.random() < 0.35
            kinds = [
                "none" if breaks and rng.random() < 0.6 else rng.choice(["resident"] * 4 + ["职工"])
                for _ in range(2025, year)
            ]
            payment = ""
            if rng.random() < 0.3:
                day = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(300))
                payment = rng.choice([day.isoformat(), day.strftime("%d.%m.%Y")])
            if rng.random() < 0.01:
                payment = f"{year}-13-01"  # a typo the batch reports and goes past
            writer.writerow([
                f"H{i:07d}",
                rng.choice(regions),
                year,
                ";".join(f"{y}:{k}" for y, k in zip(range(2025, year), kinds, strict=True)),
                payment,
                rng.choice([""] * 9 + ["newborn", "medical_aid", "job_change", "student"]),
                rng.choice(["", "", "", "1", "2"]),
                ";".join(str(y) for y, k in zip(range(2025, year), kinds, strict=True)
                         if k != "none" and rng.random() < 0.5),
                "name not copied",
            ])  # fmt: skip
