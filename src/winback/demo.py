"""``winback demo``: a simulated company's events streamed into a live server.

The stream comes from the company simulator (:mod:`winback.sim.live`): seeded customers with
usage, renewals, failures, outages, complaints, surveys, reviews and churn, sent over HTTP to
the running server at a pace a person can follow, with a running summary.
"""

from __future__ import annotations

from winback.sim.live import DemoCompany, demo_events, stream, summarize

__all__ = ["DemoCompany", "demo_events", "stream", "summarize"]
