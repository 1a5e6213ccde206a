"""The trainable text models: sentiment and category classifiers learnt from your own labels.

Both are the same scikit-learn pipeline: word 1-2-gram and character 2-5-gram TF-IDF, plus
(for sentiment) the default lexicon model's scores as extra features, into a class-balanced,
L2-regularised logistic regression. Everything is fitted inside :meth:`fit`, so in
cross-validation nothing is learnt outside the training fold.

With ``embeddings=True`` (needs the optional extra ``winback[embeddings]``) the
all-MiniLM-L6-v2 sentence embeddings of each text (384 numbers, unit length), times
``embedding_weight``, are appended to those features. The encoder is not part of the model: it
is left out when the model is pickled and created again on first use after loading; a model
that needs it refuses to load, naming the extra, where the extra is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from winback.text import embeddings as _embeddings
from winback.text.sentiment import LexiconSentiment
from winback.text.tokens import normalise


def _lexicon_features(model: LexiconSentiment, texts: Sequence[str]) -> Any:
    rows = []
    for text in texts:
        r = model.score(text)
        rows.append(
            (
                r.score,
                r.label == "negative",
                r.label == "positive",
                max(-r.complaint, 0.0) / 4.0,
                r.praise / 4.0,
            )
        )
    return sparse.csr_matrix(np.asarray(rows, dtype=np.float64))


class TextClassifier:
    """TF-IDF word + character n-grams (+ lexicon scores) (+ sentence embeddings) → logistic
    regression.

    ``embedder`` (only with ``embeddings=True``) replaces the process-wide
    :func:`~winback.text.embeddings.default_embedder`, e.g. with vectors computed once for a
    whole data set; it is never pickled.
    """

    def __init__(
        self,
        *,
        lexicon: LexiconSentiment | None = None,
        c: float = 2.0,
        lexicon_weight: float = 1.0,
        max_iter: int = 2000,
        embeddings: bool = False,
        embedding_weight: float = 1.0,
        embedder: _embeddings.Embedder | None = None,
    ) -> None:
        if embeddings and embedder is None:
            _embeddings.require("a text model with sentence embeddings")
        self.lexicon = lexicon
        self.c = c
        self.lexicon_weight = lexicon_weight
        self.max_iter = max_iter
        self.embeddings = embeddings
        self.embedding_weight = embedding_weight
        self.embedding_model = _embeddings.MODEL_NAME if embeddings else None
        self.embedder = embedder
        self.words = TfidfVectorizer(
            preprocessor=normalise,
            ngram_range=(1, 2),
            min_df=2,
            sublinear_tf=True,
            token_pattern=r"[a-z0-9]+(?:'[a-z]+)?|[!?]",
        )
        self.chars = TfidfVectorizer(
            preprocessor=normalise,
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=2,
            sublinear_tf=True,
            max_features=200_000,
        )
        self.model = LogisticRegression(C=c, class_weight="balanced", max_iter=max_iter)

    def _features(self, texts: Sequence[str], fit: bool) -> Any:
        if fit:
            parts = [self.words.fit_transform(texts), self.chars.fit_transform(texts)]
        else:
            parts = [self.words.transform(texts), self.chars.transform(texts)]
        if self.lexicon is not None:
            parts.append(_lexicon_features(self.lexicon, texts) * self.lexicon_weight)
        if self.embeddings:
            vectors = np.asarray(self._embedder().encode(texts), dtype=np.float64)
            parts.append(sparse.csr_matrix(vectors * self.embedding_weight))
        return sparse.hstack(parts, format="csr")

    def _embedder(self) -> _embeddings.Embedder:
        if self.embedder is None:
            self.embedder = _embeddings.default_embedder()
        return self.embedder

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["embedder"] = None  # the encoder is not part of the model (re-created on use)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("embeddings", False)  # models saved before embeddings existed
        state.setdefault("embedding_weight", 1.0)
        state.setdefault("embedding_model", None)
        state.setdefault("embedder", None)
        if state["embeddings"]:
            _embeddings.require(
                f"this text model (trained with {state['embedding_model']} sentence embeddings)"
            )
        self.__dict__.update(state)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        if len(set(labels)) < 2:
            raise ValueError("training needs at least two different labels")
        self.model.fit(self._features(list(texts), fit=True), list(labels))
        return self

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.model.classes_]

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(p) for p in self.model.predict(self._features(list(texts), fit=False))]

    def predict_proba(self, texts: Sequence[str]) -> Any:
        return self.model.predict_proba(self._features(list(texts), fit=False))
