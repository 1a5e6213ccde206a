"""The retention report against the simulator's hidden truth.

Each seeded run plays a randomised experiment on a simulated retail company (half of the
customers held out at their first contact, the others answered within hours) and also runs the
same company answering everyone and answering no one, which gives the true effect
(:mod:`winback.sim.experiment`). The report's 95 % interval must cover the true effect in at
least 90 % of the runs at each horizon.
"""

from __future__ import annotations

import pytest

from winback.analytics.retention import report
from winback.sim.experiment import run_trial
from winback.sim.generator import SimConfig

SEEDS = range(1, 21)  # 20 runs, 1,500 customers, 90 days each (12-45 s on 2 shared cores)
HORIZONS = (30, 60)


@pytest.mark.slow
def test_the_interval_covers_the_true_effect_in_at_least_90_percent_of_runs() -> None:
    covered = dict.fromkeys(HORIZONS, 0)
    effects = []
    for seed in SEEDS:
        trial = run_trial(SimConfig(industry="retail", customers=1500, seed=seed), 0.5, HORIZONS)
        assert trial.same_exposures  # common random numbers: the potential outcomes pair up
        for row in report(trial.exposures, trial.fates, trial.as_of, horizons=HORIZONS):
            truth = trial.truth[row["days"]]
            effects.append(truth)
            covered[row["days"]] += row["ci_low_points"] <= truth <= row["ci_high_points"]
    for days in HORIZONS:
        assert covered[days] >= 0.9 * len(SEEDS), (days, covered, len(SEEDS))
    # The test has teeth: the effect is far from zero, so "no effect" intervals would miss it.
    assert min(effects) > 3.0
