"""Outreach: what Winback says to the customer and to subscribers, and how it gets there.

Plain rules (no I/O): :mod:`~winback.outreach.messages` (which outbox topic sends which
message), :mod:`~winback.outreach.preferences` (opt-outs, quiet hours, frequency cap, the
channel), :mod:`~winback.outreach.retry` (backoff with jitter), :mod:`~winback.outreach.templates`
(Jinja2 in a sandbox, per language). The channel adapters at the edge live in
:mod:`winback.outreach.channels`; the relay that drives them is
:mod:`winback.services.relay`. See docs/outreach.md.
"""
