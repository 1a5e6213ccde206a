"""The application layer: the only writers outside the processor.

Each use case opens one write transaction, reads and locks what it changes through the
store's repositories, asks the domain for a transition, and persists the result through the one
writer (:func:`winback.store.cases.write_changes`): the case, its timeline and its outbox
effects. Entry points (the HTTP API, the CLI, the background workers) call these services and
nothing below them for writes.

- :mod:`~winback.services.cases`: agents' actions on a case (routing's assignments too),
  with idempotency keys;
- :mod:`~winback.services.remedies`: recommendations, ``apply_remedy``, ``approve``, ``reject``;
- :mod:`~winback.services.sla_timers`: firing due SLA timers, recomputing deadlines after a
  policy change;
- :mod:`~winback.services.routing`: the roster (agents set over the API), routing passes;
- :mod:`~winback.services.dryrun`: the playbooks over past events, in memory.
"""
