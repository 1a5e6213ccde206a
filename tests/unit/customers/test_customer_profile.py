"""The customer profile merge: per field, the event that occurred later wins, in any order."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from winback.customers.profile import PROFILE_FIELDS, Customer, apply_event

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def merge(*events: tuple[dict[str, Any], datetime]) -> Customer:
    customer: Customer | None = None
    for fields, occurred_at in events:
        customer = apply_event(customer, {"id": "cus-1", **fields}, occurred_at, NOW)
    assert customer is not None
    return customer


def test_the_first_event_creates_the_customer() -> None:
    customer = merge(({"email": "ana@example.com", "plan": "pro"}, at(0)))

    assert customer.id == "cus-1"
    assert (customer.email, customer.plan, customer.name) == ("ana@example.com", "pro", None)
    assert customer.first_seen_at == customer.last_event_at == at(0)
    assert customer.event_count == 1
    assert customer.updated_at == NOW


def test_a_later_event_wins_per_field() -> None:
    customer = merge(
        ({"email": "old@example.com", "plan": "basic", "segment": "smb"}, at(0)),
        ({"email": "new@example.com", "plan": "pro"}, at(1)),
    )

    assert customer.email == "new@example.com"
    assert customer.plan == "pro"
    assert customer.segment == "smb"


def test_a_missing_field_never_erases_a_stored_one() -> None:
    customer = merge(({"name": "Ana", "value": 1200.0}, at(0)), ({}, at(1)))

    assert (customer.name, customer.value) == ("Ana", 1200.0)


def test_a_null_field_never_erases_a_stored_one() -> None:
    customer = merge(
        ({"name": "Ana", "phone": "+49 30 1234"}, at(0)),
        ({"name": None, "phone": None}, at(1)),
    )

    assert (customer.name, customer.phone) == ("Ana", "+49 30 1234")


def test_an_older_event_arriving_late_does_not_overwrite_newer_data() -> None:
    customer = merge(
        ({"email": "new@example.com"}, at(5)),
        ({"email": "old@example.com", "location": "Lisbon"}, at(1)),
    )

    assert customer.email == "new@example.com"
    assert customer.location == "Lisbon"  # nothing newer had set it
    assert customer.first_seen_at == at(1)
    assert customer.last_event_at == at(5)


def test_an_older_event_fills_a_field_that_only_it_knows() -> None:
    customer = merge(({"plan": "pro"}, at(5)), ({"timezone": "Europe/Berlin"}, at(1)))

    assert (customer.plan, customer.timezone) == ("pro", "Europe/Berlin")


def test_attributes_merge_per_key_with_the_same_rules() -> None:
    customer = merge(
        ({"attributes": {"tier": "gold", "region": "eu"}}, at(2)),
        ({"attributes": {"tier": "silver", "source": "crm"}}, at(1)),
        ({"attributes": {"region": None}}, at(3)),
    )

    assert customer.attributes == {"tier": "gold", "region": "eu", "source": "crm"}


def test_sub_second_order_is_respected() -> None:
    later = at(0) + timedelta(microseconds=1)

    customer = merge(({"plan": "new"}, later), ({"plan": "old"}, at(0)))

    assert customer.plan == "new"


def test_every_event_counts_and_the_last_update_time_is_the_clock() -> None:
    customer = merge(({}, at(0)), ({}, at(-1)), ({"plan": "x"}, at(3)))

    assert customer.event_count == 3
    assert customer.updated_at == NOW


# -- any order, same profile ----------------------------------------------------------------
_BOOKKEEPING = {"event_count", "updated_at", "field_times"}

_values = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
_fields = st.fixed_dictionaries(
    {},
    optional={
        **{name: _values for name in PROFILE_FIELDS if name != "value"},
        "value": st.one_of(st.none(), st.sampled_from([0.0, 10.0, 99.5])),
        "attributes": st.dictionaries(st.sampled_from(["x", "y", "z"]), _values, max_size=3),
    },
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[dict[str, Any], datetime]], list[int]]:
    """Events of one customer at distinct times, plus a permutation of their indexes."""
    minutes = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=8, unique=True))
    events = [(draw(_fields), T0 + timedelta(minutes=m)) for m in minutes]
    order = draw(st.permutations(range(len(events))))
    return events, order


def profile(customer: Customer) -> dict[str, Any]:
    return {k: v for k, v in asdict(customer).items() if k not in _BOOKKEEPING}


@given(histories())
def test_any_arrival_order_of_a_customers_events_gives_the_same_profile(
    history: tuple[list[tuple[dict[str, Any], datetime]], list[int]],
) -> None:
    events, order = history
    in_time_order = merge(*sorted(events, key=lambda e: e[1]))
    shuffled = merge(*(events[i] for i in order))

    assert profile(shuffled) == profile(in_time_order)
    assert shuffled.event_count == in_time_order.event_count == len(events)


@given(histories())
def test_the_merged_profile_holds_the_latest_non_null_value_of_each_field(
    history: tuple[list[tuple[dict[str, Any], datetime]], list[int]],
) -> None:
    events, order = history
    merged = merge(*(events[i] for i in order))

    for name in PROFILE_FIELDS:
        given_values = [(t, f[name]) for f, t in events if f.get(name) is not None]
        expected = max(given_values, key=lambda tv: tv[0])[1] if given_values else None
        assert getattr(merged, name) == expected
