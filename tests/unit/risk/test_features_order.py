"""Any order of a customer's events, with duplicates, gives the same feature state."""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from winback.customers.cohort import CohortUsage
from winback.customers.features import (
    FeatureState,
    Profile,
    apply_to_state,
    compute_features,
    usage_reading,
)
from winback.events.model import Event

from .support import Text, ev

TYPES = (
    "complaint",
    "message",
    "ticket.opened",
    "ticket.updated",
    "ticket.closed",
    "survey.response",
    "payment.failed",
    "refund.requested",
    "usage",
    "login",
    "outage",
    "subscription.cancelled",
    "subscription.renewed",
    "review",
)


@st.composite
def an_event(draw: st.DrawFn, index: int) -> tuple[Event, Any]:
    type_ = draw(st.sampled_from(TYPES))
    # Days up to 400 so that retention (120 days) prunes; coarse steps make ties likely.
    day = draw(st.integers(0, 400)) / 2
    data: dict[str, Any] = {}
    if type_ in ("complaint", "message", "ticket.opened", "ticket.updated", "refund.requested"):
        data["text"] = "words"
        data["touchpoint"] = draw(st.sampled_from(["billing", "delivery", "app"]))
    if type_.startswith("ticket."):
        data["ticket"] = {
            "id": draw(st.sampled_from(["T1", "T2", "T3"])),
            "status": draw(st.sampled_from(["open", "pending", "closed"])),
        }
    if type_ == "survey.response":
        kind = draw(st.sampled_from(["nps", "csat", "ces"]))
        low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[kind]
        data["score"] = {"kind": kind, "value": draw(st.integers(low, high))}
        data["text"] = "comment"
    if type_ == "usage":
        data["attributes"] = {"sessions": draw(st.integers(0, 20))}
    if type_ == "review":
        data["attributes"] = {"stars": draw(st.integers(1, 5))}
    text = None
    if "text" in data and draw(st.booleans()):
        text = Text(
            sentiment=draw(st.sampled_from(["negative", "neutral", "positive"])),
            category=draw(st.sampled_from(["billing", "delivery"])),
            urgency=draw(st.sampled_from([(), ("cancel_intent",)])),
        )
    return ev(f"e{index:03d}", type_, day, seq=index + 1, **data), text


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[Event, Any]], list[tuple[Event, Any]]]:
    n = draw(st.integers(1, 40))
    events = [draw(an_event(i)) for i in range(n)]
    duplicates = draw(st.lists(st.sampled_from(events), max_size=10))
    shuffled = draw(st.permutations(events + duplicates))
    return events, shuffled


def state_of(events: list[tuple[Event, Any]]) -> FeatureState:
    state = FeatureState()
    for event, text in events:
        apply_to_state(state, event, text)
    return state


@settings(max_examples=300, deadline=None)
@given(histories())
def test_any_order_with_duplicates_gives_the_same_state(
    history: tuple[list[tuple[Event, Any]], list[tuple[Event, Any]]],
) -> None:
    in_order, shuffled = history
    ordered = sorted(in_order, key=lambda et: (et[0].occurred_at, et[0].event_id))
    a, b = state_of(ordered), state_of(shuffled)
    assert a == b
    assert compute_features(a, Profile()) == compute_features(b, Profile())
    # The state survives its JSON form unchanged, so stored and in-memory states agree.
    assert FeatureState.from_json(b.to_json()) == b


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(1, 12))
def test_the_size_cap_keeps_the_same_signals_whatever_the_order(
    history: tuple[list[tuple[Event, Any]], list[tuple[Event, Any]]], cap: int
) -> None:
    in_order, shuffled = history
    with mock.patch("winback.customers.feature_state.MAX_SIGNALS", cap):
        a, b = state_of(in_order), state_of(shuffled)
    assert len(b.signals) <= cap
    assert a == b
    assert compute_features(a, Profile()) == compute_features(b, Profile())


def cohorts_of(events: list[tuple[Event, Any]]) -> CohortUsage:
    cohorts = CohortUsage()
    for event, _ in events:
        reading = usage_reading(event)
        if reading is not None:
            cohorts.add(reading[0], "basic", reading[1])
    return cohorts


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms())
def test_the_usage_cohorts_and_the_level_are_the_same_whatever_the_order(
    history: tuple[list[tuple[Event, Any]], list[tuple[Event, Any]]], rng: Any
) -> None:
    in_order, shuffled = history
    # Each event once (the processor runs each event once; the cohort counts rely on that).
    once = list(in_order)
    rng.shuffle(once)
    a, b = cohorts_of(in_order), cohorts_of(once)
    assert sorted(a.rows()) == sorted(b.rows())
    assert a.median("sessions", "basic") == b.median("sessions", "basic")
    profile = Profile(plan="basic")
    assert compute_features(state_of(in_order), profile, None, a) == compute_features(
        state_of(shuffled), profile, None, b
    )
