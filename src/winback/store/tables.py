"""The tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create exactly these.

Invariants the schema enforces, not just the code:
- ``events.seq`` is the log's monotonic sequence; ``events.event_id`` (the sender's id) is unique.
- at most one *open* case per customer (a partial unique index on ``cases.customer_id``).
- a case timeline entry caused by an event exists once per (case, kind, event).
- an outbox effect exists once per idempotency key.
"""

from __future__ import annotations

import sqlalchemy as sa

from winback.analytics.metrics import MEASURES
from winback.cases.model import OPEN_STATUSES
from winback.store.types import BigID, JSONDoc, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_OPEN_SQL = "status IN (" + ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES)) + ")"

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigID, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False, index=True),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("payload", JSONDoc, nullable=False),
    # The customer's partition (migration 0016); stamped only when there are several.
    sa.Column("partition", sa.SmallInteger()),
    sa.Index(
        "ix_events_partition_seq",
        "partition",
        "seq",
        postgresql_where=sa.text("partition IS NOT NULL"),
        sqlite_where=sa.text("partition IS NOT NULL"),
    ),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("name", sa.String(200)),
    sa.Column("phone", sa.String(64)),
    sa.Column("segment", sa.String(100)),
    sa.Column("plan", sa.String(100)),
    sa.Column("value", sa.Float()),
    sa.Column("timezone", sa.String(64)),
    sa.Column("location", sa.String(200)),
    sa.Column("language", sa.String(35)),
    sa.Column("attributes", JSONDoc, nullable=False),
    sa.Column("field_times", JSONDoc, nullable=False),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("last_event_at", UTCDateTime(), nullable=False),
    sa.Column("event_count", sa.Integer(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(200), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("priority", sa.String(2), nullable=False),
    sa.Column("category", sa.String(64)),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("trigger_event_id", sa.String(200), nullable=False),
    sa.Column("signal_count", sa.Integer(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("decided_by", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    # Case lifecycle (migration 0004).
    sa.Column("owner", sa.String(200)),
    sa.Column("severity", sa.String(16)),
    sa.Column("resolved_at", UTCDateTime()),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("outcome", sa.String(200)),
    sa.Column("root_cause", sa.String(500)),
    sa.Column("reopen_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    # The case's plan: what the playbooks chose (migration 0006).
    sa.Column("team", sa.String(100)),
    sa.Column("sla_policy", sa.String(100)),
    sa.Column("channel", sa.String(64)),
    sa.Column("incident", sa.String(200)),
    sa.Column("remedies", JSONDoc),
    sa.Column("handoff", JSONDoc),
    # Automation may handle it: no human queue (migration 0007).
    sa.Column("automated", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("ix_cases_status_id", "status", "id"),
    sa.Index("ix_cases_owner_status", "owner", "status"),  # an agent's own queue (0017)
    sa.Index("ix_cases_customer_id_resolved_at", "customer_id", "resolved_at"),
    sa.Index(
        "uq_cases_one_open_per_customer",
        "customer_id",
        unique=True,
        sqlite_where=sa.text(_OPEN_SQL),
        postgresql_where=sa.text(_OPEN_SQL),
    ),
)

case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("attached_at", UTCDateTime(), nullable=False),
)

case_timeline = sa.Table(
    "case_timeline",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("summary", sa.String(1000), nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq")),
    sa.Index("ix_case_timeline_case_id_id", "case_id", "id"),
    sa.UniqueConstraint("case_id", "kind", "event_seq", name="uq_case_timeline_event"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("idempotency_key", sa.String(300), nullable=False, unique=True),
    sa.Column("payload", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("available_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("last_error", sa.String(2000)),
    # The relay's fan-out (migration 0012): set once the row's deliveries exist.
    sa.Column("dispatched_at", UTCDateTime()),
    sa.Index("ix_outbox_pending", "delivered_at", "available_at"),
    sa.Index(
        "ix_outbox_undispatched",
        "id",
        sqlite_where=sa.text("dispatched_at IS NULL"),
        postgresql_where=sa.text("dispatched_at IS NULL"),
    ),
)

processor_cursors = sa.Table(
    "processor_cursors",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# -- The log's partitions (migration 0016; store/partitions.py) ---------------------------------
# One row per partition: its cursor in ``processor_cursors`` and its lease. N = the row count.
log_partitions = sa.Table(
    "log_partitions",
    metadata,
    sa.Column("partition", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("cursor", sa.String(100), nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("lease_expires_at", UTCDateTime()),
)

# The processing workers alive: each heartbeats its row; an expired row is a dead worker.
processor_members = sa.Table(
    "processor_members",
    metadata,
    sa.Column("worker_id", sa.String(200), primary_key=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

event_failures = sa.Table(
    "event_failures",
    metadata,
    sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), primary_key=True),
    sa.Column("processor", sa.String(100), nullable=False),
    sa.Column("stage", sa.String(100), nullable=False),
    sa.Column("error", sa.String(4000), nullable=False),
    sa.Column("failed_at", UTCDateTime(), nullable=False),
)

# -- Case lifecycle and SLA (migration 0004) ---------------------------------------------------
# cases gains: owner, severity, resolved_at, closed_at, outcome, root_cause, reopen_count (above).
# - ``case_sla``: one row per case, the SLA clock state as a JSON document (winback.sla.tracking).
# - ``sla_timers``: the derived deadlines; a partial index on ``due_at`` over unfired timers is
#   what the timer service reads; a timer fires once per (case, metric, kind, level, cycle).
# - ``case_actions``: replies remembered per (case, idempotency key), so a retried action
#   has one effect.
case_sla = sa.Table(
    "case_sla",
    metadata,
    sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("policy", sa.String(100)),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_case_sla_fingerprint", "fingerprint"),
)

sla_timers = sa.Table(
    "sla_timers",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("level", sa.Integer(), nullable=False),
    sa.Column("generation", sa.Integer(), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("fired_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint(
        "case_id", "metric", "kind", "level", "generation", name="uq_sla_timers_key"
    ),
    sa.Index(
        "ix_sla_timers_pending_due",
        "due_at",
        sqlite_where=sa.text("fired_at IS NULL"),
        postgresql_where=sa.text("fired_at IS NULL"),
    ),
)

case_actions = sa.Table(
    "case_actions",
    metadata,
    sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("idempotency_key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# -- live customer features and churn risk --------------------------------------------------
# One row per customer: the order-free feature state (JSON), the features derived from it, and
# the latest score with its reasons and the model version that made it.
customer_risk = sa.Table(
    "customer_risk",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("probability", sa.Float(), nullable=False),
    sa.Column("reasons", JSONDoc, nullable=False),
    sa.Column("features", JSONDoc, nullable=False),
    sa.Column("state", JSONDoc, nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("horizon_days", sa.Integer(), nullable=False),
    sa.Column("as_of", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("jumped_at", UTCDateTime()),
    sa.Index("ix_customer_risk_probability", "probability"),
    sa.Index("ix_customer_risk_updated_at", "updated_at", "customer_id"),  # the re-score worker
)

# Usage readings per cohort (a usage measure and a plan, winback.customers.cohort): a count per
# histogram bin, only ever added to, so the counts are the same whatever the events' order.
usage_cohorts = sa.Table(
    "usage_cohorts",
    metadata,
    sa.Column("cohort", sa.String(300), primary_key=True),
    sa.Column("bin", sa.Integer(), primary_key=True),
    sa.Column("readings", sa.BigInteger(), nullable=False),
)

# -- text understanding, one row per event with text --------------------------------------
event_text = sa.Table(
    "event_text",
    metadata,
    sa.Column("event_seq", sa.BigInteger(), sa.ForeignKey("events.seq"), primary_key=True),
    sa.Column("sentiment", sa.String(16), nullable=False),
    sa.Column("sentiment_score", sa.Float(), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("urgency", JSONDoc, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("redacted", sa.Text(), nullable=False),
    sa.Column("pii", JSONDoc, nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("analyzed_at", UTCDateTime(), nullable=False),
)

# -- remedies granted (or asked for) and routing agents (migration 0005) --------------------
# - ``remedy_grants``: one row per remedy applied, awaiting approval, or rejected; pending and
#   applied rows count against the per-customer caps and the monthly budgets.
# - ``routing_agents``: agents created or changed through the API (they override agents.yaml).
remedy_grants = sa.Table(
    "remedy_grants",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.BigInteger(), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("remedy", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("amount", sa.Float(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("cost", sa.Float(), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_role", sa.String(32), nullable=False),
    sa.Column("approver_role", sa.String(32)),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("reason", sa.String(1000)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("decided_at", UTCDateTime()),
    sa.Index("ix_remedy_grants_customer_id_created_at", "customer_id", "created_at"),
    sa.Index("ix_remedy_grants_remedy_created_at", "remedy", "created_at"),
    sa.Index("ix_remedy_grants_case_id", "case_id"),
)

routing_agents = sa.Table(
    "routing_agents",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("spec", JSONDoc, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_since", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# -- the audit trail (migration 0010) ---------------------------------------------------------
# One hash-chained record per mutation (winback.store.audit): ``seq`` is gapless and assigned
# under the chain's lock (the primary key, so the chain cannot fork); the JSON parts are the
# canonical text that was hashed; the personal part (``personal``) is covered by the chain only
# through ``personal_digest``, so an erasure can remove it (``scrubbed_by``: the scrub record).
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("credential", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(64), nullable=False),
    sa.Column("subject_id", sa.String(200)),
    sa.Column("before", sa.Text()),
    sa.Column("after", sa.Text()),
    sa.Column("details", sa.Text()),
    sa.Column("customer_id", sa.String(200)),
    sa.Column("personal", sa.Text()),
    sa.Column("personal_digest", sa.String(64)),
    sa.Column("scrubbed_by", sa.BigInteger()),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_actor_seq", "actor", "seq"),
    sa.Index("ix_audit_log_action_seq", "action", "seq"),
    sa.Index("ix_audit_log_subject_seq", "subject_type", "subject_id", "seq"),
    sa.Index("ix_audit_log_customer_id_seq", "customer_id", "seq"),
    sa.Index("ix_audit_log_at", "at"),
    sa.Index("ix_audit_log_scrubbed_by", "scrubbed_by"),
)

# -- outreach: delivering the outbox (migration 0012) ----------------------------------------
# - ``outbox.dispatched_at``: the relay fans each outbox row out once into deliveries
#   (claimed with a compare-and-set on it; SKIP LOCKED on PostgreSQL).
# - ``outbox_deliveries``: one row per (outbox row, destination) — the customer's channel, or
#   one webhook subscription — each retried, backed off and dead-lettered on its own, in order
#   within its ``stream`` (one customer's messages on one destination).
# - ``webhook_subscriptions``: outbound webhooks per topic, with their signing secret.
# - ``customer_preferences``: preferred channel, opt-outs, quiet hours, frequency cap.
outbox_deliveries = sa.Table(
    "outbox_deliveries",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.BigInteger(), sa.ForeignKey("outbox.id"), nullable=False),
    sa.Column("destination", sa.String(100), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("stream", sa.String(300), nullable=False),
    sa.Column("customer_id", sa.String(200)),
    sa.Column("case_id", sa.BigInteger()),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("available_at", UTCDateTime(), nullable=False),
    sa.Column("claim_token", sa.String(64)),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("last_error", sa.String(2000)),
    sa.Column("provider_ref", sa.String(300)),
    sa.Column("reason", sa.String(500)),
    sa.UniqueConstraint("outbox_id", "destination", name="uq_outbox_deliveries_destination"),
    sa.Index("ix_outbox_deliveries_state_available_at", "state", "available_at"),
    sa.Index("ix_outbox_deliveries_stream_id", "stream", "id"),
    sa.Index("ix_outbox_deliveries_customer_id_created_at", "customer_id", "created_at"),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("topics", JSONDoc, nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("description", sa.String(500)),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

customer_preferences = sa.Table(
    "customer_preferences",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("preferences", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# -- identity (migration 0009): people, teams, API keys, sessions, login throttling ----------
# - ``users``: people with a role (winback.identity.ROLES); an agent on the routing roster is a
#   user with role agent or lead. ``password_hash`` is an Argon2 hash (None: no password login).
# - ``api_keys``: machines' credentials; only the SHA-256 of the token is kept (the token is a
#   256-bit random secret, shown once); ``prefix`` names the key in listings.
# - ``sessions``: server-side login sessions, keyed by the SHA-256 of the cookie's token, so
#   logging out (deleting the row) really ends the session.
# - ``login_throttle``: failed logins per user name (known or not, so a lock reveals nothing)
#   and per client address, and until when further attempts are refused.
teams = sa.Table(
    "teams",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("email", sa.String(320)),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("team", sa.String(64), sa.ForeignKey("teams.name")),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("password_hash", sa.String(300)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_login_at", UTCDateTime()),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", BigID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", JSONDoc, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("last_used_at", UTCDateTime()),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("client", sa.String(100)),
)

login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("first_failure_at", UTCDateTime(), nullable=False),
    sa.Column("locked_until", UTCDateTime()),
)

# -- analytics read models (migration 0015) --------------------------------------------------
# Kept by the analytics worker (services/analytics.py) from the log, the timelines and the
# outbox after its cursors (rows of ``processor_cursors`` named ``analytics:*``):
# - ``analytics_case_facts``: one row per case, its slice and additive measures
#   (winback.analytics.metrics), so a changed case is applied to the sums as a difference;
# - ``analytics_case_daily``: those measures summed per opening day, per slice dimension and
#   value (``dimension`` "" and ``value`` "" for every case), so its size grows with days and
#   the slices' values, not with cases: what the single-slice reports read;
# - ``analytics_case_slices``: the measures summed per opening day and combination of every
#   slice but the agent: what the multi-slice and filtered reports read;
# - ``analytics_score_daily``: survey answers counted per day, kind, value and slice;
# - ``analytics_exposures``: each (customer, rule with a control share) first matched, its arm;
# - ``analytics_customer_fates``: each customer's first cancellation and latest renewal (churn).
_DIMENSION_COLUMNS = (
    ("team", 100),
    ("agent", 200),
    ("category", 64),
    ("channel", 64),
    ("segment", 100),
    ("priority", 8),
    ("rule", 200),
)


def _dimensions() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(size), nullable=False) for name, size in _DIMENSION_COLUMNS]


def _measures() -> list[sa.Column[float]]:
    return [
        sa.Column(name, sa.Float(), nullable=False, server_default=sa.text("0"))
        for name in MEASURES
    ]


analytics_case_facts = sa.Table(
    "analytics_case_facts",
    metadata,
    sa.Column("case_id", sa.BigInteger(), primary_key=True),
    sa.Column("day", sa.Date(), nullable=False),
    *_dimensions(),
    *_measures(),
    sa.Index("ix_analytics_case_facts_day", "day"),
)

analytics_case_daily = sa.Table(
    "analytics_case_daily",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("dimension", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(200), primary_key=True),
    *_measures(),
)

analytics_case_slices = sa.Table(
    "analytics_case_slices",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    *(
        sa.Column(name, sa.String(size), primary_key=True)
        for name, size in _DIMENSION_COLUMNS
        if name != "agent"
    ),
    *_measures(),
)

analytics_score_daily = sa.Table(
    "analytics_score_daily",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("value", sa.Integer(), primary_key=True),
    sa.Column("segment", sa.String(100), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("touchpoint", sa.String(100), primary_key=True),
    sa.Column("responses", sa.Integer(), nullable=False),
)

analytics_exposures = sa.Table(
    "analytics_exposures",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("rule", sa.String(200), primary_key=True),
    sa.Column("arm", sa.String(8), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("segment", sa.String(100)),
)

analytics_customer_fates = sa.Table(
    "analytics_customer_fates",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("cancelled_at", UTCDateTime()),
    sa.Column("renewed_at", UTCDateTime()),
)
