"""The outbox relay: every outbox row reaches its destinations at least once.

Two kinds of round, each run by a :class:`~winback.workers.LoopWorker`
(:func:`winback.bootstrap.build_workers`):

- **fan-out** (:meth:`Relay.dispatch`): outbox rows not yet fanned out become deliveries — the
  customer's message (when the topic sends one, :mod:`winback.outreach.messages`) on the channel
  the preferences allow (:func:`winback.outreach.preferences.decide`; a message suppressed or
  deferred says why on the case's timeline), and one delivery per webhook subscription of the
  topic. One transaction, a compare-and-set on each row (:mod:`winback.store.deliveries`).
- **a lane per channel** (:meth:`Relay.deliver`): claims due deliveries of its channel (first in
  their stream: in order per customer), sends them in parallel (threads), then records each
  outcome with its claim token: delivered; failed and retried after exponential backoff with
  jitter (:class:`~winback.outreach.retry.RetryPolicy`); or dead after the last try or a
  permanent refusal. Lanes are separate workers, so a channel that fails or hangs does not hold
  back the others.

At least once: a delivery is recorded as delivered only after the provider took it; a relay
that dies between the two leaves a ``sending`` row whose lease runs out and which another round
sends again — with the same idempotency key (SMTP ``Message-ID``, ``webhook-id``). What a
message did to its case (sent: the first response; failed for good) is a transition
(:func:`winback.cases.transitions.outreach_outcome`) recorded in the same transaction as the
delivery's outcome.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from winback.cases.model import RecoveryCase
from winback.cases.transitions import Change, outreach_outcome
from winback.clock import Clock
from winback.outreach.channels.base import (
    Channel,
    DeliveryFailed,
    OutgoingMessage,
    WebhookMessage,
    WebhookSender,
)
from winback.outreach.messages import MessageSpec, message_for
from winback.outreach.preferences import Contact, Policy, Preferences, Verdict, decide
from winback.outreach.retry import RetryPolicy
from winback.outreach.templates import TemplateConfigError, TemplateSet
from winback.sla.engine import SlaEngine, SlaUpdate, facts_for
from winback.sources import Source
from winback.store.cases import lock_cases, write_changes
from winback.store.deliveries import (
    CUSTOMER,
    DEAD,
    PENDING,
    SUPPRESSED,
    Claimed,
    OutboxRow,
    claim_due,
    claim_undispatched,
    has_due,
    has_undispatched,
    insert_deliveries,
    mark_all_delivered,
    mark_failed,
    recent_customer_messages,
)
from winback.store.engine import write_connection
from winback.store.outreach_store import (
    case_docs,
    contacts,
    customer_docs,
    get_preferences,
    get_subscription,
    list_subscriptions,
    subscribers,
)
from winback.store.sla_store import customers_facts, load_sla_states, write_sla

log = logging.getLogger(__name__)

WEBHOOK = "webhook"


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=60)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll_seconds: float = 0.2
    concurrency: int = 16
    policy: Policy = field(default_factory=Policy)
    company: str = "Winback"


@dataclass(frozen=True)
class _Outcome:
    item: Claimed
    ref: str | None = None
    error: str | None = None
    permanent: bool = False
    spec: MessageSpec | None = None


@dataclass(frozen=True)
class _Note:
    case_id: int
    kind: str
    summary: str
    data: dict[str, Any]
    first_response: bool = False


class Relay:
    """See the module docstring."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        channels: Mapping[str, Channel],
        webhooks: WebhookSender | None,
        templates: Source[TemplateSet] | TemplateSet,
        sla: Source[SlaEngine] | SlaEngine,
        config: RelayConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._channels = dict(channels)
        self._webhooks = webhooks
        self._templates = Source.of("templates", templates)
        self._sla = Source.of("sla", sla)
        self.config = config or RelayConfig()
        self._rng = rng or random.Random()
        self._pool = ThreadPoolExecutor(
            max_workers=self.config.concurrency, thread_name_prefix="winback-relay-send"
        )
        self.on_dispatched: Callable[[], None] | None = None
        self.counts: dict[str, int] = defaultdict(int)

    @property
    def lanes(self) -> list[str]:
        """One delivery lane per configured customer channel, and the webhooks."""
        return [*sorted(self._channels), *([WEBHOOK] if self._webhooks is not None else [])]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for channel in [*self._channels.values(), self._webhooks]:
            close = getattr(channel, "close", None)
            if close is not None:
                close()

    # -- rounds -------------------------------------------------------------------------------
    def dispatch_round(self) -> float:
        return 0.0 if self.dispatch() else self.config.poll_seconds

    def lane_round(self, lane: str) -> Callable[[], float]:
        def round_() -> float:
            return 0.0 if self.deliver([lane]) else self.config.poll_seconds

        return round_

    def run_once(self) -> int:
        """Fan out and deliver every lane once (tests, ``winback outbox relay --once``)."""
        dispatched = self.dispatch()
        return dispatched + self.deliver(self.lanes)

    # -- fan-out ------------------------------------------------------------------------------
    def dispatch(self) -> int:
        """Fan out one batch of outbox rows into deliveries; how many rows."""
        now = self._clock.now()
        with self._engine.connect() as conn:
            if not has_undispatched(conn):
                return 0
        with write_connection(self._engine) as conn, conn.begin():
            rows = claim_undispatched(conn, now, self.config.batch_size)
            if not rows:
                return 0
            deliveries, notes = self._fan_out(conn, rows, now)
            insert_deliveries(conn, deliveries)
            self._record_notes(conn, notes, now)
        self.counts["dispatched"] += len(rows)
        if self.on_dispatched is not None and deliveries:
            self.on_dispatched()
        return len(rows)

    def _fan_out(
        self, conn: Connection, rows: Sequence[OutboxRow], now: datetime
    ) -> tuple[list[dict[str, Any]], list[_Note]]:
        subs = list_subscriptions(conn) if self._webhooks is not None else []
        messages = {r.id: message_for(r.topic, r.payload) for r in rows}
        wanted = [
            str(r.payload["customer_id"])
            for r in rows
            if messages[r.id] is not None and r.payload.get("customer_id") and self._channels
        ]
        reach = contacts(conn, wanted)
        prefs = get_preferences(conn, wanted)
        sent = recent_customer_messages(conn, wanted, now - self.config.policy.window)
        case_ids = [int(r.payload["case_id"]) for r in rows if r.payload.get("case_id")]
        case_channels = {cid: doc["channel"] for cid, doc in case_docs(conn, case_ids).items()}
        deliveries: list[dict[str, Any]] = []
        notes: list[_Note] = []
        for row in rows:
            customer = row.payload.get("customer_id")
            case_id = row.payload.get("case_id")
            case_id = None if case_id is None else int(case_id)
            base = {
                "outbox_id": row.id,
                "customer_id": None if customer is None else str(customer),
                "case_id": case_id,
                "attempts": 0,
                "created_at": now,
                "available_at": now,
                "state": PENDING,
                "reason": None,
            }
            spec = messages[row.id]
            if spec is not None and customer is not None and self._channels:
                cid = str(customer)
                channel_hint = row.payload.get("channel") or case_channels.get(case_id or -1)
                verdict = decide(
                    spec,
                    Preferences.from_doc(prefs.get(cid)),
                    reach.get(cid, Contact(cid)),
                    configured=self._channels.keys(),
                    case_channel=None if channel_hint is None else str(channel_hint),
                    sent_in_window=sent.get(cid, 0),
                    policy=self.config.policy,
                    now=now,
                )
                deliveries.append(
                    {
                        **base,
                        "destination": CUSTOMER,
                        "channel": verdict.channel or "none",
                        "stream": f"customer:{cid}",
                        **self._verdict_fields(verdict, now),
                    }
                )
                if verdict.action == "send":
                    sent[cid] = sent.get(cid, 0) + 1
                elif case_id is not None:
                    notes.append(self._verdict_note(case_id, row, spec, verdict))
            for sub in subscribers(subs, row.topic):
                deliveries.append(
                    {
                        **base,
                        "destination": f"webhook:{sub['id']}",
                        "channel": WEBHOOK,
                        "stream": f"webhook:{sub['id']}:{customer or '-'}",
                    }
                )
        return deliveries, notes

    @staticmethod
    def _verdict_fields(verdict: Verdict, now: datetime) -> dict[str, Any]:
        if verdict.action == "suppress":
            return {"state": SUPPRESSED, "reason": verdict.reason}
        if verdict.action == "defer":
            return {"available_at": verdict.until or now, "reason": verdict.reason}
        return {}

    @staticmethod
    def _verdict_note(case_id: int, row: OutboxRow, spec: MessageSpec, verdict: Verdict) -> _Note:
        kind = "outreach.suppressed" if verdict.action == "suppress" else "outreach.deferred"
        verb = "not sent" if verdict.action == "suppress" else "deferred"
        return _Note(
            case_id,
            kind,
            f"Message {spec.template!r} {verb}: {verdict.reason}",
            {
                "outbox_key": row.key,
                "topic": row.topic,
                "template": spec.template,
                "channel": verdict.channel,
                "reason": verdict.reason,
                "until": None if verdict.until is None else verdict.until.isoformat(),
            },
        )

    # -- delivery -----------------------------------------------------------------------------
    def deliver(self, lanes: Sequence[str]) -> int:
        """Claim and send one batch of due deliveries of ``lanes``; how many were claimed."""
        total = 0
        for lane in lanes:
            total += self._deliver_lane(lane)
        return total

    def _deliver_lane(self, lane: str) -> int:
        """Claim, send and record until nothing of ``lane`` is due; how many were claimed.

        Outcomes are recorded as they come (whatever finished while the last record was
        written, so groups grow under load): the window in which a provider has a message and
        the database does not know it stays short, and one slow send keeps no other
        unrecorded. Once fewer than half the lane's concurrency are still in flight it claims
        again (up to ``batch_size`` in flight), so a message that became due meanwhile does not
        wait for the whole batch, while a busy lane still claims in large batches."""
        claimed_total = 0
        pending: set[Future[_Outcome]] = set()
        while True:
            if len(pending) <= self.config.concurrency // 2:
                claimed = self._claim(lane, self.config.batch_size - len(pending))
                if claimed:
                    claimed_total += len(claimed)
                    context = self._context(claimed)
                    pending |= {self._pool.submit(self._send, item, context) for item in claimed}
            if not pending:
                return claimed_total
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            self._record([future.result() for future in done])

    def _claim(self, lane: str, limit: int) -> list[Claimed]:
        now = self._clock.now()
        with self._engine.connect() as conn:
            if not has_due(conn, now, lane):
                return []
        with write_connection(self._engine) as conn, conn.begin():
            return claim_due(conn, now, limit, self.config.lease, uuid.uuid4().hex, channel=lane)

    def _context(self, claimed: Sequence[Claimed]) -> dict[str, Any]:
        customers = [c.customer_id for c in claimed if c.customer_id and c.destination == CUSTOMER]
        case_ids = [c.case_id for c in claimed if c.case_id is not None]
        with self._engine.connect() as conn:
            subs: dict[int, dict[str, Any] | None] = {}
            for item in claimed:
                if item.destination.startswith("webhook:"):
                    sub_id = int(item.destination.split(":", 1)[1])
                    if sub_id not in subs:
                        subs[sub_id] = get_subscription(conn, sub_id)
            return {
                "contacts": contacts(conn, customers),
                "customers": customer_docs(conn, customers),
                "cases": case_docs(conn, case_ids),
                "subs": subs,
            }

    def _send(self, item: Claimed, context: dict[str, Any]) -> _Outcome:
        try:
            if item.destination == CUSTOMER:
                message, spec = self._customer_message(item, context)
                channel = self._channels.get(item.channel)
                if channel is None:
                    raise DeliveryFailed(f"channel {item.channel!r} is not configured")
                return _Outcome(item, ref=channel.send(message), spec=spec)
            sub = context["subs"].get(int(item.destination.split(":", 1)[1]))
            if sub is None or not sub["active"] or self._webhooks is None:
                raise DeliveryFailed("the subscription was deleted", permanent=True)
            hook = WebhookMessage(item.key, sub["url"], sub["secret"], item.topic, item.payload)
            return _Outcome(item, ref=self._webhooks.send(hook))
        except DeliveryFailed as exc:
            return _Outcome(item, error=str(exc), permanent=exc.permanent)
        except TemplateConfigError as exc:
            return _Outcome(item, error=f"template: {exc}", permanent=True)
        except Exception as exc:  # an adapter's bug must not stop the lane
            log.exception("delivery %s failed unexpectedly", item.id)
            return _Outcome(item, error=f"{type(exc).__name__}: {exc}")

    def _customer_message(
        self, item: Claimed, context: dict[str, Any]
    ) -> tuple[OutgoingMessage, MessageSpec]:
        spec = message_for(item.topic, item.payload)
        if spec is None:
            raise DeliveryFailed(f"topic {item.topic!r} sends no message", permanent=True)
        cid = item.customer_id or ""
        contact: Contact = context["contacts"].get(cid, Contact(cid))
        address = contact.address(item.channel)
        if not address:
            raise DeliveryFailed(f"the customer has no address for {item.channel}", permanent=True)
        customer = dict(context["customers"].get(cid) or {"id": cid})
        name = customer.get("name") or ""
        customer.setdefault("name", None)
        customer["first_name"] = name.split()[0] if name.strip() else None
        case = context["cases"].get(item.case_id) or {}
        payload = {
            k: item.payload.get(k)
            for k in ("text", "remedy", "amount", "currency", "priority", "reason")
        }
        payload.update(item.payload)
        rendered = self._templates.get().render(
            spec.template,
            contact.language,
            item.channel,
            {
                "customer": customer,
                "case": {"id": item.case_id, **case},
                "message": payload,
                "company": self.config.company,
            },
        )
        message = OutgoingMessage(
            key=item.key,
            channel=item.channel,
            to=address,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            topic=item.topic,
            customer_id=cid,
        )
        return message, spec

    def _record(self, outcomes: Sequence[_Outcome]) -> None:
        now = self._clock.now()
        notes: list[_Note] = []
        with write_connection(self._engine) as conn, conn.begin():
            sent = {out.item.id: out for out in outcomes if out.error is None}
            recorded = mark_all_delivered(conn, [(o.item, o.ref) for o in sent.values()], now)
            self.counts["delivered"] += len(recorded)
            for item in recorded:
                if item.destination == CUSTOMER and item.case_id is not None:
                    notes.append(self._sent_note(sent[item.id]))
            for out in outcomes:
                item = out.item
                if out.error is None:
                    continue
                dead = out.permanent or self.config.retry.exhausted(item.attempts)
                retry_at = None if dead else now + self.config.retry.delay(item.attempts, self._rng)
                if not mark_failed(conn, item, out.error, retry_at):
                    continue
                self.counts["dead" if dead else "retried"] += 1
                log.warning(
                    "delivery %s (%s, %s) failed, try %d: %s%s",
                    item.id,
                    item.topic,
                    item.destination,
                    item.attempts,
                    out.error,
                    " — dead letter" if dead else "",
                )
                if dead and item.destination == CUSTOMER and item.case_id is not None:
                    notes.append(
                        _Note(
                            item.case_id,
                            "outreach.failed",
                            f"Message to the customer by {item.channel} failed after "
                            f"{item.attempts} tries: {out.error}",
                            {
                                "delivery_id": item.id,
                                "outbox_key": item.key,
                                "channel": item.channel,
                                "state": DEAD,
                                "error": out.error,
                            },
                        )
                    )
            self._record_notes(conn, notes, now)

    @staticmethod
    def _sent_note(out: _Outcome) -> _Note:
        item, spec = out.item, out.spec
        first = spec is not None and spec.first_response
        template = spec.template if spec is not None else item.topic
        return _Note(
            item.case_id or 0,
            "outreach.sent",
            f"Message {template!r} sent to the customer by {item.channel}"
            + (" (first response)" if first else ""),
            {
                "delivery_id": item.id,
                "outbox_key": item.key,
                "topic": item.topic,
                "template": template,
                "channel": item.channel,
                "provider_ref": out.ref,
                "first_response": first,
            },
            first_response=first,
        )

    def _record_notes(self, conn: Connection, notes: Sequence[_Note], now: datetime) -> None:
        """Put what became of messages on their cases' timelines, through the one mutation
        path (a transition, persisted by the one writer), in bulk: a group of outcomes costs a
        handful of statements, not a handful per case. A first response moves the case's SLA
        clocks as an agent's reply does."""
        if not notes:
            return
        cases = lock_cases(conn, sorted({n.case_id for n in notes}))
        read = {case_id: case.version for case_id, case in cases.items()}
        changes: list[tuple[Change, int]] = []
        answered: dict[int, RecoveryCase] = {}
        for note in notes:
            case = cases.get(note.case_id)
            if case is None:
                continue
            change = outreach_outcome(
                case, note.kind, note.summary, note.data, now, first_response=note.first_response
            )
            changes.append((change, read[note.case_id]))
            if change.clock is not None:
                answered[note.case_id] = case
        write_changes(conn, changes, now)
        if answered:
            self._answer_clocks(conn, list(answered.values()), now)

    def _answer_clocks(self, conn: Connection, answered: list[RecoveryCase], now: datetime) -> None:
        sla = self._sla.get()
        ids = [case.id for case in answered if case.id is not None]
        states = load_sla_states(conn, ids)
        people = customers_facts(conn, {case.customer_id for case in answered})
        items = []
        for case in answered:
            assert case.id is not None
            facts = facts_for(
                case.priority, case.category, people.get(case.customer_id), case.channel
            )
            if case.sla_policy is not None:
                facts = replace(facts, policy=case.sla_policy)
            state = states.get(case.id)
            if state is None:  # a case from before SLAs: its clocks start when it opened
                state, _ = sla.track(None, facts, "new", case.opened_at, SlaUpdate(opened=True))
            state, timers = sla.track(state, facts, case.status, now, SlaUpdate(reply=True))
            items.append((case.id, state, timers))
        write_sla(conn, items, now)
