"""A simulated support team for ``winback demo``: agents who work their cases as people would.

The demo's agents (``demo_config/agents.yaml``) get cases from routing; this team picks each one
up after a human-like pause, acknowledges and replies, offers the remedy the policy recommends
(one above an agent's limit goes to the lead, who approves it a little later), and resolves with
an outcome and a root cause. Some cases are left alone on purpose, so that the SLA clocks warn and
breach where a newcomer can see it. One agent of the roster is left to the person at the console.

Everything goes through the application layer the API and the console use
(:mod:`winback.services`), as the agent it names; pauses are real seconds (the demo's clock).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from winback.bootstrap import Runtime
from winback.errors import WinbackError
from winback.identity import Principal
from winback.services.cases import perform_action
from winback.services.remedies import perform_remedy_action, recommendations
from winback.store import queries

# Seconds after a case reaches an agent before each step, per case between (low, high).
PICKUP = (8.0, 40.0)
REMEDY = (20.0, 60.0)
APPROVE = (15.0, 40.0)
RESOLVE = (60.0, 180.0)
IDLE_SHARE = 0.2  # the cases nobody touches, so the SLA clocks warn and breach

OUTCOMES = {
    "billing": ("charge corrected", "billing error"),
    "delivery": ("parcel re-sent", "courier delay"),
    "technical": ("fixed and confirmed with the customer", "software defect"),
    "wait_time": ("answered and apologised", "understaffed queue"),
    "product_quality": ("replacement sent", "faulty batch"),
    "staff_behaviour": ("apologised; coaching booked", "agent conduct"),
}


def _share(case_id: int, salt: str) -> float:
    """A stable number in [0, 1) per case and step: the same demo, the same rhythm."""
    digest = hashlib.blake2b(f"{case_id}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _after(case_id: int, salt: str, span: tuple[float, float]) -> float:
    low, high = span
    return low + (high - low) * _share(case_id, salt)


def _agent(name: str) -> Principal:
    """A demo agent acting through the application layer (the audit trail names ``demo``)."""
    return Principal(kind="user", name=name, role="agent", credential="demo")


@dataclass
class DemoTeam:
    """Works the open cases owned by ``agents``; ``lead`` approves what they ask for."""

    runtime: Runtime
    agents: Sequence[str]
    lead: str
    done: dict[str, int] = field(default_factory=dict)

    def step(self) -> int:
        """One pass over the team's open cases; returns the actions taken."""
        now = self.runtime.clock.now()
        with self.runtime.engine.connect() as conn:
            mine = queries.list_cases(
                conn,
                filters=queries.CaseFilters(open=True, owners=list(self.agents)),
                sort=queries.QueueSort("due", descending=False),
                limit=200,
                reveal=True,  # the team reads its own cases
            )
        taken = 0
        for case in mine:
            if _share(case["id"], "idle") < IDLE_SHARE:
                continue
            try:
                taken += self._advance(case, now)
            except WinbackError:
                continue  # someone else (a person at the console) got there first
        return taken

    def _advance(self, case: dict[str, Any], now: datetime) -> int:
        case_id, owner = case["id"], case["owner"]
        waited = (now - case["updated_at"]).total_seconds()
        age = (now - case["opened_at"]).total_seconds()
        status = case["status"]
        if status in ("new", "reopened") and waited >= _after(case_id, "pickup", PICKUP):
            self._act(case_id, owner, "acknowledge", {})
            self._act(
                case_id,
                owner,
                "reply",
                {"text": "Thank you for telling us. I have your case and I am on it now."},
            )
            return 2
        if status not in ("acknowledged", "in_progress"):
            return 0
        if case["remedies"] and not self.done.get(f"remedy:{case_id}"):
            if age >= _after(case_id, "remedy", REMEDY):
                self.done[f"remedy:{case_id}"] = 1
                return self._offer(case_id, owner)
            return 0
        if age >= _after(case_id, "resolve", RESOLVE):
            outcome, cause = OUTCOMES.get(case["category"] or "", ("resolved", "other"))
            self._act(case_id, owner, "resolve", {"outcome": outcome, "root_cause": cause})
            return 1
        return 0

    def _offer(self, case_id: int, owner: str) -> int:
        runtime = self.runtime
        catalogue = runtime.sources.remedies.get()
        with runtime.engine.connect() as conn:
            advice = recommendations(conn, catalogue, case_id, runtime.clock.now(), "agent")
        if not advice["recommendations"]:
            return 0
        best = advice["recommendations"][0]
        perform_remedy_action(
            runtime.engine,
            runtime.clock,
            catalogue,
            case_id,
            "apply_remedy",
            _agent(owner),
            {"remedy": best["remedy"]},
            f"demo-team:{case_id}",
        )
        return 1

    def approve_pending(self) -> int:
        """The lead decides on requests that have waited long enough."""
        now = self.runtime.clock.now()
        with self.runtime.engine.connect() as conn:
            pending = queries.pending_grants(conn, limit=50)
        approved = 0
        for grant in pending:
            if (now - grant["created_at"]).total_seconds() < _after(grant["id"], "ok", APPROVE):
                continue
            try:
                perform_remedy_action(
                    self.runtime.engine,
                    self.runtime.clock,
                    self.runtime.sources.remedies.get(),
                    grant["case_id"],
                    "approve",
                    Principal(kind="user", name=self.lead, role="lead", credential="demo"),
                    {"grant_id": grant["id"], "reason": "fair for this customer"},
                    None,
                )
                approved += 1
            except WinbackError:
                continue
        return approved

    def _act(self, case_id: int, owner: str, action: str, params: dict[str, Any]) -> None:
        perform_action(
            self.runtime.engine,
            self.runtime.clock,
            self.runtime.sources.sla.get(),
            case_id,
            action,
            _agent(owner),
            params,
        )

    def run(self, stop: threading.Event, every: float = 2.0) -> None:
        while not stop.wait(every):
            try:
                self.step()
                self.approve_pending()
            except Exception:  # the demo goes on; the next pass tries again
                continue
