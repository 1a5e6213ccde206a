from __future__ import annotations

from datetime import UTC, datetime, timedelta

from winback.customers.features import (
    MAX_SIGNALS,
    RETENTION_DAYS,
    FeatureState,
    Profile,
    apply_to_state,
    build_state,
    compute_features,
    epoch,
    event_time,
    is_churned,
    record_sla_breach,
)
from winback.events.model import Event
from winback.risk.reasons import describe

from .support import T0, Text, ev


def features_of(*events, texts=None):  # type: ignore[no-untyped-def]
    texts = texts or {}
    state = build_state((e, texts.get(e.event_id)) for e in events)
    return state, compute_features(state, Profile())


def test_complaints_are_counted_in_their_windows() -> None:
    _, f = features_of(
        ev("a", "complaint", 0, text="bad"),
        ev("b", "complaint", 71, text="bad"),
        ev("c", "complaint", 95, text="bad"),
        ev("d", "complaint", 99, text="bad"),
        ev("e", "login", 100),
    )
    assert f["complaints_7d"] == 2
    assert f["complaints_30d"] == 3
    assert f["complaints_90d"] == 3  # day 0 is 100 days before the latest event


def test_negative_texts_come_from_the_text_stage_when_present() -> None:
    e1 = ev("a", "message", 1, text="thanks a lot")
    e2 = ev("b", "message", 2, text="this is awful")
    _, with_text = features_of(e1, e2, texts={"b": Text(), "a": Text(sentiment="positive")})
    assert with_text["negative_texts_7d"] == 1
    # Without the text stage, a message is not assumed negative; a complaint is.
    _, without = features_of(e1, e2, ev("c", "complaint", 3, text="bad"))
    assert without["negative_texts_7d"] == 1


def test_repeat_contacts_about_one_category_and_the_reason_names_it() -> None:
    texts = {k: Text(category="billing") for k in "abc"}
    _, f = features_of(
        ev("a", "complaint", 1, text="x"),
        ev("b", "complaint", 2, text="x"),
        ev("c", "complaint", 3, text="x"),
        ev("d", "message", 3, text="y", touchpoint="delivery"),
        texts=texts,
    )
    assert f["repeat_contacts_7d"] == 2
    assert describe("complaints_7d", f) == "3 complaints about billing in 7 days"
    assert describe("repeat_contacts_7d", f) == "contacted again about billing 2 times in 7 days"


def test_usage_trend_against_the_customers_own_baseline() -> None:
    events = [ev(f"u{d}", "usage", d, attributes={"sessions": 10}) for d in range(0, 60, 7)]
    events += [ev(f"v{d}", "usage", d, attributes={"sessions": 3}) for d in range(63, 92, 7)]
    _, f = features_of(*events)
    assert -0.7 < f["usage_trend"] < -0.5
    assert describe("usage_trend", {"usage_trend": -0.6}) == "usage down 60 % against usual"


def test_no_trend_without_enough_baseline() -> None:
    _, f = features_of(*[ev(f"u{d}", "usage", d, attributes={"sessions": 5}) for d in range(20)])
    assert f["usage_trend"] == 0.0


def test_scores_positive_signals_tickets_payments_refunds() -> None:
    _, f = features_of(
        ev("s1", "survey.response", 1, score={"kind": "nps", "value": 10}),
        ev("s2", "survey.response", 5, score={"kind": "nps", "value": 3}),
        ev("s3", "survey.response", 4, score={"kind": "csat", "value": 2}),
        ev("t1", "ticket.opened", 6, ticket={"id": "T1", "status": "open"}, text="help"),
        ev("t2", "ticket.opened", 6, ticket={"id": "T2", "status": "open"}, text="help"),
        ev("t3", "ticket.closed", 7, ticket={"id": "T2"}),
        ev("p", "payment.failed", 8, amount=10.0, currency="EUR"),
        ev("r", "refund.requested", 9, amount=5.0, currency="EUR", text="refund pls"),
    )
    assert f["last_nps"] == 3
    assert f["last_csat"] == 2
    assert f["low_scores_30d"] == 2
    assert f["days_since_positive"] == 8.0
    assert f["tickets_unresolved"] == 1
    assert f["tickets_opened_7d"] == 2
    assert f["payment_failures_30d"] == 1
    assert f["refunds_7d"] == 1


def test_tenure_value_plan_from_the_profile() -> None:
    state = build_state([(ev("a", "login", 10), None)])
    p = Profile(
        first_seen_ts=int(T0.timestamp()),
        tenure_days_given=100.0,
        tenure_given_ts=int(T0.timestamp()),
        value=1200.0,
        plan="gold",
    )
    f = compute_features(state, p)
    assert f["tenure_days"] == 110.0
    assert f["value"] == 1200.0
    assert f["plan"] == "gold"


def test_sla_breach_hook_is_counted_once_per_key() -> None:
    state = build_state([(ev("a", "complaint", 1, text="x"), None)])
    record_sla_breach(state, "case-1:first_response", T0)
    record_sla_breach(state, "case-1:first_response", T0)
    assert compute_features(state, Profile())["sla_breaches_7d"] == 1


def test_state_is_bounded() -> None:
    state = FeatureState()
    for i in range(MAX_SIGNALS + 300):
        apply_to_state(state, ev(f"e{i:05d}", "login", i / 100))
    assert len(state.signals) == MAX_SIGNALS
    apply_to_state(state, ev("late", "login", 1000))
    assert all(s.ts >= state.max_ts - RETENTION_DAYS * 86400 for s in state.signals.values())


def test_cancellation_then_renewal() -> None:
    state = build_state([(ev("c", "subscription.cancelled", 5), None)])
    assert is_churned(state)
    apply_to_state(state, ev("r", "subscription.renewed", 6))
    assert not is_churned(state)


def test_state_survives_json() -> None:
    state, _ = features_of(
        ev("t1", "ticket.opened", 6, ticket={"id": "T1", "status": "open"}, text="help"),
        ev("s2", "survey.response", 5, score={"kind": "nps", "value": 3}),
    )
    assert FeatureState.from_json(state.to_json()) == state


def test_an_event_counts_no_later_than_its_receipt() -> None:
    received = T0 + timedelta(days=10)
    ahead = Event(9, "z", "login", "c1", received + timedelta(minutes=2), received, {})
    far = Event(10, "f", "complaint", "c1", datetime(9999, 1, 1, tzinfo=UTC), received, {})
    on_time = ev("a", "complaint", 9, text="bad")

    assert event_time(on_time) == epoch(on_time.occurred_at)
    assert event_time(ahead) == event_time(far) == epoch(received)
    state, f = features_of(on_time, ahead, far)
    assert state.max_ts == epoch(received)
    assert f["complaints_7d"] == 2
