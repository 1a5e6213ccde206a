"""Analytics at scale: a bulk-generated PostgreSQL store, the worker's catch-up, endpoint p95.

    PYTHONPATH=src python bench/analytics_scale.py --url postgresql://postgres@127.0.0.1/test \
        --cases 1000000 --events-per-case 10 --repeat 20

Generates, in SQL (``generate_series``) inside a fresh schema of its own: customers, cases
(90 days; 10 teams, 200 agents, 8 categories, 5 channels, 3 segments, 4 priorities, 20 rules;
85 % resolved, 5 % reopened), their timelines (opened, reply, status change), SLA states with
measurements, the event log (10 % survey answers with a score, 2 % cancellations, the rest
routine activity) and one experiment record in the outbox per customer (rule-0..rule-3, 10 %
held out). Then it runs the analytics worker until it has caught up (timed: the incremental
path is the only one), and times each report ``--repeat`` times through the API's service
functions (p50/p95/max in ms). The schema is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from winback.clock import FrozenClock
from winback.services import analytics
from winback.store import migrate
from winback.store.engine import make_engine

START = datetime(2026, 1, 5, tzinfo=UTC)

GENERATE = [
    # customers: one in five has two cases
    """
    INSERT INTO customers (id, segment, value, attributes, field_times, first_seen_at,
                           last_event_at, event_count, updated_at)
    SELECT 'c' || i, (ARRAY['smb','mid','enterprise'])[1 + i % 3], 100 + (i % 50) * 20,
           '{}', '{}', :start, :start, 1, :start
    FROM generate_series(1::bigint, :customers) AS i
    """,
    """
    INSERT INTO cases (id, customer_id, status, priority, category, reason, trigger_event_id,
                       signal_count, opened_at, updated_at, decided_by, version, owner,
                       resolved_at, reopen_count, team, sla_policy, channel, automated)
    SELECT i, 'c' || (1 + (i - 1) % :customers),
           CASE WHEN i > :cases - :open THEN 'in_progress' WHEN i % 17 = 0 THEN 'closed'
                ELSE 'resolved' END,
           'P' || (1 + i % 4),
           (ARRAY['billing','delivery','technical','account','wait_time','product_quality',
                  'staff_behaviour','other'])[1 + (i * 7) % 8],
           'generated', 'g' || i, 1,
           :start + (i::float / :cases) * interval '90 days',
           :start + (i::float / :cases) * interval '90 days', 'playbook:signals@2/rule-'
               || (i % 20), 1,
           'agent-' || ((i * 13) % 200),
           CASE WHEN i > :cases - :open THEN NULL
                ELSE :start + (i::float / :cases) * interval '90 days'
                     + ((i * 37) % 2880) * interval '1 minute' END,
           CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END,
           'team-' || (i % 10), 'standard', (ARRAY['email','chat','phone','web','app'])[1 + i % 5],
           false
    FROM generate_series(1::bigint, :cases) AS i
    """,
    """
    INSERT INTO case_timeline (case_id, at, kind, actor, summary, data)
    SELECT c.id, c.opened_at + k.after, k.kind, 'user:agent', '', '{}'
    FROM cases c CROSS JOIN (VALUES ('case.opened', interval '0'),
                                    ('case.reply', interval '47 minutes'),
                                    ('case.status_changed', interval '3 hours')) AS k(kind, after)
    """,
    """
    INSERT INTO case_sla (case_id, policy, fingerprint, state, updated_at)
    SELECT id, 'standard', 'f',
           jsonb_build_object('history', jsonb_build_array(
             jsonb_build_object('metric', 'first_response', 'generation', 0,
                                'target_s', 3600, 'business_s', 2820 * (1 + id % 3),
                                'wall_s', 2820 * (1 + id % 3),
                                'outcome', CASE WHEN id % 3 = 2 THEN 'breached' ELSE 'met' END),
             jsonb_build_object('metric', 'resolution', 'generation', 0,
                                'target_s', 28800, 'business_s', (id * 37) % 2880 * 40,
                                'wall_s', (id * 37) % 2880 * 60,
                                'outcome', CASE WHEN (id * 37) % 2880 * 40 > 28800
                                                THEN 'breached' ELSE 'met' END))),
           updated_at
    FROM cases
    """,
    """
    INSERT INTO events (event_id, type, customer_id, occurred_at, received_at, content_hash,
                        payload)
    SELECT 'e' || i,
           CASE WHEN i % 10 = 0 THEN 'survey.response'
                WHEN i % 50 = 1 THEN 'subscription.cancelled' ELSE 'usage' END,
           'c' || (1 + (i * 7919) % :customers),
           :start + (i::float / :events) * interval '120 days',
           :start + (i::float / :events) * interval '120 days', 'h',
           CASE WHEN i % 10 = 0 THEN jsonb_build_object(
                    'id', 'e' || i, 'type', 'survey.response', 'channel', 'email',
                    'customer', jsonb_build_object('id', 'c' || (1 + (i * 7919) % :customers),
                                                   'segment', 'smb'),
                    'score', jsonb_build_object('kind', (ARRAY['nps','csat','ces'])[1 + i % 3],
                                                'value', 1 + (i / 10) % 5))
                ELSE jsonb_build_object('id', 'e' || i, 'type', 'usage',
                                        'customer', jsonb_build_object('id', 'c' || i)) END
    FROM generate_series(1::bigint, :events) AS i
    """,
    """
    INSERT INTO outbox (topic, idempotency_key, payload, created_at, available_at, attempts)
    SELECT CASE WHEN (i * 31) % 10 = 0 THEN 'playbook.holdout' ELSE 'playbook.treated' END,
           'x:' || i,
           jsonb_build_object('customer_id', 'c' || (1 + (i / 10) % :customers),
                              'event_id', 'e' || i, 'rule', 'signals/rule-' || (i % 4)),
           :start, :start, 0
    FROM generate_series(1::bigint, :events) AS i
    WHERE i % 10 = 3 AND i <= :exposures * 10
    """,
    "ANALYZE",
]


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm the caches once
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"p50": statistics.median(times), "p95": p95, "max": times[-1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--events-per-case", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--skip-first", action="store_true", help="time only after --replicate")
    parser.add_argument(
        "--replicate",
        type=int,
        default=1,
        help="After the worker caught up, copy the per-case facts and the exposures this many "
        "times over (new ids) and time the reports again: the reports that read them at "
        "--replicate x the cases, without waiting for the worker to build them",
    )
    args = parser.parse_args()
    n_cases = args.cases
    n_customers = max(n_cases * 4 // 5, n_cases // 10 + 1)
    n_events = n_cases * args.events_per_case
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.url, pool_size=1)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        params = {
            "start": START,
            "customers": n_customers,
            "cases": n_cases,
            "open": n_cases // 10,
            "events": n_events,
            "exposures": n_customers,
        }
        t = time.perf_counter()
        with engine.begin() as conn:
            for statement in GENERATE:
                conn.execute(sa.text(statement), params)
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('cases', 'id'), :n)"),
                {"n": n_cases},
            )
        print(
            f"generated {n_cases:,} cases, {n_customers:,} customers, {n_events:,} events in "
            f"{time.perf_counter() - t:.0f} s"
        )
        clock = FrozenClock(datetime(2026, 5, 5, tzinfo=UTC))
        updater = analytics.AnalyticsUpdater(engine, clock)
        t = time.perf_counter()
        rounds = updater.run_until_idle()
        took = time.perf_counter() - t
        with engine.connect() as conn:
            sizes = {
                name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in (
                    "analytics_case_daily",
                    "analytics_score_daily",
                    "analytics_exposures",
                    "analytics_customer_fates",
                )
            }
        print(
            f"worker caught up in {took:.0f} s ({rounds} rounds; "
            f"{n_cases / took:,.0f} cases/s with {n_events / took:,.0f} events/s); "
            f"read models: {sizes}"
        )
        now = clock.now()
        if not args.skip_first:
            time_reports(engine, now, args.repeat, sizes)
        if args.replicate > 1:
            with engine.begin() as conn:
                for k in range(1, args.replicate):
                    conn.execute(sa.text(REPLICATE_FACTS), {"offset": k * n_cases, "n": n_cases})
                    conn.execute(sa.text(REPLICATE_EXPOSURES), {"suffix": f"-{k}"})
                conn.execute(sa.text("ANALYZE"))
                sizes["analytics_exposures"] = conn.execute(
                    sa.text("SELECT count(*) FROM analytics_exposures")
                ).scalar_one()
            print(
                f"facts and exposures replicated x{args.replicate}: "
                f"{n_cases * args.replicate:,} cases' facts"
            )
            time_reports(engine, now, args.repeat, sizes)
    finally:
        engine.dispose()
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


REPLICATE_FACTS = """
INSERT INTO analytics_case_facts
SELECT case_id + :offset, day, team, agent, category, channel, segment, priority, rule,
       opened, resolved, reopened, repeat, answered, recovered, ack_n, ack_s, fr_n, fr_s,
       fr_business_n, fr_business_s, res_n, res_s, res_business_n, res_business_s, fr_sla_n,
       fr_sla_met, fr_sla_met_wall, res_sla_n, res_sla_met, res_sla_met_wall, remedy_n,
       remedy_cost
FROM analytics_case_facts WHERE case_id <= :n
"""
REPLICATE_EXPOSURES = """
INSERT INTO analytics_exposures (customer_id, rule, arm, at, event_id, segment)
SELECT customer_id || :suffix, rule, arm, at, event_id, segment
FROM analytics_exposures WHERE customer_id NOT LIKE '%-%'
"""


def time_reports(engine: sa.Engine, now: datetime, repeat: int, sizes: dict[str, int]) -> None:
    reports: dict[str, Callable[[], Any]] = {
        "service (all)": lambda: analytics.service_metrics(engine),
        "service by day": lambda: analytics.service_metrics(engine, period="day"),
        "service by week x team": lambda: analytics.service_metrics(
            engine, period="week", by=["team"]
        ),
        "service by agent (30 days), per day": lambda: analytics.service_metrics(
            engine, start=date(2026, 3, 1), end=date(2026, 3, 31), by=["agent"], period="day"
        ),
        "service by agent (30 days)": lambda: analytics.service_metrics(
            engine, start=date(2026, 3, 1), end=date(2026, 3, 31), by=["agent"]
        ),
        "service by agent x team (30 days)": lambda: analytics.service_metrics(
            engine, start=date(2026, 3, 1), end=date(2026, 3, 31), by=["agent", "team"]
        ),
        "service by rule x priority x channel": lambda: analytics.service_metrics(
            engine, by=["rule", "priority", "channel"]
        ),
        "service, one team by category": lambda: analytics.service_metrics(
            engine, by=["category"], filters={"team": "team-3"}
        ),
        "scores by week": lambda: analytics.score_metrics(engine, period="week"),
        "backlog by team": lambda: analytics.backlog(engine, now, "team"),
    }
    for name, fn in reports.items():
        got = timed(fn, repeat)
        print(
            f"  {name:40s} p50 {got['p50']:7.1f} ms  p95 {got['p95']:7.1f} ms  "
            f"max {got['max']:7.1f} ms"
        )
    got = timed(lambda: analytics.paradox_report(engine, now), max(3, repeat // 5))
    print(
        f"  {'recovery paradox (every customer)':40s} p50 {got['p50']:7.1f} ms  "
        f"p95 {got['p95']:7.1f} ms"
    )
    got = timed(
        lambda: analytics.retention_report(engine, now, by=["rule", "segment"]),
        max(3, repeat // 5),
    )
    print(
        f"  {'retention by rule x segment':40s} p50 {got['p50']:7.1f} ms  "
        f"p95 {got['p95']:7.1f} ms  ({sizes['analytics_exposures']:,} exposures)"
    )


if __name__ == "__main__":
    main()
