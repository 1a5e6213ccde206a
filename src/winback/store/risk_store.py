"""Reading and writing ``customer_risk`` rows: the processor's unit of work writes them with
each event; the re-score worker (:mod:`winback.services.risk_rescore`) picks the rows that are
due and updates their score without touching the feature state."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from winback.customers.cohort import CohortUsage
from winback.customers.features import FeatureState
from winback.events.model import Event
from winback.risk.scoring import CustomerRisk
from winback.store.eventlog import chunks, to_event
from winback.store.tables import customer_risk, customers, events, usage_cohorts
from winback.store.types import UTCDateTime


def risk_from_row(row: Any) -> CustomerRisk:
    return CustomerRisk(
        customer_id=row.customer_id,
        state=FeatureState.from_json(row.state),
        probability=float(row.probability),
        reasons=list(row.reasons or []),
        features=dict(row.features or {}),
        model_version=row.model_version,
        horizon_days=int(row.horizon_days),
        as_of=row.as_of,
        updated_at=row.updated_at,
        jumped_at=row.jumped_at,
    )


def load_customer_risks(conn: Connection, customer_ids: list[str]) -> dict[str, CustomerRisk]:
    out: dict[str, CustomerRisk] = {}
    for part in chunks(customer_ids):
        query = sa.select(customer_risk).where(customer_risk.c.customer_id.in_(part))
        for row in conn.execute(query):
            out[row.customer_id] = risk_from_row(row)
    return out


def write_customer_risks(conn: Connection, risks: Iterable[CustomerRisk]) -> None:
    rows = [
        {
            "customer_id": r.customer_id,
            "probability": r.probability,
            "reasons": r.reasons,
            "features": r.features,
            "state": r.state.to_json(),
            "model_version": r.model_version,
            "horizon_days": r.horizon_days,
            "as_of": r.as_of,
            "updated_at": r.updated_at,
            "jumped_at": r.jumped_at,
        }
        for r in risks
    ]
    if not rows:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        customer_risk
    )
    update = {col: insert.excluded[col] for col in rows[0] if col != "customer_id"}
    conn.execute(insert.on_conflict_do_update(index_elements=["customer_id"], set_=update), rows)


def load_usage_cohorts(conn: Connection) -> CohortUsage:
    """Every cohort's usage histogram (a few hundred rows: cohorts x bins that hold readings)."""
    query = sa.select(usage_cohorts.c.cohort, usage_cohorts.c.bin, usage_cohorts.c.readings)
    return CohortUsage((row.cohort, int(row.bin), int(row.readings)) for row in conn.execute(query))


def add_usage_readings(conn: Connection, added: dict[tuple[str, int], int]) -> None:
    """Add a batch's readings to the stored counts (an increment: two writers cannot lose one
    another's readings, and the result does not depend on their order)."""
    if not added:
        return
    rows = [{"cohort": k, "bin": b, "readings": n} for (k, b), n in sorted(added.items())]
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        usage_cohorts
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["cohort", "bin"],
            set_={"readings": usage_cohorts.c.readings + insert.excluded.readings},
        ),
        rows,
    )


def count_events(conn: Connection) -> int:
    """How many events the log holds (the length of :func:`iter_events_by_time`)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


# -- the re-score worker ----------------------------------------------------------------------
def stale_risks(
    conn: Connection,
    before: datetime,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[CustomerRisk]:
    """Rows last written before ``before``, oldest first (then by customer id), after the
    ``(updated_at, customer_id)`` cursor ``after``; read through ``ix_customer_risk_updated_at``."""
    query = sa.select(customer_risk).where(customer_risk.c.updated_at < before)
    if after is not None:
        query = query.where(
            sa.tuple_(customer_risk.c.updated_at, customer_risk.c.customer_id)
            > sa.tuple_(sa.literal(after[0], UTCDateTime()), sa.literal(after[1]))
        )
    query = query.order_by(customer_risk.c.updated_at, customer_risk.c.customer_id).limit(limit)
    return [risk_from_row(row) for row in conn.execute(query)]


def risks_of_other_models(
    conn: Connection, version: str, limit: int, after: str | None = None
) -> list[CustomerRisk]:
    """Rows scored by a model other than ``version``, by customer id after ``after``."""
    query = sa.select(customer_risk).where(customer_risk.c.model_version != version)
    if after is not None:
        query = query.where(customer_risk.c.customer_id > after)
    query = query.order_by(customer_risk.c.customer_id).limit(limit)
    return [risk_from_row(row) for row in conn.execute(query)]


def oldest_risk_update(conn: Connection) -> datetime | None:
    """The earliest ``updated_at`` of any row (the index's first entry)."""
    value = conn.execute(sa.select(sa.func.min(customer_risk.c.updated_at))).scalar()
    if isinstance(value, str):  # SQLite returns min() of a datetime column as text
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


_SCORE_COLUMNS = (
    "probability",
    "reasons",
    "features",
    "model_version",
    "horizon_days",
    "as_of",
    "updated_at",
    "jumped_at",
)
# Built once: constructing an UPDATE per row cost more than running it.
_UPDATE_SCORE = (
    customer_risk.update()
    .where(
        customer_risk.c.customer_id == sa.bindparam("b_customer_id"),
        customer_risk.c.updated_at == sa.bindparam("b_read_at", type_=UTCDateTime()),
    )
    .values({name: sa.bindparam(f"b_{name}") for name in _SCORE_COLUMNS})
)


def update_score_if_unchanged(conn: Connection, risk: CustomerRisk, read_at: datetime) -> bool:
    """Write ``risk``'s score, features and times — never its feature state — if the row's
    ``updated_at`` is still ``read_at`` (nobody wrote it since it was read). True if written."""
    params = {f"b_{name}": getattr(risk, name) for name in _SCORE_COLUMNS}
    params.update(b_customer_id=risk.customer_id, b_read_at=read_at)
    return conn.execute(_UPDATE_SCORE, params).rowcount == 1


def iter_events_by_time(conn: Connection, batch: int = 5000) -> Iterator[Event]:
    """Every logged event in the order it occurred (ties by log sequence), streamed."""
    query = sa.select(events).order_by(events.c.occurred_at, events.c.seq)
    result = conn.execution_options(yield_per=batch).execute(query)
    for row in result:
        yield to_event(row)


def first_cancellations(conn: Connection) -> dict[str, datetime]:
    """Each customer's first ``subscription.cancelled`` time."""
    query = (
        sa.select(events.c.customer_id, sa.func.min(events.c.occurred_at).label("at"))
        .where(events.c.type == "subscription.cancelled")
        .group_by(events.c.customer_id)
    )
    out: dict[str, datetime] = {}
    for row in conn.execute(query):
        at = row.at
        if isinstance(at, str):  # SQLite returns min() of a datetime column as text
            at = datetime.fromisoformat(at)
        out[row.customer_id] = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return out


def list_by_risk(
    conn: Connection, *, limit: int, min_probability: float | None = None
) -> list[dict[str, Any]]:
    """Customers ordered by churn risk, highest first, with their profile's name and plan."""
    query = (
        sa.select(
            customer_risk.c.customer_id,
            customer_risk.c.probability,
            customer_risk.c.reasons,
            customer_risk.c.model_version,
            customer_risk.c.horizon_days,
            customer_risk.c.as_of,
            customer_risk.c.updated_at,
            customers.c.name,
            customers.c.plan,
            customers.c.value,
            customers.c.segment,
        )
        .join(customers, customers.c.id == customer_risk.c.customer_id)
        .order_by(customer_risk.c.probability.desc(), customer_risk.c.customer_id)
        .limit(limit)
    )
    if min_probability is not None:
        query = query.where(customer_risk.c.probability >= min_probability)
    return [dict(row._mapping) for row in conn.execute(query)]


def get_customer_risk(conn: Connection, customer_id: str) -> CustomerRisk | None:
    row = conn.execute(
        sa.select(customer_risk).where(customer_risk.c.customer_id == customer_id)
    ).first()
    return None if row is None else risk_from_row(row)
