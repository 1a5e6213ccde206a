"""Customer preferences and the decision whether, when and where a message may go.

Preferences come from the API (``PUT /v1/customers/{id}/preferences``, stored as a document);
the customer's contact details (e-mail, phone, language, time zone) come from their events'
``customer`` fields, kept by the profile merge. :func:`decide` combines them with the
organisation's :class:`Policy` into a :class:`Verdict`:

1. an opt-out of the message's kind (``service``/``marketing``) suppresses it;
2. the channel is the first of: the preferred channel, the channel the case came in on, e-mail,
   SMS — that is configured, not opted out of, and has an address; none: suppressed, saying why;
3. past the frequency cap (messages in the window), a non-critical message is suppressed;
4. inside quiet hours (the customer's own, else the policy's, in the customer's time zone) a
   message is deferred to their end — unless it is critical and the policy lets critical
   messages through.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from winback.errors import InvalidInput
from winback.outreach.messages import KINDS, MessageSpec

CUSTOMER_CHANNELS = ("email", "sms", "chat")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    @classmethod
    def parse(cls, text: str, field_name: str = "quiet_hours") -> QuietHours:
        """``"21:00-08:00"`` (local wall-clock times)."""
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
        except ValueError:
            raise InvalidInput(
                f"{field_name}: expected HH:MM-HH:MM, got {text!r}", field=field_name
            ) from None
        if start == end:
            raise InvalidInput(f"{field_name}: start and end are the same", field=field_name)
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Preferences:
    channel: str | None = None
    opt_out_channels: frozenset[str] = frozenset()
    opt_out_kinds: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None
    timezone: str | None = None
    max_per_day: int | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "opt_out_channels": sorted(self.opt_out_channels),
            "opt_out_kinds": sorted(self.opt_out_kinds),
            "quiet_hours": None if self.quiet_hours is None else str(self.quiet_hours),
            "timezone": self.timezone,
            "max_per_day": self.max_per_day,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Preferences:
        """Checked: raises :class:`~winback.errors.InvalidInput` naming the field."""
        if not doc:
            return cls()
        channel = doc.get("channel")
        if channel is not None and channel not in CUSTOMER_CHANNELS:
            raise InvalidInput(
                f"channel: one of {', '.join(CUSTOMER_CHANNELS)}, got {channel!r}", field="channel"
            )
        channels = frozenset(doc.get("opt_out_channels") or ())
        if not channels <= set(CUSTOMER_CHANNELS):
            bad = sorted(channels - set(CUSTOMER_CHANNELS))
            raise InvalidInput(f"opt_out_channels: unknown {bad}", field="opt_out_channels")
        kinds = frozenset(doc.get("opt_out_kinds") or ())
        if not kinds <= set(KINDS):
            bad = sorted(kinds - set(KINDS))
            raise InvalidInput(f"opt_out_kinds: unknown {bad}", field="opt_out_kinds")
        quiet = doc.get("quiet_hours")
        zone = doc.get("timezone")
        if zone is not None:
            zone_of(zone, "timezone")
        cap = doc.get("max_per_day")
        if cap is not None and (not isinstance(cap, int) or cap < 0):
            raise InvalidInput("max_per_day: a whole number >= 0", field="max_per_day")
        return cls(
            channel=channel,
            opt_out_channels=channels,
            opt_out_kinds=kinds,
            quiet_hours=None if not quiet else QuietHours.parse(str(quiet)),
            timezone=zone,
            max_per_day=cap,
        )


@dataclass(frozen=True)
class Contact:
    """How to reach a customer (their profile's fields)."""

    customer_id: str
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    timezone: str | None = None
    name: str | None = None

    def address(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.phone


@dataclass(frozen=True)
class Policy:
    """The organisation's rules (settings)."""

    quiet_hours: QuietHours | None = None
    critical_overrides_quiet_hours: bool = True
    max_per_window: int = 5
    window: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Verdict:
    action: str  # "send" | "defer" | "suppress"
    channel: str | None = None
    address: str | None = None
    until: datetime | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def zone_of(name: str | None, field_name: str = "timezone") -> ZoneInfo:
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory name
        raise InvalidInput(f"{field_name}: unknown time zone {name!r}", field=field_name) from None


def decide(
    spec: MessageSpec,
    prefs: Preferences,
    contact: Contact,
    *,
    configured: Collection[str],
    case_channel: str | None,
    sent_in_window: int,
    policy: Policy,
    now: datetime,
) -> Verdict:
    """May this message go now, later or never, and on which channel (module docstring)."""
    if spec.kind in prefs.opt_out_kinds:
        return Verdict("suppress", reason=f"the customer opted out of {spec.kind} messages")
    candidates = [prefs.channel, case_channel, "email", "sms"]
    refused: list[str] = []
    channel = address = None
    for option in candidates:
        if option is None or option not in CUSTOMER_CHANNELS or option in refused:
            continue
        if option in prefs.opt_out_channels:
            refused.append(option)
            continue
        if option not in configured:
            refused.append(option)
            continue
        found = contact.address(option)
        if not found:
            refused.append(option)
            continue
        channel, address = option, found
        break
    if channel is None:
        why = []
        for option in refused:
            if option in prefs.opt_out_channels:
                why.append(f"opted out of {option}")
            elif option not in configured:
                why.append(f"{option} not configured")
            else:
                why.append(f"no {'e-mail address' if option == 'email' else 'phone number'}")
        return Verdict("suppress", reason="no channel to reach the customer: " + "; ".join(why))
    cap = policy.max_per_window if prefs.max_per_day is None else prefs.max_per_day
    if not spec.critical and sent_in_window >= cap:
        return Verdict(
            "suppress",
            channel,
            address,
            reason=f"frequency cap: {sent_in_window} messages already sent in the last "
            f"{policy.window.total_seconds() / 3600:g} h (cap {cap})",
        )
    quiet = prefs.quiet_hours or policy.quiet_hours
    if quiet is not None and not (spec.critical and policy.critical_overrides_quiet_hours):
        try:
            zone = zone_of(prefs.timezone or contact.timezone)
        except InvalidInput:  # a profile's time zone no one checked: UTC rather than nothing
            zone = zone_of(None)
        local = now.astimezone(zone)
        if quiet.contains(local.time().replace(tzinfo=None)):
            end = datetime.combine(local.date(), quiet.end, zone)
            if end <= local:
                end = datetime.combine(local.date() + timedelta(days=1), quiet.end, zone)
            return Verdict(
                "defer",
                channel,
                address,
                until=end.astimezone(UTC),
                reason=f"quiet hours {quiet} ({zone.key}): deferred to {end:%H:%M} local time",
            )
    return Verdict("send", channel, address)
