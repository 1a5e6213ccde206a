"""Whether, when and where a message to a customer may go."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from winback.errors import InvalidInput
from winback.outreach.messages import MESSAGES, message_for
from winback.outreach.preferences import Contact, Policy, Preferences, QuietHours, decide
from winback.outreach.retry import RetryPolicy

ACK = MESSAGES["case.acknowledgement"]
REPLY = MESSAGES["case.reply"]
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ANA = Contact("cus-1", email="ana@example.com", phone="+15550100", timezone="Europe/Madrid")


def verdict(
    prefs: Preferences = Preferences(),
    contact: Contact = ANA,
    *,
    spec=ACK,
    configured=("email", "sms"),
    case_channel=None,
    sent=0,
    policy=Policy(),
    now=NOON,
):
    return decide(
        spec,
        prefs,
        contact,
        configured=configured,
        case_channel=case_channel,
        sent_in_window=sent,
        policy=policy,
        now=now,
    )


def test_sends_by_email_by_default() -> None:
    got = verdict()
    assert (got.action, got.channel, got.address) == ("send", "email", "ana@example.com")


def test_the_preferred_channel_wins_over_the_channel_the_case_came_in_on() -> None:
    assert verdict(Preferences(channel="sms"), case_channel="email").channel == "sms"
    assert verdict(case_channel="sms").channel == "sms"


def test_an_opted_out_channel_falls_back_to_the_next_and_none_left_says_why() -> None:
    assert verdict(Preferences(opt_out_channels=frozenset({"email"}))).channel == "sms"
    got = verdict(Preferences(opt_out_channels=frozenset({"email", "sms"})))
    assert got.action == "suppress"
    assert got.reason == "no channel to reach the customer: opted out of email; opted out of sms"


def test_a_channel_not_configured_or_without_an_address_is_skipped() -> None:
    got = verdict(contact=Contact("c", phone="+1555"), configured=("email",))
    assert got.action == "suppress"
    assert "no e-mail address" in (got.reason or "")
    assert "sms not configured" in (got.reason or "")


def test_an_opt_out_of_the_kind_suppresses() -> None:
    got = verdict(Preferences(opt_out_kinds=frozenset({"service"})))
    assert (got.action, got.reason) == ("suppress", "the customer opted out of service messages")


def test_the_frequency_cap_suppresses_all_but_critical_messages() -> None:
    assert verdict(sent=5).action == "suppress"
    assert "frequency cap" in (verdict(sent=5).reason or "")
    assert verdict(sent=4).action == "send"
    assert verdict(spec=REPLY, sent=50).action == "send"
    assert verdict(Preferences(max_per_day=1), sent=1).action == "suppress"


def test_quiet_hours_defer_to_their_end_in_the_customers_time_zone() -> None:
    late = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)  # 23:30 in Madrid
    got = verdict(Preferences(quiet_hours=QuietHours.parse("22:00-08:00")), now=late)
    assert got.action == "defer"
    assert got.until == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 08:00 Madrid
    assert "Europe/Madrid" in (got.reason or "")
    # Noon in Madrid is outside them.
    assert verdict(Preferences(quiet_hours=QuietHours.parse("22:00-08:00"))).action == "send"


def test_critical_messages_pass_quiet_hours_only_when_the_policy_says_so() -> None:
    late = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    quiet = Policy(quiet_hours=QuietHours.parse("22:00-08:00"))
    assert verdict(spec=REPLY, policy=quiet, now=late).action == "send"
    strict = Policy(quiet_hours=quiet.quiet_hours, critical_overrides_quiet_hours=False)
    assert verdict(spec=REPLY, policy=strict, now=late).action == "defer"


def test_preferences_are_checked_field_by_field() -> None:
    with pytest.raises(InvalidInput, match="channel"):
        Preferences.from_doc({"channel": "pigeon"})
    with pytest.raises(InvalidInput, match="quiet_hours"):
        Preferences.from_doc({"quiet_hours": "late"})
    with pytest.raises(InvalidInput, match="timezone"):
        Preferences.from_doc({"timezone": "Mars/Olympus"})
    with pytest.raises(InvalidInput, match="timezone"):
        Preferences.from_doc({"timezone": "America"})  # a directory of zones, not a zone
    doc = {"channel": "sms", "opt_out_kinds": ["marketing"], "quiet_hours": "21:00-07:30"}
    assert Preferences.from_doc(doc).to_doc()["quiet_hours"] == "21:00-07:30"


def test_an_acknowledgement_names_its_template_and_other_topics_send_nothing() -> None:
    assert message_for("case.acknowledgement", {"template": "legal"}).template == "legal"
    assert message_for("case.acknowledgement", {"template": "default"}).template == (
        "acknowledgement"
    )
    assert message_for("case.opened", {}) is None


def test_backoff_grows_exponentially_with_jitter_within_half_and_all_of_the_step() -> None:
    policy = RetryPolicy(max_attempts=4, base_seconds=2, cap_seconds=30)
    rng = random.Random(7)
    for attempts, full in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (9, 30)]:
        delays = [policy.delay(attempts, rng) for _ in range(50)]
        assert all(timedelta(seconds=full / 2) <= d <= timedelta(seconds=full) for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert not policy.exhausted(3)
    assert policy.exhausted(4)


def test_a_profile_time_zone_that_does_not_exist_counts_as_utc() -> None:
    contact = Contact("c", email="c@example.com", timezone="Nowhere/Atlantis")
    late = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    got = verdict(Preferences(quiet_hours=QuietHours.parse("22:00-08:00")), contact, now=late)
    assert got.action == "defer"
    assert got.until == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
