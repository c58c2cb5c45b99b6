"""Rules core throughput on a realistic mix of profiles, the time to load every policy, and the
`yibao assess` JSON path.

Run by hand: `python benchmarks/bench_rules.py [--profiles 20000] [--rounds 5]`. Prints figures,
no assertions. Rates are per CPU-second (the machine is shared), median and best of the rounds.

- rules core without reuse: every answer computed afresh (the cap memo off, rules.cap_memo);
- rules core with reuse: the cap memo on, emptied before each round;
- `yibao assess`: `run_assess` on a JSON array of 2,000 of the profiles, with step texts in
  English, as one `yibao assess` run does it; the kept cap results and step texts are emptied
  before each round, so a round reuses only what it computed itself. One untimed run first
  compiles the templates and builds the JSON writers, once per process (about 0.2 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable

from bot import assess as assess_cli
from rules import Profile, assess, cap_memo, load_policies
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


def rates(run: Callable[[], int], rounds: int, before: Callable[[], None]) -> tuple[float, float]:
    """Median and best of `rounds` rates (items per CPU-second); `run` returns its item count,
    `before` runs untimed before each round."""
    found = []
    for _ in range(rounds):
        before()
        start = time.process_time()
        count = run()
        found.append(count / (time.process_time() - start))
    return statistics.median(found), max(found)


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

    def core() -> int:
        for profile in profiles:
            assess(profile, policies)
        return len(profiles)

    saved = cap_memo.CAP_MEMO_SIZE
    cap_memo.CAP_MEMO_SIZE = 0
    bare, bare_best = rates(core, args.rounds, cap_memo.clear_cap_memo)
    cap_memo.CAP_MEMO_SIZE = saved
    median, best = rates(core, args.rounds, cap_memo.clear_cap_memo)
    kept = cap_memo.cap_memo_entries()
    print(f"assess(): {len(profiles)} profiles x {args.rounds} rounds, per CPU-second:")
    print(
        f"  without reuse (cap memo off): median {bare:,.0f}/s, best {bare_best:,.0f}/s "
        f"(target 20,000/s: {bare / 20000:.2f}x)"
    )
    print(
        f"  with reuse (cap memo on): median {median:,.0f}/s, best {best:,.0f}/s; cap histories "
        f"computed {kept:,} times, reused {len(profiles) - kept:,} times ({median / bare:.2f}x)"
    )

    sample = json.dumps([p.model_dump(mode="json") for p in profiles[:2000]])

    def cold() -> None:
        cap_memo.clear_cap_memo()
        assess_cli.clear_text_cache()

    def cli() -> int:
        assess_cli.run_assess(sample, policies, TODAY)
        return 2000

    cold()
    start = time.process_time()
    cli()  # compiles the templates, builds the JSON writers
    first = time.process_time() - start
    json_rate, json_best = rates(cli, args.rounds, cold)
    print(
        f"yibao assess JSON path with step texts, 2,000 answers a run: median {json_rate:,.0f}/s, "
        f"best {json_best:,.0f}/s (target 5,000/s: {json_rate / 5000:.2f}x); the process's "
        f"first run: {first:.2f} CPU-s"
    )
    saved_texts = assess_cli.TEXT_CACHE_SIZE
    assess_cli.TEXT_CACHE_SIZE = 0
    uncached, _ = rates(cli, max(1, args.rounds // 2), cold)
    assess_cli.TEXT_CACHE_SIZE = saved_texts
    print(f"  with no step text kept: median {uncached:,.0f}/s")


if __name__ == "__main__":
    main()
