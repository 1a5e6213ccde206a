"""What the database holds about one customer: find it (export), erase it, and age it out.

:data:`CUSTOMER_TABLES` names, for every table that holds customer data, how its rows are tied
to a customer — by ``customer_id``, through a case of theirs (``case_id``), through an event
of theirs (``event_seq``), or by the ``customer_id`` inside a JSON payload (the outbox).
:data:`NOT_CUSTOMER_DATA` lists the tables that hold none, with the reason. Every table of
:mod:`winback.store.tables` is in exactly one of the two (a test checks it), so a new table
must say where it stands before export and erasure can miss it.

Erasure (:func:`erase`) pseudonymises in place, keeping aggregates: counts, amounts, scores,
categories, statuses and every timestamp stay; identifiers are replaced (the customer's id by
a random pseudonym, the sender's event ids by random ones) and free text is erased. A string
that survives (a JSON value under a key known to hold no free text, a key) has every
identifier in it replaced. Retention (:func:`prune_payloads`) strips old events' payloads
down to the same aggregates, keeping the customer's id.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.store.tables import (
    analytics_case_facts,
    analytics_customer_fates,
    analytics_exposures,
    audit_log,
    case_actions,
    case_events,
    case_sla,
    case_timeline,
    cases,
    customer_preferences,
    customer_risk,
    customers,
    event_failures,
    event_text,
    events,
    outbox,
    outbox_deliveries,
    remedy_grants,
    sla_timers,
)

Link = Literal["id", "customer_id", "case_id", "event_seq", "payload.customer_id"]

# Every table with customer data -> how a row is tied to the customer.
CUSTOMER_TABLES: dict[str, tuple[sa.Table, Link]] = {
    "customers": (customers, "id"),
    "events": (events, "customer_id"),
    "event_text": (event_text, "event_seq"),
    "event_failures": (event_failures, "event_seq"),
    "customer_risk": (customer_risk, "customer_id"),
    "cases": (cases, "customer_id"),
    "case_events": (case_events, "case_id"),
    "case_timeline": (case_timeline, "case_id"),
    "case_sla": (case_sla, "case_id"),
    "sla_timers": (sla_timers, "case_id"),
    "case_actions": (case_actions, "case_id"),
    "remedy_grants": (remedy_grants, "customer_id"),
    "outbox": (outbox, "payload.customer_id"),
    # Erased by the audit trail's own scrub (winback.store.audit.scrub_customer), which keeps
    # the hash chain verifiable.
    "audit_log": (audit_log, "customer_id"),
    "outbox_deliveries": (outbox_deliveries, "customer_id"),
    "customer_preferences": (customer_preferences, "customer_id"),
    # The analytics read models: facts per case (no identifiers: counted), and the retention
    # report's exposures and fates (moved to the pseudonym: the report's counts stay).
    "analytics_case_facts": (analytics_case_facts, "case_id"),
    "analytics_exposures": (analytics_exposures, "customer_id"),
    "analytics_customer_fates": (analytics_customer_fates, "customer_id"),
}
# Tables without customer data, and why.
NOT_CUSTOMER_DATA: dict[str, str] = {
    "processor_cursors": "positions in the event log (the processor's, retention's)",
    "routing_agents": "the agents (employees), not customers",
    "log_partitions": "the log's partitions and their leases (worker names)",
    "processor_members": "the running workers and their heartbeats",
    "webhook_subscriptions": "the integrations' endpoints and topics",
    "analytics_case_daily": "daily sums per slice: counts and times, no customer",
    "analytics_case_slices": "daily sums per combination of slices: counts and times",
    "analytics_score_daily": "daily score distributions per slice: counts",
    "teams": "the organisation's teams (employees)",
    "users": "the people who work in Winback (employees), not customers",
    "api_keys": "machines' credentials",
    "sessions": "employees' login sessions",
    "login_throttle": "failed logins per employee name and client address",
    "usage_cohorts": "usage histograms per plan and measure: counts of many customers, no ids",
}

ERASED = "[erased]"
PSEUDONYM_PREFIX = "erased-"
# JSON keys whose string values are never free text (statuses, kinds, names of agents, teams
# and remedies, model versions...): kept on erasure, with identifiers replaced. Every other
# string in a timeline entry, an outbox payload or a remembered answer is erased.
STRUCTURAL_KEYS = frozenset(
    {
        "action", "at", "bucket", "category", "channel", "currency", "decided_by", "delivery",
        "event_type", "handling", "kind", "level", "metric", "model_version", "owner",
        "policy", "previous", "previous_owner", "previous_priority", "priority", "remedy",
        "role", "rule", "severity", "status", "team", "template", "topic", "customer_id",
        "event_id", "case_id", "id", "trigger_event_id", "opened_at", "updated_at",
        "resolved_at", "closed_at", "automated", "sla_policy", "incident", "cycle",
    }
)  # fmt: skip
# What an event's payload keeps when it is pruned or erased: the aggregates.
PAYLOAD_KEEPS = ("channel", "score", "amount", "currency")
CUSTOMER_KEEPS = ("segment", "plan", "value", "language")


def new_pseudonym() -> str:
    """A random customer id: nothing about the original id can be recovered from it."""
    return PSEUDONYM_PREFIX + secrets.token_hex(12)


# -- finding a customer's rows ---------------------------------------------------------------
def _case_ids(customer_id: str) -> sa.Select[Any]:
    return sa.select(cases.c.id).where(cases.c.customer_id == customer_id)


def _event_seqs(customer_id: str) -> sa.Select[Any]:
    return sa.select(events.c.seq).where(events.c.customer_id == customer_id)


def rows_of(table: sa.Table, link: Link, customer_id: str) -> sa.ColumnElement[bool]:
    """The condition that selects ``table``'s rows of the customer."""
    if link == "id":
        return table.c.id == customer_id
    if link == "customer_id":
        return table.c.customer_id == customer_id
    if link == "case_id":
        return table.c.case_id.in_(_case_ids(customer_id))
    if link == "event_seq":
        return table.c.event_seq.in_(_event_seqs(customer_id))
    in_payload: sa.ColumnElement[bool] = table.c.payload["customer_id"].as_string() == customer_id
    return in_payload


def export_rows(conn: Connection, customer_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in :data:`CUSTOMER_TABLES` that belongs to the customer."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, (table, link) in CUSTOMER_TABLES.items():
        order = list(table.primary_key.columns)
        query = sa.select(table).where(rows_of(table, link, customer_id)).order_by(*order)
        # str(): column names are ``quoted_name`` objects, which JSON writers refuse as keys.
        out[name] = [{str(k): v for k, v in row._mapping.items()} for row in conn.execute(query)]
    return out


def customer_exists(conn: Connection, customer_id: str) -> bool:
    for table in (customers, events):
        column = table.c.id if table is customers else table.c.customer_id
        if conn.execute(sa.select(column).where(column == customer_id).limit(1)).first():
            return True
    return False


def last_event_seq(conn: Connection, customer_id: str) -> int:
    query = sa.select(sa.func.max(events.c.seq)).where(events.c.customer_id == customer_id)
    return int(conn.execute(query).scalar_one() or 0)


# -- scrubbing values ------------------------------------------------------------------------
@dataclass
class Erasure:
    """One customer's erasure: the pseudonym and what each identifier becomes."""

    customer_id: str
    pseudonym: str
    replacements: dict[str, str] = field(default_factory=dict)  # identifier -> replacement
    counts: dict[str, int] = field(default_factory=dict)  # rows changed per table
    _sorted: list[str] = field(default_factory=list, repr=False)  # identifiers, longest first

    def add(self, identifier: object, replacement: str = ERASED) -> None:
        # Identifiers of under 3 characters would replace parts of ordinary words.
        if isinstance(identifier, str) and len(identifier.strip()) >= 3:
            self.replacements.setdefault(identifier.strip(), replacement)

    def replace_ids(self, value: Any) -> Any:
        """``value`` with every identifier replaced in every string (and key) in it."""
        if isinstance(value, str):
            lowered = value.lower()
            for needle in self._needles():
                if needle.lower() in lowered:
                    value = _replace_ci(value, needle, self.replacements[needle])
                    lowered = value.lower()
            return value
        if isinstance(value, dict):
            return {self.replace_ids(k): self.replace_ids(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.replace_ids(item) for item in value]
        return value

    def structure_only(self, value: Any, key: str | None = None) -> Any:
        """``value`` keeping numbers, booleans and the strings under :data:`STRUCTURAL_KEYS`
        (identifiers replaced); every other string is erased."""
        if isinstance(value, dict):
            return {self.replace_ids(k): self.structure_only(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.structure_only(item, key) for item in value]
        if isinstance(value, str):
            return self.replace_ids(value) if key in STRUCTURAL_KEYS else ERASED
        return value

    def _needles(self) -> list[str]:
        if len(self._sorted) != len(self.replacements):
            self._sorted = sorted(self.replacements, key=len, reverse=True)
        return self._sorted


def _replace_ci(text: str, needle: str, replacement: str) -> str:
    lowered, target = text.lower(), needle.lower()
    parts: list[str] = []
    start = 0
    while (found := lowered.find(target, start)) >= 0:
        parts.extend((text[start:found], replacement))
        start = found + len(needle)
    parts.append(text[start:])
    return "".join(parts)


def aggregate_payload(payload: Mapping[str, Any], customer_id: str) -> dict[str, Any]:
    """An event payload cut down to its aggregates (and the customer's kept attributes)."""
    kept = {key: payload[key] for key in PAYLOAD_KEEPS if key in payload}
    sender = payload.get("customer") or {}
    kept["customer"] = {"id": customer_id} | {k: sender[k] for k in CUSTOMER_KEEPS if k in sender}
    kept["pruned"] = True
    return kept


# -- erasure, table by table -----------------------------------------------------------------
def gather_identifiers(conn: Connection, erasure: Erasure) -> None:
    """Learn what identifies the customer: id, contact details, name, the sender's event and
    ticket ids, the idempotency keys of their events' effects (replaced by random ids)."""
    cid = erasure.customer_id
    erasure.add(cid, erasure.pseudonym)
    row = conn.execute(sa.select(customers).where(customers.c.id == cid)).first()
    if row is not None:
        for value in (row.email, row.phone, row.name):
            erasure.add(value)
    for event_id, payload in conn.execute(
        sa.select(events.c.event_id, events.c.payload).where(events.c.customer_id == cid)
    ):
        erasure.add(event_id, PSEUDONYM_PREFIX + "event-" + secrets.token_hex(8))
        sender = payload.get("customer") or {}
        for key in ("email", "phone", "name"):
            erasure.add(sender.get(key))
        ticket = payload.get("ticket") or {}
        erasure.add(ticket.get("id"))


def _update_rows(
    conn: Connection,
    erasure: Erasure,
    name: str,
    change: Callable[[Any], dict[str, Any]],
) -> None:
    table, link = CUSTOMER_TABLES[name]
    key = list(table.primary_key.columns)
    rows = list(conn.execute(sa.select(table).where(rows_of(table, link, erasure.customer_id))))
    for row in rows:
        values = change(row)
        if values:
            where = [col == getattr(row, col.name) for col in key]
            conn.execute(table.update().where(*where).values(**values))
    erasure.counts[name] = len(rows)


def open_pseudonym(conn: Connection, erasure: Erasure) -> None:
    """First step: the customer row copied under the pseudonym, without contact details,
    name, location, time zone or attributes (cases and grants move to it; the old row goes
    in :func:`close_customer_row`, once nothing refers to it)."""
    row = conn.execute(sa.select(customers).where(customers.c.id == erasure.customer_id)).first()
    erasure.counts["customers"] = 0 if row is None else 1
    if row is None:
        return
    values = dict(row._mapping)
    values.update(
        id=erasure.pseudonym, email=None, name=None, phone=None, location=None,
        timezone=None, attributes={}, field_times={},
    )  # fmt: skip
    conn.execute(customers.insert().values(**values))


def close_customer_row(conn: Connection, erasure: Erasure) -> None:
    """Last step: the customer's own row goes."""
    conn.execute(customers.delete().where(customers.c.id == erasure.customer_id))


def erase_events(conn: Connection, erasure: Erasure) -> None:
    """Events keep their type, times and aggregates; the sender's id becomes a random one."""

    def change(row: Any) -> dict[str, Any]:
        return {
            "customer_id": erasure.pseudonym,
            "event_id": erasure.replace_ids(row.event_id),
            "content_hash": secrets.token_hex(16),
            "payload": aggregate_payload(row.payload, erasure.pseudonym),
        }

    _update_rows(conn, erasure, "events", change)


def erase_event_text(conn: Connection, erasure: Erasure) -> None:
    """The analysis (sentiment, category, urgency, language) stays; the redacted text goes."""
    _update_rows(conn, erasure, "event_text", lambda row: {"redacted": ""})


def erase_event_failures(conn: Connection, erasure: Erasure) -> None:
    _update_rows(conn, erasure, "event_failures", lambda row: {"error": ERASED})


def erase_cases(conn: Connection, erasure: Erasure) -> None:
    def change(row: Any) -> dict[str, Any]:
        return {
            "customer_id": erasure.pseudonym,
            "reason": ERASED,
            "trigger_event_id": erasure.replace_ids(row.trigger_event_id),
            "outcome": None if row.outcome is None else ERASED,
            "root_cause": None if row.root_cause is None else ERASED,
            "remedies": erasure.replace_ids(row.remedies),
            "handoff": erasure.replace_ids(row.handoff),
            "version": row.version + 1,  # a processor batch computed before sees the change
        }

    _update_rows(conn, erasure, "cases", change)


def erase_timeline(conn: Connection, erasure: Erasure) -> None:
    def change(row: Any) -> dict[str, Any]:
        return {"summary": ERASED, "data": erasure.structure_only(row.data)}

    _update_rows(conn, erasure, "case_timeline", change)


def erase_case_actions(conn: Connection, erasure: Erasure) -> None:
    def change(row: Any) -> dict[str, Any]:
        return {
            "idempotency_key": erasure.replace_ids(row.idempotency_key),
            "request_hash": secrets.token_hex(32),
            "response": erasure.structure_only(row.response),
        }

    _update_rows(conn, erasure, "case_actions", change)


def erase_case_sla(conn: Connection, erasure: Erasure) -> None:
    _update_rows(conn, erasure, "case_sla", lambda row: {"state": erasure.replace_ids(row.state)})


def erase_remedy_grants(conn: Connection, erasure: Erasure) -> None:
    def change(row: Any) -> dict[str, Any]:
        return {"customer_id": erasure.pseudonym, "reason": None if row.reason is None else ERASED}

    _update_rows(conn, erasure, "remedy_grants", change)


def erase_risk(conn: Connection, erasure: Erasure) -> None:
    def change(row: Any) -> dict[str, Any]:
        return {
            "customer_id": erasure.pseudonym,
            "reasons": erasure.replace_ids(row.reasons),
            "features": erasure.replace_ids(row.features),
            "state": erasure.replace_ids(row.state),
        }

    _update_rows(conn, erasure, "customer_risk", change)


def erase_outbox(conn: Connection, erasure: Erasure) -> None:
    def change(row: Any) -> dict[str, Any]:
        return {
            "idempotency_key": erasure.replace_ids(row.idempotency_key),
            "payload": erasure.structure_only(row.payload),
            "last_error": None if row.last_error is None else ERASED,
        }

    _update_rows(conn, erasure, "outbox", change)


def erase_deliveries(conn: Connection, erasure: Erasure) -> None:
    """Deliveries keep their channel, state, attempts and times; who and why go."""

    def change(row: Any) -> dict[str, Any]:
        return {
            "customer_id": erasure.pseudonym,
            "stream": erasure.replace_ids(row.stream),
            "last_error": None if row.last_error is None else ERASED,
            "provider_ref": None if row.provider_ref is None else ERASED,
            "reason": None if row.reason is None else ERASED,
        }

    _update_rows(conn, erasure, "outbox_deliveries", change)


def erase_preferences(conn: Connection, erasure: Erasure) -> None:
    """A customer's messaging preferences go (no aggregate is kept of them)."""
    gone = conn.execute(
        customer_preferences.delete().where(
            customer_preferences.c.customer_id == erasure.customer_id
        )
    )
    erasure.counts["customer_preferences"] = gone.rowcount


def erase_analytics(conn: Connection, erasure: Erasure) -> None:
    """The retention report keeps its counts under the pseudonym; the sender's event ids go."""
    _update_rows(
        conn,
        erasure,
        "analytics_exposures",
        lambda row: {
            "customer_id": erasure.pseudonym,
            "event_id": erasure.replace_ids(row.event_id),
        },
    )
    _update_rows(
        conn, erasure, "analytics_customer_fates", lambda row: {"customer_id": erasure.pseudonym}
    )


def count_untouched(conn: Connection, erasure: Erasure, names: Iterable[str]) -> None:
    """Tables whose rows hold nothing to erase (keys and times only): counted, not changed."""
    for name in names:
        table, link = CUSTOMER_TABLES[name]
        query = sa.select(sa.func.count()).select_from(table)
        erasure.counts[name] = int(
            conn.execute(query.where(rows_of(table, link, erasure.customer_id))).scalar_one()
        )


# -- retention -------------------------------------------------------------------------------
RETENTION_CURSOR = "retention"


def prune_payloads(
    conn: Connection, after: int, upto: int, received_before: datetime, limit: int
) -> tuple[int, int, bool]:
    """Cut the payloads of events after seq ``after`` (at most ``upto``) received before
    ``received_before`` down to their aggregates, and clear their texts' redacted copies, at
    most ``limit`` events in seq order. Returns the events pruned, the last seq done, and
    whether there may be more to do now (all ``limit`` were old enough)."""
    rows = list(
        conn.execute(
            sa.select(events.c.seq, events.c.customer_id, events.c.payload, events.c.received_at)
            .where(events.c.seq > after, events.c.seq <= upto)
            .order_by(events.c.seq)
            .limit(limit)
        )
    )
    pruned, last, done = 0, after, 0
    for row in rows:
        if row.received_at >= received_before:
            break  # the log is in receipt order: nothing later is old enough
        done += 1
        last = row.seq
        if row.payload.get("pruned"):
            continue
        payload = aggregate_payload(row.payload, row.customer_id)
        conn.execute(events.update().where(events.c.seq == row.seq).values(payload=payload))
        conn.execute(
            event_text.update().where(event_text.c.event_seq == row.seq).values(redacted="")
        )
        pruned += 1
    return pruned, last, done == limit
