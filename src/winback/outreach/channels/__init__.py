"""Channel adapters: the edge where a message leaves Winback (SMTP, an SMS/chat provider's
HTTP API, outbound webhooks). Each one sends one message and says whether a failure is worth
retrying; the relay (:mod:`winback.services.relay`) owns the retries, the order and the record.
"""
