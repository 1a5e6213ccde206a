"""``winback demo``: a simulated company's events streamed into a live server, and a simulated
team working the cases.

The stream comes from the company simulator (:mod:`winback.sim.live`): seeded customers with
usage, renewals, failures, outages, complaints, surveys, reviews and churn, sent over HTTP to
the running server at a pace a person can follow, with a running summary. The demo's own
configuration (:data:`DEMO_CONFIG`: a four-agent team and SLA targets of minutes, so clocks warn
and breach while a newcomer watches) is copied next to the database, where it can be edited.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from winback.sim.live import DemoCompany, demo_events, stream, summarize
from winback.sim.team import DemoTeam

DEMO_CONFIG = Path(__file__).parent / "sim" / "demo_config"
# The roster's agents the simulated team works as; the first agent is left to the person.
PERSON_AGENT = "ana"
TEAM_AGENTS = ("ben", "chloe", "dev")
LEAD = "lea"


def write_demo_config(target: Path) -> Path:
    """A fresh copy of the demo's configuration in ``target`` (replacing what was there)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(DEMO_CONFIG, target)
    return target


__all__ = [
    "DEMO_CONFIG",
    "LEAD",
    "PERSON_AGENT",
    "TEAM_AGENTS",
    "DemoCompany",
    "DemoTeam",
    "demo_events",
    "stream",
    "summarize",
    "write_demo_config",
]
