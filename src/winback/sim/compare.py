"""The closed loop: the same seeded company under different response policies.

Three policies, all working the same company (same seed, same customers, same failures):

* ``none`` — nobody responds to anything.
* ``helpdesk`` — a helpdesk-like team that only sees the contacts customers make themselves
  (complaints, messages, tickets, refund requests), checks its queue on the hour during business
  hours, acknowledges after hours, works first in, first out, and offers no remedies.
* ``winback`` — Winback's real pipeline (a :class:`~winback.bootstrap.Runtime` on a temporary
  SQLite database, events logged through the ``GroupCommitter``, ``Processor.run_until_idle``
  stepped on a ``FrozenClock`` that follows simulated time) decides which signals open or attach
  to a recovery case; the simulated company's response team reads those cases back the way the
  API serves them and works them in priority order within minutes, around the clock.

A policy changes outcomes only through the response model: the times at which a customer's
problem is acknowledged and resolved (and whether a remedy came with it) move the customer's
satisfaction, which moves their churn hazard. No policy carries an effect size of its own.
Under ``winback`` the team's acknowledgements and resolutions are Winback case actions, and the
simulated customers react to what the cases' timelines then show (``WinbackFeed.act`` and
``WinbackFeed.read_back``); before resolving, the agent applies Winback's top recommended
remedy that the compensation policy lets an agent grant.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from winback.identity import Principal
from winback.sim.generator import SimConfig, Simulation
from winback.sim.model import Model, ResponseModel

CONTACT_TYPES = frozenset(
    {"complaint", "message", "ticket.opened", "ticket.updated", "refund.requested"}
)
# Routine activity: a step holding only these is handed to Winback with the next step that holds
# anything else (in order), which saves most pipeline rounds and changes no case.
ROUTINE = frozenset({"usage", "login", "purchase", "subscription.renewed"})
POLICY_NAMES = ("none", "helpdesk", "winback")
#: The simulated response team acts as one agent (the remedy limits of an agent apply).
TEAM = Principal(kind="user", name="response-team", role="agent", credential="sim")
TEAM_ACTOR = TEAM.actor


@dataclass(frozen=True)
class TeamSpec:
    """How a response team works. Times are drawn per case from log-normal distributions."""

    name: str
    sees: str  # "contacts": the helpdesk's own tickets; "winback": Winback's recovery cases
    check_every_hours: float  # how often the queue is looked at (0: every simulation step)
    business_hours: tuple[int, int] | None  # (from, to) UTC hours on weekdays; None: 24/7
    first_response_minutes: float  # median time from picking a case up to acknowledging it
    first_response_sigma: float
    by_priority: bool  # work P2 before P3 (else first in, first out)
    remedy_share: float = 0.0  # credit, as a share of a month's revenue, on P2 cases
    remedy_cap: float = 100.0
    handle_minutes: float = 20.0  # an agent's time per case
    resolve_hours: float = 6.0  # median time from acknowledgement to resolution
    resolve_sigma: float = 0.9
    agents_per_1000: float = 1.0  # team size per 1,000 customers (at least 2 agents)


HELPDESK = TeamSpec(
    name="helpdesk",
    sees="contacts",
    check_every_hours=1.0,
    business_hours=(8, 18),
    first_response_minutes=180.0,
    first_response_sigma=0.8,
    by_priority=False,
)
WINBACK_TEAM = TeamSpec(
    name="winback",
    sees="winback",
    check_every_hours=0.0,
    business_hours=None,
    first_response_minutes=10.0,
    first_response_sigma=0.6,
    by_priority=True,
    remedy_share=0.0,  # remedies: Winback's recommendation and policy decide (WinbackFeed)
)
TEAMS: dict[str, TeamSpec | None] = {"none": None, "helpdesk": HELPDESK, "winback": WINBACK_TEAM}

_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


@dataclass
class _Item:
    customer_id: str
    arrived: float
    priority: int
    signals: int = 1
    monthly: float = 0.0


@dataclass(frozen=True)
class Action:
    customer_id: str
    action: str  # "ack" | "resolve"
    at: float  # hours since the start
    remedy: float = 0.0


class ResponseTeam:
    """A team of agents working a queue of customers who need a response."""

    def __init__(self, spec: TeamSpec, agents: int, rng: random.Random, start: datetime) -> None:
        self.spec = spec
        self.free_at = [0.0] * agents
        self.rng = rng
        self.start = start
        self.queue: dict[str, _Item] = {}
        self.busy_until: dict[str, float] = {}
        self._last_check = -math.inf

    def offer(self, customer_id: str, at: float, priority: str, monthly: float) -> None:
        if self.busy_until.get(customer_id, -1.0) > at:
            return  # an agent is already on it; the new signal joins that work
        rank = _RANK.get(priority, 3)
        item = self.queue.get(customer_id)
        if item is None:
            self.queue[customer_id] = _Item(customer_id, at, rank, monthly=monthly)
        else:
            item.signals += 1
            item.priority = min(item.priority, rank)

    def _open(self, now: float) -> bool:
        spec = self.spec
        if spec.check_every_hours and now - self._last_check < spec.check_every_hours - 1e-9:
            return False
        if spec.business_hours is not None:
            when = self.start + timedelta(hours=now)
            low, high = spec.business_hours
            if when.weekday() >= 5 or not low <= when.hour < high:
                return False
        self._last_check = now
        return True

    def work(self, now: float, window: float, horizon: float) -> list[Action]:
        """Take what the agents can start before ``now + window``; return the acknowledgements
        and resolutions that follow (each agent spends ``handle_minutes`` per case)."""
        if not self.queue or not self._open(now):
            return []
        spec, rng = self.spec, self.rng
        window = max(window, spec.check_every_hours)
        key: Callable[[_Item], tuple[float, ...]] = (
            (lambda i: (i.priority, i.arrived)) if spec.by_priority else (lambda i: (i.arrived,))
        )
        actions: list[Action] = []
        for item in sorted(self.queue.values(), key=key):
            agent = min(range(len(self.free_at)), key=self.free_at.__getitem__)
            start = max(now, self.free_at[agent])
            if start >= now + window:
                break  # everyone is busy: the rest waits for the next look at the queue
            self.free_at[agent] = start + spec.handle_minutes / 60.0
            acked = start + rng.lognormvariate(
                math.log(spec.first_response_minutes / 60.0), spec.first_response_sigma
            )
            resolved = acked + rng.lognormvariate(math.log(spec.resolve_hours), spec.resolve_sigma)
            remedy = 0.0
            if spec.remedy_share > 0.0 and item.priority <= 2:
                remedy = round(min(spec.remedy_cap, spec.remedy_share * item.monthly), 2)
            del self.queue[item.customer_id]
            self.busy_until[item.customer_id] = resolved
            if acked < horizon:
                actions.append(Action(item.customer_id, "ack", acked))
            if resolved < horizon:
                actions.append(Action(item.customer_id, "resolve", resolved, remedy))
        return actions


class WinbackFeed:
    """Winback's real pipeline, in process, on simulated time; reads its cases back."""

    def __init__(self, workdir: Path, start: datetime) -> None:
        from winback.bootstrap import build_processor, build_runtime, prepare_database
        from winback.clock import FrozenClock
        from winback.config import load_settings

        self.settings = load_settings(
            database_url=f"sqlite:///{workdir / 'winback-sim.db'}",
            log_level="warning",
            processor="off",
        )
        self.clock = FrozenClock(start)
        self.container = build_runtime(self.settings, self.clock)
        prepare_database(self.settings, self.container.engine)
        self.processor = build_processor(self.settings, self.container.engine, self.clock)
        from winback.bootstrap import load_sla
        from winback.remedies.config import load_catalogue

        self.sla = load_sla(self.settings)
        self.catalogue = load_catalogue(self.settings.config_dir)
        self._watermark = start - timedelta(seconds=1)
        self._seen: set[str] = set()
        self._case_of: dict[str, int] = {}  # customer -> their latest case
        self._read_upto: dict[int, int] = {}  # case -> last timeline entry read back
        self._acted: set[int] = set()  # cases acted on since the last read-back
        self.cases_opened = 0
        self.actions_refused = 0

    def observe(self, events: list[dict[str, Any]], now: datetime) -> Iterator[tuple[str, str]]:
        """Log and process ``events`` at ``now``; yield (customer, priority) per new signal."""
        if not events:
            return
        import sqlalchemy as sa

        from winback.events.schema import parse_event
        from winback.store import queries
        from winback.store.tables import cases, event_failures

        self.clock.set(now)
        incoming = [parse_event(e) for e in events]
        for i in range(0, len(incoming), 1000):
            self.container.committer.append_now(incoming[i : i + 1000])
        self.processor.run_until_idle()
        with self.container.engine.connect() as conn:
            failure = conn.execute(
                sa.select(event_failures.c.stage, event_failures.c.error).limit(1)
            ).first()
            if failure is not None:
                # A comparison in which Winback silently skipped events would be a false result.
                raise RuntimeError(
                    f"Winback's processor failed on an event in stage {failure.stage!r}: "
                    f"{failure.error}"
                )
            # The rows GET /v1/cases serves, those changed since the last look.
            changed = conn.execute(
                sa.select(cases.c.id).where(cases.c.updated_at > self._watermark)
            ).all()
            for (case_id,) in changed:
                case = queries.get_case(
                    conn, case_id, reveal=True
                )  # what GET /v1/cases/{id} serves
                if case is None:
                    continue
                fresh = [e for e in case["events"] if e["id"] not in self._seen]
                for e in fresh:
                    self._seen.add(e["id"])
                    if e["role"] == "trigger":
                        self.cases_opened += 1
                if fresh:
                    self._case_of[case["customer_id"]] = case_id
                    yield case["customer_id"], case["priority"]
        self._watermark = now

    def act(self, customer_id: str, action: str, at: datetime) -> None:
        """The team's agent acts on the customer's case in Winback, at ``at``: ``ack``
        acknowledges a new or re-opened case (or replies on one already being worked), and
        ``resolve`` resolves it. A refused action (the case moved on) changes nothing."""
        from winback.errors import WinbackError
        from winback.services.cases import perform_action

        case_id = self._case_of.get(customer_id)
        if case_id is None:
            return
        self.clock.set(at)
        steps: list[tuple[str, dict[str, Any]]]
        if action == "ack":
            steps = [("acknowledge", {}), ("reply", {"note": "We are on it."})]
        else:
            steps = [
                ("acknowledge", {}),
                ("resolve", {"outcome": "fixed", "root_cause": "service failure"}),
            ]
        for name, params in steps:
            if name == "resolve":
                self._remedy(case_id, at)
            try:
                perform_action(
                    self.container.engine, self.clock, self.sla, case_id, name, TEAM, params
                )
            except WinbackError:
                if name != "acknowledge":
                    self.actions_refused += 1
                continue
            self._acted.add(case_id)
            if action == "ack":
                break  # acknowledged: no reply needed as well

    def _remedy(self, case_id: int, at: datetime) -> None:
        """Before resolving, the agent applies Winback's top recommended remedy that an agent
        may grant without approval (``GET /v1/cases/{id}/recommendations``, then
        ``apply_remedy``); Winback's compensation policy decides what is allowed."""
        from winback.errors import WinbackError
        from winback.services.remedies import perform_remedy_action, recommendations

        with self.container.engine.connect() as conn:
            ranked = recommendations(conn, self.catalogue, case_id, at, role="agent")
        choice = next(
            (r for r in ranked["recommendations"] if r["needs_approval_by"] is None), None
        )
        if choice is None:
            return
        params = {"remedy": choice["remedy"], "amount": choice["amount"]}
        try:
            perform_remedy_action(
                self.container.engine,
                self.clock,
                self.catalogue,
                case_id,
                "apply_remedy",
                TEAM,
                params,
                f"sim:{case_id}:{at.isoformat()}",
            )
        except WinbackError:
            self.actions_refused += 1

    def read_back(self) -> Iterator[tuple[str, str, datetime, float]]:
        """(customer, "ack" | "resolve", when, remedy amount) for what the cases acted on now
        show, read from the case timeline the way ``GET /v1/cases/{id}`` serves it."""
        from winback.store import queries

        acted, self._acted = self._acted, set()
        with self.container.engine.connect() as conn:
            for case_id in sorted(acted):
                case = queries.get_case(conn, case_id, reveal=True)
                if case is None:
                    continue
                upto = self._read_upto.get(case_id, 0)
                remedy = 0.0
                for entry in case["timeline"]:
                    if entry["id"] <= upto:
                        continue
                    upto = entry["id"]
                    data = entry.get("data") or {}
                    if entry["actor"] != TEAM_ACTOR:
                        continue
                    if entry["kind"] == "remedy.applied":
                        remedy += float(data.get("amount") or 0.0)
                    elif entry["kind"] == "case.reply" or data.get("status") == "acknowledged":
                        yield case["customer_id"], "ack", entry["at"], 0.0
                    elif data.get("status") == "resolved":
                        yield case["customer_id"], "resolve", entry["at"], remedy
                        remedy = 0.0
                self._read_upto[case_id] = upto

    def close(self) -> None:
        self.container.close()


@dataclass
class PolicyResult:
    policy: str
    customers: int
    churned: int
    churn_rate: float
    customers_kept: int
    revenue_kept: float
    revenue_lost: float
    remedy_cost: float
    remedies: int
    acknowledged: int
    resolved: int
    median_ack_hours: float | None
    failures: int
    events: int
    cases_opened: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def drive(
    sim: Simulation,
    policy: str,
    *,
    step_minutes: float = 10.0,
    team: TeamSpec | None = None,
    workdir: Path | None = None,
    sink: Callable[[list[dict[str, Any]]], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> PolicyResult:
    """Run ``sim`` to its end under ``policy``, feeding ``sink`` every event as it happens."""
    spec = team if team is not None else TEAMS[policy]
    config = sim.config
    responder: ResponseTeam | None = None
    feed: WinbackFeed | None = None
    tmp: str | None = None
    if spec is not None:
        agents = max(2, math.ceil(config.customers / 1000 * spec.agents_per_1000))
        rng = random.Random(config.seed * 1_000_003 + 17)
        responder = ResponseTeam(spec, agents, rng, config.start)
        sim.emit_ticket_updates = spec.sees == "contacts"
        if spec.sees == "winback":
            if workdir is None:
                shm = Path("/dev/shm")
                tmp = tempfile.mkdtemp(prefix="winback-sim-", dir=shm if shm.is_dir() else None)
                workdir = Path(tmp)
            feed = WinbackFeed(workdir, config.start)
    step = step_minutes / 60.0
    t = 0.0
    pending: list[dict[str, Any]] = []  # routine events not yet handed to Winback
    due: list[tuple[float, int, Action]] = []  # the team's next actions on Winback's cases
    order = itertools.count()
    try:
        while t < sim.horizon:
            nxt = min(sim.horizon, t + step)
            if feed is not None:
                # Actions due before the end of this step are carried out in Winback at their
                # own times; the simulated customers react to what Winback's cases then show.
                while due and due[0][0] <= nxt:
                    _, _, a = heapq.heappop(due)
                    feed.act(a.customer_id, a.action, sim.time_of(a.at))
                for customer_id, action, at, remedy in feed.read_back():
                    sim.respond(customer_id, action, max(sim.now, sim.hours_at(at)), remedy)
            t = nxt
            events = sim.advance(t)
            if sink is not None and events:
                sink(events)
            if responder is not None:
                if feed is not None:
                    pending.extend(events)
                    if t >= sim.horizon or any(e["type"] not in ROUTINE for e in events):
                        for customer_id, priority in feed.observe(pending, sim.time_of(t)):
                            responder.offer(customer_id, t, priority, _monthly(sim, customer_id))
                        pending = []
                else:
                    for e in events:
                        if e["type"] in CONTACT_TYPES:
                            cid = e["customer"]["id"]
                            responder.offer(cid, t, "P3", _monthly(sim, cid))
                for a in responder.work(t, step, sim.horizon):
                    if feed is None:
                        sim.respond(a.customer_id, a.action, a.at, a.remedy)
                    else:
                        heapq.heappush(due, (a.at, next(order), a))
            if on_progress is not None:
                on_progress(t)
    finally:
        if feed is not None:
            feed.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    summary, stats = sim.summary(), sim.stats
    return PolicyResult(
        policy=policy,
        customers=summary["customers"],
        churned=summary["churned"],
        churn_rate=summary["churn_rate"],
        customers_kept=summary["customers_kept"],
        revenue_kept=summary["revenue_kept"],
        revenue_lost=summary["revenue_lost"],
        remedy_cost=round(stats.remedy_cost, 2),
        remedies=stats.remedies,
        acknowledged=stats.acknowledged,
        resolved=stats.resolved,
        median_ack_hours=round(median(stats.ack_waits), 2) if stats.ack_waits else None,
        failures=summary["failures"],
        events=summary["events"],
        cases_opened=feed.cases_opened if feed is not None else None,
    )


def _monthly(sim: Simulation, customer_id: str) -> float:
    return sim.by_id[customer_id].monthly


def compare(
    config: SimConfig,
    policies: Iterable[str] = POLICY_NAMES,
    *,
    step_minutes: float = 10.0,
    on_progress: Callable[[str, float], None] | None = None,
) -> list[PolicyResult]:
    """Run the same company under each policy; every number comes from the runs."""
    results = []
    for policy in policies:
        if policy not in TEAMS:
            raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(TEAMS)}")
        progress = None if on_progress is None else (lambda t, p=policy: on_progress(p, t))
        results.append(
            drive(Simulation(config), policy, step_minutes=step_minutes, on_progress=progress)
        )
    return results


def with_response(config: SimConfig, **changes: float) -> SimConfig:
    """``config`` with some response-model parameters changed (e.g. ``effect=0``)."""
    model = config.model
    response: ResponseModel = replace(model.response, **changes)
    return replace(config, model=Model(model.satisfaction, model.hazard, response))
