"""Churn risk: the probability a customer leaves within the horizon, with its reasons.

- :mod:`winback.risk.scoring` — the score a stage records (:class:`RiskScore`), the
  :class:`Scorer` protocol and the stored per-customer :class:`CustomerRisk`;
- :mod:`winback.risk.coldstart` — the transparent weighted score used until a model is trained;
- :mod:`winback.risk.model` — a trained model compiled for the live path (plain numpy);
- :mod:`winback.pipeline.stages.risk` — the processor stage;
- :mod:`winback.risk.training`, :mod:`winback.risk.evaluation`, :mod:`winback.risk.history`,
  :mod:`winback.risk.cli` — learning and measuring (I/O lives there, never in scoring).
"""
