"""The event schema at the edge: each field rule, error paths, and the content hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from winback.events.model import EVENT_TYPES
from winback.events.schema import (
    MAX_ATTRIBUTES_BYTES,
    MAX_ATTRIBUTES_DEPTH,
    MAX_BATCH_EVENTS,
    MAX_TEXT_CHARS,
    EventValidationError,
    FutureLimit,
    IncomingEvent,
    parse_event,
    parse_events,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
FIVE_MINUTES_AHEAD = FutureLimit(NOW, timedelta(seconds=300))


def event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "evt-1", "type": "complaint", "customer": {"id": "cus-1"}}
    body.update(overrides)
    return body


def survey(kind: str, value: int, **overrides: Any) -> dict[str, Any]:
    return event(type="survey.response", score={"kind": kind, "value": value}, **overrides)


def errors_of(body: Any) -> list[dict[str, str]]:
    with pytest.raises(EventValidationError) as caught:
        parse_events(body)
    return caught.value.errors


def paths_of(body: Any) -> list[str]:
    return [e["path"] for e in errors_of(body)]


# -- accepted shapes ---------------------------------------------------------------------------
def test_a_single_event_object_is_parsed_into_one_incoming_event() -> None:
    [parsed] = parse_events(event(text="  Third time asking  ", channel="chat"))

    assert isinstance(parsed, IncomingEvent)
    assert (parsed.event_id, parsed.type, parsed.customer_id) == ("evt-1", "complaint", "cus-1")
    assert parsed.occurred_at is None
    assert parsed.payload == {
        "id": "evt-1",
        "type": "complaint",
        "customer": {"id": "cus-1"},
        "channel": "chat",
        "text": "Third time asking",
    }


def test_a_batch_is_parsed_in_order() -> None:
    parsed = parse_events({"events": [event(id="a"), event(id="b"), event(id="c")]})

    assert [p.event_id for p in parsed] == ["a", "b", "c"]


def test_every_known_event_type_is_accepted() -> None:
    for event_type in EVENT_TYPES:
        extra = {"score": {"kind": "nps", "value": 9}} if event_type == "survey.response" else {}
        [parsed] = parse_events(event(type=event_type, **extra))
        assert parsed.type == event_type


# -- type ------------------------------------------------------------------------------------
def test_an_unknown_type_is_refused_with_the_list_of_allowed_types() -> None:
    [error] = errors_of(event(type="complaint.filed"))

    assert error["path"] == "type"
    assert "'complaint.filed'" in error["message"]
    for allowed in EVENT_TYPES:
        assert allowed in error["message"]


# -- score scales ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "low", "high"), [("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)], ids=str
)
def test_each_score_kind_accepts_exactly_its_scale(kind: str, low: int, high: int) -> None:
    for value in (low, high):
        [parsed] = parse_events(survey(kind, value))
        assert parsed.payload["score"] == {"kind": kind, "value": value}
    for value in (low - 1, high + 1):
        [error] = errors_of(survey(kind, value))
        assert error == {
            "path": "score.value",
            "message": f"{kind} score must be between {low} and {high}",
        }


def test_an_unknown_score_kind_is_refused() -> None:
    assert paths_of(survey("stars", 4)) == ["score.kind"]


def test_a_non_integer_score_is_refused() -> None:
    assert paths_of(event(type="survey.response", score={"kind": "nps", "value": 7.5})) == [
        "score.value"
    ]


def test_a_survey_response_needs_a_score() -> None:
    [error] = errors_of(event(type="survey.response"))

    assert error["message"] == "a survey.response needs a score"


# -- occurred_at ------------------------------------------------------------------------------
def test_occurred_at_with_an_offset_is_stored_in_utc() -> None:
    [parsed] = parse_events(event(occurred_at="2026-11-24T09:30:00+01:00"))

    assert parsed.occurred_at == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert parsed.occurred_at is not None
    assert parsed.occurred_at.utcoffset() == timedelta(0)
    assert "occurred_at" not in parsed.payload


def test_occurred_at_in_zulu_time_is_accepted() -> None:
    [parsed] = parse_events(event(occurred_at="2026-11-24T09:30:00Z"))

    assert parsed.occurred_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("stamp", ["2026-11-24T09:30:00", "2026-11-24"])
def test_occurred_at_without_an_offset_is_refused(stamp: str) -> None:
    [error] = errors_of(event(occurred_at=stamp))

    assert error["path"] == "occurred_at"
    assert "offset" in error["message"]


@pytest.mark.parametrize("stamp", ["yesterday", 1764000000])
def test_occurred_at_that_is_not_an_rfc3339_string_is_refused(stamp: object) -> None:
    [error] = errors_of(event(occurred_at=stamp))

    assert error["path"] == "occurred_at"
    assert "RFC 3339" in error["message"]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_occurred_at_outside_the_years_1_to_9999_in_utc_is_refused(stamp: str) -> None:
    assert errors_of(event(occurred_at=stamp)) == [
        {
            "path": "occurred_at",
            "message": "out of range: in UTC it falls outside the years 1 to 9999",
        }
    ]


def test_occurred_at_may_be_up_to_the_skew_ahead_of_the_clock_but_no_further() -> None:
    on_the_limit = event(id="a", occurred_at="2026-11-24T10:35:00+01:00")  # NOW + 300 s
    beyond = event(id="b", occurred_at="2026-11-24T09:35:01Z")

    [parsed] = parse_events(on_the_limit, FIVE_MINUTES_AHEAD)
    assert parsed.occurred_at == NOW + timedelta(seconds=300)
    with pytest.raises(EventValidationError) as caught:
        parse_events({"events": [on_the_limit, beyond]}, FIVE_MINUTES_AHEAD)

    assert caught.value.errors == [
        {
            "path": "events[1].occurred_at",
            "message": "2026-11-24T09:35:01+00:00 is more than 300 s in the future "
            "(the server's time is 2026-11-24T09:30:00+00:00)",
        }
    ]


def test_a_far_future_event_is_refused_only_against_a_clock() -> None:
    far = event(occurred_at="9999-01-01T00:00:00Z")

    [parsed] = parse_events(far)  # simulations and tests parse without a clock
    assert parsed.occurred_at == datetime(9999, 1, 1, tzinfo=UTC)
    with pytest.raises(EventValidationError) as caught:
        parse_event(far, "events[0]", FIVE_MINUTES_AHEAD)
    [error] = caught.value.errors
    assert error["path"] == "events[0].occurred_at"
    assert error["message"].startswith("9999-01-01T00:00:00+00:00 is more than 300 s")


def test_past_events_and_events_without_a_time_pass_the_future_limit() -> None:
    past = event(id="a", occurred_at="2020-01-01T00:00:00Z")

    parsed = parse_events({"events": [past, event(id="b")]}, FIVE_MINUTES_AHEAD)

    assert [p.event_id for p in parsed] == ["a", "b"]


# -- sizes -----------------------------------------------------------------------------------
def test_text_may_hold_ten_thousand_characters_but_no_more() -> None:
    [parsed] = parse_events(event(text="x" * MAX_TEXT_CHARS))
    assert len(parsed.payload["text"]) == MAX_TEXT_CHARS == 10_000

    assert paths_of(event(text="x" * (MAX_TEXT_CHARS + 1))) == ["text"]


def _attributes_of_json_size(size: int) -> dict[str, str]:
    # {"k":"..."} is 8 bytes of JSON around the value.
    return {"k": "v" * (size - 8)}


def test_attributes_may_hold_16_kib_of_json_but_no_more() -> None:
    assert MAX_ATTRIBUTES_BYTES == 16 * 1024
    fits = _attributes_of_json_size(MAX_ATTRIBUTES_BYTES)
    [parsed] = parse_events(event(attributes=fits))
    assert parsed.payload["attributes"] == fits

    [error] = errors_of(event(attributes=_attributes_of_json_size(MAX_ATTRIBUTES_BYTES + 1)))
    assert error["path"] == "attributes"
    assert str(MAX_ATTRIBUTES_BYTES) in error["message"]


def test_customer_attributes_have_the_same_16_kib_limit() -> None:
    too_big = _attributes_of_json_size(MAX_ATTRIBUTES_BYTES + 1)

    assert paths_of(event(customer={"id": "cus-1", "attributes": too_big})) == [
        "customer.attributes"
    ]


def _nested(depth: int, container: str = "object") -> Any:
    """A value with ``depth`` levels of objects (or lists) around a string."""
    value: Any = "x"
    for _ in range(depth):
        value = {"k": value} if container == "object" else [value]
    return value


def test_attributes_may_nest_32_levels_but_no_more() -> None:
    assert MAX_ATTRIBUTES_DEPTH == 32
    fits = _nested(MAX_ATTRIBUTES_DEPTH)
    [parsed] = parse_events(event(attributes=fits))
    assert parsed.payload["attributes"] == fits

    [error] = errors_of(event(attributes=_nested(MAX_ATTRIBUTES_DEPTH + 1)))
    assert error == {"path": "attributes", "message": "attributes may nest at most 32 levels deep"}


@pytest.mark.parametrize("depth", [500, 1000])
@pytest.mark.parametrize("container", ["object", "list"])
def test_deeply_nested_attributes_are_a_field_error(depth: int, container: str) -> None:
    # Past 255 levels the JSON writer gives up: the error must still name the field.
    deep = {"k": _nested(depth - 1, container)}

    assert paths_of(event(attributes=deep)) == ["attributes"]
    assert paths_of(event(customer={"id": "cus-1", "attributes": deep})) == ["customer.attributes"]


# -- amount and currency ---------------------------------------------------------------------
def test_an_amount_needs_a_currency_and_a_currency_needs_an_amount() -> None:
    [error] = errors_of(event(type="payment.failed", amount=49.0))
    assert error["message"] == "amount and currency go together: give both or neither"

    [error] = errors_of(event(type="payment.failed", currency="EUR"))
    assert error["message"] == "amount and currency go together: give both or neither"

    [parsed] = parse_events(event(type="payment.failed", amount=49.0, currency="EUR"))
    assert (parsed.payload["amount"], parsed.payload["currency"]) == (49.0, "EUR")


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R"])
def test_currency_must_be_a_three_letter_code_in_capitals(currency: str) -> None:
    assert paths_of(event(type="payment.failed", amount=1, currency=currency)) == ["currency"]


def test_a_negative_amount_is_refused() -> None:
    assert paths_of(event(type="payment.failed", amount=-1, currency="EUR")) == ["amount"]


# -- customer ---------------------------------------------------------------------------------
def test_an_event_needs_a_customer_with_an_id() -> None:
    assert paths_of({"id": "evt-1", "type": "complaint"}) == ["customer"]
    assert paths_of(event(customer={"email": "a@example.com"})) == ["customer.id"]
    assert paths_of(event(customer={"id": "   "})) == ["customer.id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("timezone", "Mars/Olympus_Mons"),
        ("language", "english please"),
        ("value", -5),
    ],
)
def test_customer_fields_are_checked(field: str, value: object) -> None:
    assert paths_of(event(customer={"id": "cus-1", field: value})) == [f"customer.{field}"]


def test_valid_customer_fields_are_kept() -> None:
    customer = {
        "id": "cus-1",
        "email": "ana@example.com",
        "timezone": "Europe/Berlin",
        "language": "pt-BR",
        "value": 1200.0,
    }

    [parsed] = parse_events(event(customer=customer))

    assert parsed.payload["customer"] == customer


# -- unknown fields ---------------------------------------------------------------------------
def test_unknown_fields_are_refused_at_every_level() -> None:
    assert paths_of(event(colour="red")) == ["colour"]
    assert paths_of(event(customer={"id": "cus-1", "colour": "red"})) == ["customer.colour"]
    assert paths_of(survey("nps", 3) | {"score": {"kind": "nps", "value": 3, "x": 1}}) == [
        "score.x"
    ]


def test_a_batch_body_with_fields_besides_events_is_refused() -> None:
    [error] = errors_of({"events": [event()], "source": "crm"})

    assert error == {"path": "(body)", "message": "unexpected fields: source"}


# -- batches ----------------------------------------------------------------------------------
def test_an_empty_batch_is_refused() -> None:
    [error] = errors_of({"events": []})

    assert error["path"] == "events"
    assert "got 0" in error["message"]


def test_a_batch_of_1000_is_accepted_but_1001_is_refused() -> None:
    assert MAX_BATCH_EVENTS == 1000
    full = [event(id=f"evt-{i}") for i in range(MAX_BATCH_EVENTS)]
    assert len(parse_events({"events": full})) == 1000

    [error] = errors_of({"events": [*full, event(id="one-too-many")]})
    assert error["path"] == "events"
    assert "got 1001" in error["message"]


def test_batch_errors_name_the_event_index_and_field_path() -> None:
    batch = [event(id=f"evt-{i}") for i in range(5)]
    batch[3] = survey("nps", 11, id="evt-3")
    batch[1] = event(id="evt-1", type="nope")

    errors = errors_of({"events": batch})

    assert [e["path"] for e in errors] == ["events[1].type", "events[3].score.value"]
    assert errors[0]["message"].startswith("unknown event type 'nope'; allowed: ")
    assert errors[1]["message"] == "nps score must be between 0 and 10"


def test_one_invalid_event_rejects_the_whole_batch_with_every_problem() -> None:
    batch = [event(id="ok"), event(id="bad-1", text=None, colour=1), survey("csat", 0, id="bad-2")]

    assert paths_of({"events": batch}) == ["events[1].colour", "events[2].score.value"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([event()], "(body)"),
        ("complaint", "(body)"),
        ({"events": event()}, "events"),
        ({"events": [event(), "evt-2"]}, "events[1]"),
    ],
)
def test_malformed_bodies_are_refused_with_a_path(body: Any, path: str) -> None:
    assert paths_of(body) == [path]


# -- content hash -----------------------------------------------------------------------------
def test_the_same_content_has_the_same_hash() -> None:
    first = parse_event(event(text="late again", occurred_at="2026-11-24T09:30:00Z"))
    again = parse_event(event(text="late again", occurred_at="2026-11-24T09:30:00Z"))

    assert first.content_hash == again.content_hash


def test_different_content_has_a_different_hash() -> None:
    base = parse_event(event(text="late again"))

    assert parse_event(event(text="late again!")).content_hash != base.content_hash
    assert parse_event(event(type="message", text="late again")).content_hash != base.content_hash
    assert (
        parse_event(event(text="late again", occurred_at="2026-11-24T09:30:00Z")).content_hash
        != base.content_hash
    )
    assert (
        parse_event(event(text="late again", customer={"id": "cus-2"})).content_hash
        != base.content_hash
    )


def test_the_hash_does_not_depend_on_key_order() -> None:
    forwards = {
        "id": "evt-1",
        "type": "survey.response",
        "customer": {"id": "cus-1", "email": "a@example.com", "plan": "pro"},
        "score": {"kind": "nps", "value": 4},
        "attributes": {"a": 1, "b": 2},
    }
    backwards = {
        "attributes": {"b": 2, "a": 1},
        "score": {"value": 4, "kind": "nps"},
        "customer": {"plan": "pro", "email": "a@example.com", "id": "cus-1"},
        "type": "survey.response",
        "id": "evt-1",
    }

    assert parse_event(forwards).content_hash == parse_event(backwards).content_hash


def test_the_same_instant_in_another_offset_has_the_same_hash() -> None:
    berlin = parse_event(event(occurred_at="2026-11-24T10:30:00+01:00"))
    utc = parse_event(event(occurred_at="2026-11-24T09:30:00Z"))

    assert berlin.content_hash == utc.content_hash


# -- NUL characters (PostgreSQL can store none in text or JSONB) -----------------------------
def test_a_nul_character_anywhere_is_refused_with_its_path() -> None:
    bad = event(
        text="a\x00b",
        customer={"id": "cus-1", "attributes": {"notes": ["fine", "not\x00fine"]}},
    )

    errors = errors_of({"events": [event(id="ok"), bad]})

    assert [e["path"] for e in errors] == [
        "events[1].customer.attributes.notes[1]",
        "events[1].text",
    ]
    assert {e["message"] for e in errors} == {"must not contain NUL characters (\\u0000)"}


def test_a_nul_character_in_an_attribute_name_is_refused() -> None:
    [error] = errors_of(event(attributes={"k\x00": 1}))

    assert error["path"] == "attributes.k\\u0000"
