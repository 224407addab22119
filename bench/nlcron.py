"""Parse throughput of ``chronoflow.nlcron`` over the phrase table of its unit tests.

Run: ``.venv/bin/python bench/nlcron.py [--rounds 7]``. Prints phrases per second for each round
and the median; the target is above 20,000 per second on one core, so parsing never limits the
API. The table is the one ``tests/unit/nlcron/test_nlcron_phrases.py`` checks, so what is timed
is exactly what is known to be correct.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit" / "nlcron")]

from nlcron_phrases import NOW, PHRASES, ZONE, ZONED_PHRASES

from chronoflow.nlcron import parse

TARGET = 20_000
"""Phrases per second the parser must sustain on one core."""


def run_round(table: list[tuple[str, str]], repeat: int) -> float:
    """Parse the whole table ``repeat`` times; return phrases per second."""
    started = time.perf_counter()
    for _ in range(repeat):
        for phrase, zone in table:
            parse(phrase, zone, NOW)
    elapsed = time.perf_counter() - started
    return len(table) * repeat / elapsed


def main() -> None:
    """Time several rounds and print the median throughput."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    options.add_argument(
        "--repeat", type=int, default=20, help="passes over the table per round (default 20)"
    )
    args = options.parse_args()
    table = [(phrase, ZONE) for _, phrase, _ in PHRASES] + [
        (phrase, zone) for _, phrase, zone, _ in ZONED_PHRASES
    ]
    run_round(table, 1)  # warm-up: imports, zone loading, compiled patterns
    rates = []
    for index in range(args.rounds):
        rate = run_round(table, args.repeat)
        rates.append(rate)
        print(f"round {index + 1}: {rate:,.0f} phrases/s")
    median = statistics.median(rates)
    verdict = "ok" if median >= TARGET else f"BELOW the {TARGET:,} target"
    print(
        f"median: {median:,.0f} phrases/s over {len(table)} phrases x {args.repeat} x {args.rounds} rounds ({verdict})"
    )


if __name__ == "__main__":
    main()
