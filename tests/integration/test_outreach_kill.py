"""Kill -9 of the relay during delivery (a few trials; ``bench/relay_kill.py`` runs 20): no
message lost; a repeat only in the window between the SMTP server accepting a message and the
relay recording it, always with the same Message-ID; each customer's messages in order."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "relay_kill.py"


def harness() -> Any:
    spec = importlib.util.spec_from_file_location("relay_kill", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_killing_the_relay_mid_delivery_loses_nothing_and_repeats_only_in_the_window(
    database_url: str,
) -> None:
    result = harness().run_trials(
        database_url, trials=3, messages=150, customer_count=15, seed=3, timeout=60
    )
    assert result["lost"] == []
    assert result["repeats_with_another_message_id"] == []
    assert result["repeats_outside_the_window"] == []
    assert result["customers_out_of_order"] == []
    assert result["accepted_by_smtp"] == 150 + result["repeated_copies"]
    # Every kill landed while the relay was delivering (after the first message, before the
    # last): the trials did test the window.
    assert all(0 < n < 150 for n in result["kills_at_accepted"])
    print(f"\nrelay kill: {result['repeats']} repeat(s) over {result['trials']} kills")
