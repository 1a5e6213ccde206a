"""Versioned model files shared by the capabilities that learn (churn risk, text)."""

from winback.models.registry import (
    KINDS,
    LoadedModel,
    ModelInfo,
    ModelRegistry,
    ModelRegistryError,
)

__all__ = ["KINDS", "LoadedModel", "ModelInfo", "ModelRegistry", "ModelRegistryError"]
