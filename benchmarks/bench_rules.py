"""Rules core throughput on a realistic mix of profiles, and the time to load every policy.

Run by hand: `python benchmarks/bench_rules.py [--profiles 20000]`. Prints figures, no assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time

from rules import Profile, assess, engine, load_policies
from rules import policy as policy_module

TODAY = dt.date(2026, 11, 23)


def realistic_mix(count: int, seed: int = 7) -> list[Profile]:
    """Mostly continuous payers, some with breaks, off-period payments, groups and claims."""
    rng = random.Random(seed)
    regions = ["xizang"] * 3 + ["shanxi"] * 2 + ["chongqing", "tianjin", "national"]
    profiles = []
    for _ in range(count):
        year = rng.choice([2026, 2027, 2027, 2027, 2028, 2029])
        kind = rng.random()
        coverage = {}
        for y in range(2025, year):
            missed = kind < 0.35 and rng.random() < 0.6
            coverage[y] = "none" if missed else rng.choice(["resident"] * 4 + ["employee"])
        covered = [y for y, c in coverage.items() if c != "none"]
        payment = None
        if rng.random() < 0.3:
            payment = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(0, 300))
        profiles.append(
            Profile(
                region=rng.choice(regions),
                benefit_year=year,
                coverage=coverage,
                payment_date=payment,
                repair_years=rng.choice([0, 0, 0, 1, 2]),
                group=rng.choice([None] * 9 + ["newborn", "medical_aid", "job_change", "student"]),
                zero_claim_years=[y for y in covered if rng.random() < 0.5],
                today=TODAY,
            )
        )
    return profiles


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    loads = []
    for _ in range(args.rounds):
        policy_module._packaged.cache_clear()
        start = time.perf_counter()
        load_policies()
        loads.append(time.perf_counter() - start)
    policies = load_policies()
    load_ms = statistics.median(loads) * 1000
    print(f"policy load (6 documents, YAML + validation): median {load_ms:.1f} ms")

    profiles = realistic_mix(args.profiles)

    def rounds() -> tuple[float, float]:
        """Median and best rate; every round starts with no cap history kept."""
        rates = []
        for _ in range(args.rounds):
            engine.clear_cap_memo()
            start = time.process_time()
            for profile in profiles:
                assess(profile, policies)
            rates.append(len(profiles) / (time.process_time() - start))
        return statistics.median(rates), max(rates)

    saved = engine.CAP_MEMO_SIZE
    engine.CAP_MEMO_SIZE = 0
    bare, _ = rounds()
    engine.CAP_MEMO_SIZE = saved
    median, best = rounds()
    kept = engine.cap_memo_entries()
    print(
        f"assess(): {len(profiles)} profiles x {args.rounds} rounds, per CPU-second: "
        f"median {median:,.0f}/s, best {best:,.0f}/s (target 20,000/s: {median / 20000:.2f}x); "
        f"cap histories computed {kept:,} times, reused {len(profiles) - kept:,} times"
    )
    print(f"  with no cap history kept: median {bare:,.0f}/s (reuse gains {median / bare:.2f}x)")

    from bot.assess import run_assess

    sample = [p.model_dump(mode="json") for p in profiles[:2000]]
    start = time.perf_counter()
    run_assess(json.dumps(sample), policies, TODAY)
    json_rate = len(sample) / (time.perf_counter() - start)
    print(
        f"yibao assess JSON path with step texts: {json_rate:,.0f}/s "
        f"({json_rate / median:.2f}x of assess())"
    )


if __name__ == "__main__":
    main()
