"""The compensation ledger in the database: grants that count against limits, past outcomes,
the facts a recommendation needs, and the budget lock.

Limits that span cases (a remedy's monthly budget, a customer's cap) are checked by reading
the grants that count and writing a new one in the same transaction. Two transactions doing
that at once on PostgreSQL would both see the budget free and overspend it, so every writer of
grants first takes :func:`lock_budget` — a transaction-scoped advisory lock — and they queue.
SQLite's single writer lock already serialises them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.cases.model import RecoveryCase
from winback.remedies.catalogue import Catalogue
from winback.remedies.policy import Grant
from winback.remedies.recommend import CaseProfile, PastOutcome
from winback.store.tables import cases, customer_risk, customers, remedy_grants

COUNTED = ("applied", "pending_approval")
NOT_RECOVERED = frozenset({"churned", "lost", "unresolved", "not_recovered", "cancelled"})
HISTORY_DAYS = 365
# pg_advisory_xact_lock key of the compensation ledger ("winback remedy budget").
_BUDGET_LOCK = 0x57_42_52_42


def lock_budget(conn: Connection) -> None:
    """Serialise writers of grants for the rest of the transaction (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BUDGET_LOCK})


def get_grant(conn: Connection, grant_id: int, case_id: int) -> Any:
    return conn.execute(
        sa.select(remedy_grants).where(
            remedy_grants.c.id == grant_id, remedy_grants.c.case_id == case_id
        )
    ).first()


def insert_grant(conn: Connection, **values: Any) -> int:
    grant_id: int = conn.execute(
        remedy_grants.insert().values(**values).returning(remedy_grants.c.id)
    ).scalar_one()
    return grant_id


def decide_grant(conn: Connection, grant_id: int, **values: Any) -> None:
    conn.execute(remedy_grants.update().where(remedy_grants.c.id == grant_id).values(**values))


def counted_grants(
    conn: Connection, customer_id: str, now: datetime, catalogue: Catalogue
) -> list[Grant]:
    """Grants that count: this customer's over the longest cap period, one by one, and everyone
    else's this month summed per remedy (all a monthly budget needs), so the cost of a decision
    does not grow with the number of grants."""
    longest = max((r.cap_period_days for r in catalogue.remedies.values()), default=90)
    since_customer = now - timedelta(days=longest)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    own = conn.execute(
        sa.select(remedy_grants.c.remedy, remedy_grants.c.amount, remedy_grants.c.created_at).where(
            remedy_grants.c.status.in_(COUNTED),
            remedy_grants.c.customer_id == customer_id,
            remedy_grants.c.created_at >= min(since_customer, month),
        )
    )
    others = conn.execute(
        sa.select(remedy_grants.c.remedy, sa.func.sum(remedy_grants.c.amount))
        .where(
            remedy_grants.c.status.in_(COUNTED),
            remedy_grants.c.customer_id != customer_id,
            remedy_grants.c.created_at >= month,
        )
        .group_by(remedy_grants.c.remedy)
    )
    grants = [Grant(customer_id, r.remedy, r.amount, r.created_at) for r in own]
    grants += [Grant("", remedy, float(total or 0.0), month) for remedy, total in others]
    return grants


def past_outcomes(conn: Connection, now: datetime) -> list[PastOutcome]:
    """Remedies applied on resolved or closed cases in the last year, counted per remedy,
    category, segment and outcome."""
    n = sa.func.count().label("n")
    query = (
        sa.select(
            remedy_grants.c.remedy,
            cases.c.category,
            cases.c.outcome,
            customers.c.segment,
            n,
        )
        .select_from(
            # Grants first, their cases by primary key ("+ 0": SQLite's planner would rather
            # read every resolved case and look for grants, far more rows than a year's grants).
            remedy_grants.join(
                cases, cases.c.id == remedy_grants.c.case_id + sa.literal_column("0")
            ).join(customers, customers.c.id == cases.c.customer_id)
        )
        .where(
            remedy_grants.c.status == "applied",
            remedy_grants.c.created_at >= now - timedelta(days=HISTORY_DAYS),
            cases.c.status.in_(("resolved", "closed")),
        )
        .group_by(remedy_grants.c.remedy, cases.c.category, cases.c.outcome, customers.c.segment)
    )
    return [
        PastOutcome(
            r.remedy,
            r.category,
            r.segment,
            (r.outcome or "").strip().lower() not in NOT_RECOVERED,
            int(r.n),
        )
        for r in conn.execute(query)
    ]


def case_profile(conn: Connection, case: RecoveryCase) -> CaseProfile:
    assert case.id is not None
    customer = conn.execute(
        sa.select(customers.c.value, customers.c.segment).where(customers.c.id == case.customer_id)
    ).first()
    risk = conn.execute(
        sa.select(customer_risk.c.probability).where(
            customer_risk.c.customer_id == case.customer_id
        )
    ).scalar()
    return CaseProfile(
        case_id=case.id,
        customer_id=case.customer_id,
        category=case.category,
        priority=case.priority,
        severity=case.severity,
        customer_value=None if customer is None or customer.value is None else customer.value,
        segment=None if customer is None else customer.segment,
        risk=None if risk is None else float(risk),
        suggested=tuple(case.remedies),
    )
