"""Building the live scorer from configuration: ``risk.yaml`` and the active model.

``risk.yaml`` (optional, in ``WINBACK_CONFIG_DIR``)::

    horizon_days: 90          # the cold-start score's horizon (a trained model keeps its own)
    jump:
      delta: 0.2              # a rise of at least this much in one event ...
      min: 0.3                # ... to at least this probability emits risk.jumped
    cold_start:
      intercept: -2.4
      weights: {complaints_7d: 0.6, payment_failures_30d: 0.8}

The active ``churn`` model in the registry (``winback models activate VERSION``) replaces the
cold-start score; without one, or if it cannot be loaded, the cold-start score runs (and the
reason is logged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from winback.models.registry import ModelRegistry, ModelRegistryError
from winback.risk.coldstart import DEFAULT_INTERCEPT, ColdStartScorer
from winback.risk.model import ModelScorer, TrainedChurnModel
from winback.risk.scoring import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_JUMP_DELTA,
    DEFAULT_JUMP_MIN,
    Scorer,
)

log = logging.getLogger(__name__)
RISK_FILE = "risk.yaml"


class RiskConfigError(Exception):
    """A ``risk.yaml`` Winback cannot start with (the message names the field)."""


@dataclass(frozen=True)
class RiskConfig:
    horizon_days: int = DEFAULT_HORIZON_DAYS
    jump_delta: float = DEFAULT_JUMP_DELTA
    jump_min: float = DEFAULT_JUMP_MIN
    intercept: float = DEFAULT_INTERCEPT
    weights: dict[str, float] = field(default_factory=dict)


def _number(data: dict[str, Any], key: str, where: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RiskConfigError(f"{where}.{key}: must be a number (got {value!r})")
    return float(value)


def load_risk_config(config_dir: Path | None) -> RiskConfig:
    path = None if config_dir is None else config_dir / RISK_FILE
    if path is None or not path.is_file():
        return RiskConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RiskConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RiskConfigError(f"{path}: must be a mapping")
    where = str(path)
    horizon = _number(data, "horizon_days", where, DEFAULT_HORIZON_DAYS)
    if horizon < 1 or horizon != int(horizon):
        raise RiskConfigError(f"{where}.horizon_days: a whole number of days >= 1")
    jump = data.get("jump") or {}
    cold = data.get("cold_start") or {}
    if not isinstance(jump, dict) or not isinstance(cold, dict):
        raise RiskConfigError(f"{where}: jump and cold_start must be mappings")
    weights = cold.get("weights") or {}
    if not isinstance(weights, dict):
        raise RiskConfigError(f"{where}.cold_start.weights: must be a mapping")
    config = RiskConfig(
        horizon_days=int(horizon),
        jump_delta=_number(jump, "delta", f"{where}.jump", DEFAULT_JUMP_DELTA),
        jump_min=_number(jump, "min", f"{where}.jump", DEFAULT_JUMP_MIN),
        intercept=_number(cold, "intercept", f"{where}.cold_start", DEFAULT_INTERCEPT),
        weights={str(k): _number(weights, k, f"{where}.cold_start.weights", 0.0) for k in weights},
    )
    try:
        ColdStartScorer(config.weights)
    except ValueError as exc:
        raise RiskConfigError(f"{where}.cold_start.weights: {exc}") from None
    return config


def build_scorer(config: RiskConfig, models_dir: Path | None) -> Scorer:
    """The active trained churn model, else the cold-start score."""
    if models_dir is not None:
        registry = ModelRegistry(models_dir)
        try:
            loaded = registry.load_active("churn")
        except ModelRegistryError as exc:
            log.error("churn model not loaded, using the cold-start score: %s", exc)
            loaded = None
        if loaded is not None:
            if isinstance(loaded.artifact, TrainedChurnModel):
                return ModelScorer(loaded.artifact, loaded.version)
            log.error("churn model %s is not a trained churn model; cold start", loaded.version)
    return ColdStartScorer(
        config.weights, intercept=config.intercept, horizon_days=config.horizon_days
    )
