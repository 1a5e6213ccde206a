"""How often the retention report's interval covers the simulator's true effect.

    PYTHONPATH=src python bench/retention_coverage.py --runs 20 --customers 1500

Prints, per horizon, the covered runs, the mean true effect and the mean interval width
(see winback.sim.experiment for the experiment and its truth).
"""

from __future__ import annotations

import argparse
import statistics
import time

from winback.analytics.retention import report
from winback.sim.experiment import run_trial
from winback.sim.generator import SimConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--industry", default="retail")
    parser.add_argument("--control", type=float, default=0.5)
    args = parser.parse_args()
    horizons = (30, 60)
    found: dict[int, list[tuple[float, float, float, int]]] = {d: [] for d in horizons}
    started = time.perf_counter()
    for seed in range(1, args.runs + 1):
        config = SimConfig(industry=args.industry, customers=args.customers, seed=seed)
        trial = run_trial(config, args.control, horizons)
        for row in report(trial.exposures, trial.fates, trial.as_of, horizons=horizons):
            d = row["days"]
            found[d].append((trial.truth[d], row["ci_low_points"], row["ci_high_points"], row["n"]))
    print(f"{args.runs} runs, {args.industry}, {args.customers} customers, control {args.control}")
    for d, rows in found.items():
        covered = sum(low <= truth <= high for truth, low, high, _ in rows)
        print(
            f"  {d} days: covered {covered}/{len(rows)}; true effect mean "
            f"{statistics.mean(r[0] for r in rows):.2f} points; interval width mean "
            f"{statistics.mean(r[2] - r[1] for r in rows):.2f}; n mean "
            f"{statistics.mean(r[3] for r in rows):.0f}"
        )
    print(f"  {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
