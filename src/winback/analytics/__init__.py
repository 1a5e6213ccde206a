"""Learning from recovery: service metrics, survey scores and retention against control groups.

Plain computations only (no I/O): ``metrics`` (what one case contributes to the service
metrics, and the metrics from summed contributions), ``scores`` (CSAT, NPS and CES from their
distributions), ``retention`` (retention after a recovery case, treated against the playbooks'
randomised hold-outs, with confidence intervals and sample sizes), ``periods`` (days folded into
weeks and months). The store keeps the read models; ``services/analytics`` maintains them.
See docs/analytics.md for every definition.
"""
