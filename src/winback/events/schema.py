"""The event schema at the edge: what senders may send, validated with field-level errors.

:func:`parse_events` takes a decoded JSON body (one event object, or ``{"events": [...]}``)
and returns validated :class:`IncomingEvent` values, or raises :class:`EventValidationError`
carrying one ``{"path", "message"}`` per problem. A batch with any invalid event is rejected
whole: the caller stores nothing.

Each incoming event gets a content hash (over its canonical JSON, leaving out ``occurred_at``
when the sender did not give one) so a retry of the same event is recognised as a duplicate and
the same id with different content as a conflict.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from winback.clock import ensure_utc
from winback.events.model import EVENT_TYPES, SCORE_SCALES
from winback.payment import may_hold_payment, scrub_payment

MAX_BATCH_EVENTS = 1000
MAX_TEXT_CHARS = 10_000
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_ATTRIBUTES_DEPTH = 32  # objects and lists inside ``attributes``, itself the first level

_EVENT_TYPE_SET = frozenset(EVENT_TYPES)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Medium = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects or lists more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterator[Any] = iter(item.values())
        elif isinstance(item, list):
            children = iter(item)
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _check_attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    # Checked before serialising: orjson refuses to write JSON nested past 255 levels.
    if _too_deep(value, MAX_ATTRIBUTES_DEPTH):
        raise ValueError(f"attributes may nest at most {MAX_ATTRIBUTES_DEPTH} levels deep")
    if len(orjson.dumps(value)) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON")
    return value


@dataclass(frozen=True)
class FutureLimit:
    """How far ahead of the receiving clock an ``occurred_at`` may be: ``skew`` after ``now``.

    Senders' clocks drift, so a little is tolerated; an event stamped further ahead is refused,
    since the windowed churn features ("complaints in the last 7 days") are measured back from
    a customer's latest event time.
    """

    now: datetime
    skew: timedelta

    def check(self, at: datetime) -> None:
        if at > self.now + self.skew:
            raise ValueError(
                f"{at.isoformat()} is more than {self.skew.total_seconds():g} s in the future "
                f"(the server's time is {self.now.isoformat()})"
            )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(_Strict):
    """Who the event is about. Fields given here update the stored customer (later wins)."""

    id: Id = Field(description="Your unique id for the customer.")
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    name: Medium | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    segment: Short | None = None
    plan: Short | None = None
    value: float | None = Field(default=None, ge=0, description="Annual revenue from them.")
    timezone: Short | None = Field(default=None, description="IANA name, e.g. Europe/Berlin.")
    location: Medium | None = None
    language: Annotated[str, StringConstraints(max_length=35)] | None = Field(
        default=None,
        description="BCP 47 tag, e.g. en or pt-BR.",
        json_schema_extra={"pattern": _LANGUAGE.pattern},
    )
    attributes: dict[str, Any] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not _LANGUAGE.match(value):
            raise ValueError("not a BCP 47 language tag (e.g. en, de, pt-BR)")
        return value

    _attributes = field_validator("attributes")(classmethod(lambda cls, v: _check_attributes(v)))


class ScoreIn(_Strict):
    """A survey score; the scale depends on the kind (NPS 0-10, CSAT 1-5, CES 1-7)."""

    kind: Literal["nps", "csat", "ces"]
    value: int

    @field_validator("value")
    @classmethod
    def _on_scale(cls, value: int, info: ValidationInfo) -> int:
        # A field validator (not a model one) so the error's path ends in ``score.value``.
        kind = info.data.get("kind")
        if kind is None:  # the kind itself is invalid and reported on its own
            return value
        low, high = SCORE_SCALES[kind]
        if not low <= value <= high:
            raise ValueError(f"{kind} score must be between {low} and {high}")
        return value


class TicketIn(_Strict):
    id: Id
    status: Short | None = None


class EventIn(_Strict):
    """One event. ``id`` is the idempotency key: sending it again changes nothing."""

    id: Id = Field(description="Your unique id for this event (the idempotency key).")
    # Typed ``str`` so an unknown type gets a message listing the known ones; the schema still
    # documents the list (as do ``pattern`` below for the fields checked by a validator).
    type: str = Field(
        description="One of: " + ", ".join(EVENT_TYPES) + ".",
        json_schema_extra={"enum": list(EVENT_TYPES)},
    )
    occurred_at: datetime | None = Field(
        default=None, description="RFC 3339 with an offset; defaults to the time of receipt."
    )
    customer: CustomerIn
    channel: Short | None = None
    touchpoint: Medium | None = None
    location: Medium | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] | None = None
    score: ScoreIn | None = None
    amount: float | None = Field(default=None, ge=0)
    currency: str | None = Field(
        default=None,
        description="ISO 4217 code, e.g. EUR.",
        json_schema_extra={"pattern": _CURRENCY.pattern},
    )
    ticket: TicketIn | None = None
    attributes: dict[str, Any] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in _EVENT_TYPE_SET:
            raise ValueError(f"unknown event type {value!r}; allowed: {', '.join(EVENT_TYPES)}")
        return value

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 string, e.g. 2026-11-24T09:30:00+01:00")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not an RFC 3339 timestamp, e.g. 2026-11-24T09:30:00+01:00") from None
        if parsed.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-24T09:30:00Z or +01:00")
        return parsed

    @field_validator("occurred_at")
    @classmethod
    def _in_range(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return value
        try:
            at = value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:30:00+01:00 is before year 1 in UTC
            raise ValueError("out of range: in UTC it falls outside the years 1 to 9999") from None
        limit = (info.context or {}).get("future_limit")
        if isinstance(limit, FutureLimit):
            limit.check(at)
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.match(value):
            raise ValueError("must be an ISO 4217 code in capitals, e.g. EUR")
        return value

    _attributes = field_validator("attributes")(classmethod(lambda cls, v: _check_attributes(v)))

    @model_validator(mode="after")
    def _consistent(self) -> EventIn:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("amount and currency go together: give both or neither")
        if self.type == "survey.response" and self.score is None:
            raise ValueError("a survey.response needs a score")
        return self


class EventBatchIn(_Strict):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class IngestResultItem(BaseModel):
    id: str
    status: Literal["accepted", "duplicate"]


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    events: list[IngestResultItem]


@dataclass(frozen=True)
class IncomingEvent:
    """A validated event ready to be logged."""

    event_id: str
    type: str
    customer_id: str
    occurred_at: datetime | None  # None: the sender left it to us (time of receipt)
    payload: dict[str, Any]  # JSON-ready, without occurred_at (added at receipt)
    content_hash: str


class EventValidationError(Exception):
    """Invalid input. ``errors`` holds ``{"path": ..., "message": ...}`` per problem."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))
        self.errors = errors


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def _errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [
        {
            "path": _path(prefix, tuple(err["loc"])),
            "message": err["msg"].removeprefix("Value error, "),
        }
        for err in exc.errors(include_url=False)
    ]


def to_incoming(model: EventIn) -> IncomingEvent:
    """The event ready to log. Card numbers and IBANs anywhere in it are replaced here, before
    the content hash and the durable write (docs/privacy.md): the hash is over what is stored,
    so a retry of the same event is still a duplicate, and no raw payment data reaches it."""
    payload = model.model_dump(mode="json", exclude_none=True, exclude={"occurred_at"})
    occurred_at = None if model.occurred_at is None else ensure_utc(model.occurred_at)
    hashed = dict(payload)
    if occurred_at is not None:
        hashed["occurred_at"] = occurred_at.isoformat()
    canonical = orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)
    if may_hold_payment(canonical):  # one scan in C; most events stop here
        scrubbed = scrub_payment(payload)
        if scrubbed is not payload:
            payload = scrubbed
            hashed = {
                **payload,
                **({} if occurred_at is None else {"occurred_at": hashed["occurred_at"]}),
            }
            canonical = orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.blake2b(canonical, digest_size=16)
    return IncomingEvent(
        event_id=model.id,
        type=model.type,
        customer_id=model.customer.id,
        occurred_at=occurred_at,
        payload=payload,
        content_hash=digest.hexdigest(),
    )


def parse_event(
    obj: Any, prefix: str = "", future_limit: FutureLimit | None = None
) -> IncomingEvent:
    """Validate one event object (``prefix`` names it in error paths, e.g. ``events[3]``).

    With ``future_limit``, an ``occurred_at`` further ahead of the clock than it allows is an
    error; without, any time is accepted (simulations, tests).
    """
    if not isinstance(obj, dict):
        raise EventValidationError([{"path": prefix or "(body)", "message": "must be an object"}])
    try:
        model = EventIn.model_validate(obj, context={"future_limit": future_limit})
        incoming = to_incoming(model)
    except ValidationError as exc:
        raise EventValidationError(_errors(exc, prefix)) from None
    nul = [
        {"path": _path(prefix, loc), "message": "must not contain NUL characters (\\u0000)"}
        for loc in _nul_locations(incoming.payload)
    ]
    if nul:
        raise EventValidationError(nul)
    return incoming


def _nul_locations(value: Any, loc: tuple[int | str, ...] = ()) -> Iterator[tuple[int | str, ...]]:
    """Where ``value`` holds a NUL character: PostgreSQL stores none in text or JSONB."""
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            here = (*loc, key.replace("\x00", "\\u0000"))
            if "\x00" in key:
                yield here
            yield from _nul_locations(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_locations(item, (*loc, index))


def parse_events(body: Any, future_limit: FutureLimit | None = None) -> list[IncomingEvent]:
    """Validate a request body: one event object, or ``{"events": [...]}``."""
    if not isinstance(body, dict):
        raise EventValidationError(
            [{"path": "(body)", "message": 'must be an event object or {"events": [...]}'}]
        )
    if "events" not in body:
        return [parse_event(body, future_limit=future_limit)]
    if set(body) != {"events"}:
        extra = ", ".join(sorted(set(body) - {"events"}))
        raise EventValidationError([{"path": "(body)", "message": f"unexpected fields: {extra}"}])
    items = body["events"]
    if not isinstance(items, list):
        raise EventValidationError([{"path": "events", "message": "must be a list of events"}])
    if not 1 <= len(items) <= MAX_BATCH_EVENTS:
        raise EventValidationError(
            [
                {
                    "path": "events",
                    "message": f"a batch holds 1 to {MAX_BATCH_EVENTS} events, got {len(items)}",
                }
            ]
        )
    parsed: list[IncomingEvent] = []
    errors: list[dict[str, str]] = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_event(item, f"events[{index}]", future_limit))
        except EventValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise EventValidationError(errors)
    return parsed
