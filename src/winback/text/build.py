"""Build the shipped default sentiment model: ``python -m winback.text.build``.

The default is a lexicon-and-rules model, so it is fast (pure Python, no numpy at run time) and
its provenance is plain:

- the general-purpose word valences of the VADER lexicon (``vader_lexicon.txt`` in the PyPI
  package ``vaderSentiment`` 3.3.2, MIT licence, Copyright (c) 2016 C.J. Hutto), single words
  only (emoticons and multi-character symbols dropped);
- overridden and extended by Winback's own hand-written service language
  (:mod:`winback.text.service_lexicon`, Apache-2.0 with the rest of Winback);
- a linear layer (multinomial logistic regression over the lexicon's evidence and word 1-2-grams)
  fitted on Winback's own labelled service messages (``data/service-messages/*.jsonl`` in the
  repository, written for Winback, Apache-2.0).

No other labelled corpus is used; in particular nothing from the Twitter US Airline Sentiment
data (CC BY-NC-SA), which is used only to *measure* the result (``winback evaluate text``).
The artifact is written to ``src/winback/text/data/sentiment-default.json`` and committed; this
script reproduces it byte for byte from the same inputs. It holds Winback's own words, phrases
and parameters, and the SHA-256 of the VADER word list it was designed with; the word list itself
is read from the installed ``vaderSentiment`` package when the model loads (a dependency of the
default install), never copied into this repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from winback.text import service_lexicon as sl
from winback.text.tokens import is_emoticon

if TYPE_CHECKING:
    from winback.text.sentiment import LexiconSentiment

DEFAULT_VERSION = "text-default-2"
ARTIFACT = Path(__file__).with_name("data") / "sentiment-default.json"
# Winback's own labelled service messages (in the repository, not in the installed package).
CORPUS = Path(__file__).resolve().parents[3] / "data" / "service-messages"
LABEL_ORDER = ("negative", "neutral", "positive")
_WORD = re.compile(r"^[a-z]+(?:'[a-z]+)?$")

VADER_NOTICE = (
    "Word valences derived from the VADER lexicon (vaderSentiment 3.3.2, vader_lexicon.txt), "
    "under this licence:\n"
    "The MIT License (MIT)\n\n"
    "Copyright (c) 2016 C.J. Hutto\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
    'software and associated documentation files (the "Software"), to deal in the Software '
    "without restriction, including without limitation the rights to use, copy, modify, merge, "
    "publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons "
    "to whom the Software is furnished to do so, subject to the following conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all copies or "
    "substantial portions of the Software.\n\n"
    'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, '
    "INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR "
    "PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE "
    "FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR "
    "OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER "
    "DEALINGS IN THE SOFTWARE."
)

# Decision thresholds on the score in [-1, 1] and the discount applied to polite or
# sarcasm-prone praise in a message that also complains. Set from the design, not fitted.
PARAMS: dict[str, float] = {
    "negative_below": -0.15,
    "positive_above": 0.35,
    "negation_factor": -0.6,
    "praise_discount_in_complaint": 0.1,
    "but_before": 0.5,
    "but_after": 1.5,
    "question_neutral_pull": 0.5,
    "exclaim_boost": 0.15,
    "normaliser": 6.0,
}


def read_vader_lexicon() -> dict[str, float]:
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    lexicon: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and (_WORD.match(parts[0]) or is_emoticon(parts[0])):
            lexicon[parts[0]] = float(parts[1])
    return lexicon


def lexicon_hash(lexicon: dict[str, float]) -> str:
    return hashlib.sha256(json.dumps(lexicon, sort_keys=True).encode()).hexdigest()


def merged_lexicon(general: dict[str, float], own: dict[str, float]) -> dict[str, float]:
    """The general word valences, overridden and extended by Winback's own (zeros dropped)."""
    lexicon = dict(general)
    lexicon.update(own)
    return {w: v for w, v in sorted(lexicon.items()) if v != 0.0}


# The linear layer's settings, chosen by leave-one-part-out cross-validation on Winback's own
# corpus (``python -m winback.text.build --select`` prints the table); see docs/text.md.
LINEAR: dict[str, Any] = {"c": 0.1, "min_count": 3, "ngrams": 2, "class_weight": "balanced"}


@dataclass(frozen=True)
class Labelled:
    text: str
    label: str
    part: str  # the file it came from (each file covers different industries)
    category: str | None = None  # what it is about, where labelled


def read_corpus(directory: Path = CORPUS) -> list[Labelled]:
    """Winback's own labelled service messages: every ``*.jsonl`` file in ``directory``."""
    rows: list[Labelled] = []
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(
            f"no *.jsonl files in {directory}: the default model is built from a checkout of "
            "the Winback repository"
        )
    for path in files:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["label"] not in LABEL_ORDER:
                raise ValueError(f"{path.name}:{i}: label {row['label']!r}")
            rows.append(Labelled(row["text"], row["label"], path.stem, row.get("category")))
    return rows


def lexicon_artifact(version: str = DEFAULT_VERSION) -> dict[str, Any]:
    """The artifact without its linear layer: the lexicon, the rules and their parameters."""
    # The VADER word list is not copied into the artifact: it is read from the installed
    # ``vaderSentiment`` package when the model loads, and checked against this hash.
    general = read_vader_lexicon()
    return {
        "format": "winback-text-lexicon/3",
        "version": version,
        "built_from": {
            "general_lexicon": (
                "vaderSentiment 3.3.2 vader_lexicon.txt (MIT), single words and emoticons"
            ),
            "general_lexicon_sha256": lexicon_hash(general),
            "service_language": "winback.text.service_lexicon (hand-written, Apache-2.0)",
            "labelled_data": "none",
        },
        "general_lexicon": {
            "package": "vaderSentiment",
            "file": "vader_lexicon.txt",
            "sha256": lexicon_hash(general),
        },
        "notice": VADER_NOTICE,
        "params": PARAMS,
        "lexicon": dict(sorted(sl.WORDS.items())),
        "emoji": dict(sorted(sl.EMOJI.items())),
        "phrases": dict(sorted(sl.PHRASES.items())),
        "polite": sorted(sl.POLITE),
        "sarcasm_prone": sorted(sl.SARCASM_PRONE),
        "negators": sorted(sl.NEGATORS),
    }


def fit_linear(
    lexicon: LexiconSentiment, rows: Sequence[Labelled], settings: dict[str, Any] = LINEAR
) -> dict[str, Any]:
    """Fit the linear layer on labelled rows, over ``lexicon``'s evidence; returns its
    JSON-ready spec (rounded weights)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from winback.text.sentiment import features

    ngrams = int(settings["ngrams"])
    feats = [features(lexicon.evidence(r.text), ngrams) for r in rows]
    seen: Counter[str] = Counter(f for row in feats for f in row if not f.startswith("lex:"))
    keep = {f for f, n in seen.items() if n >= settings["min_count"]}
    feats = [{f: v for f, v in row.items() if f.startswith("lex:") or f in keep} for row in feats]
    vec = DictVectorizer(sparse=True, sort=True)
    x = vec.fit_transform(feats)
    model = LogisticRegression(
        C=settings["c"], class_weight=settings["class_weight"], max_iter=5000
    )
    model.fit(x, [r.label for r in rows])
    classes = [str(c) for c in model.classes_]
    order = [classes.index(c) for c in LABEL_ORDER]
    weights: dict[str, list[float]] = {}
    for j, name in enumerate(vec.feature_names_):
        w = [round(float(model.coef_[k, j]), 3) for k in order]
        if any(w):
            weights[str(name)] = w
    return {
        "classes": list(LABEL_ORDER),
        "bias": [round(float(model.intercept_[k]), 3) for k in order],
        "ngrams": ngrams,
        "weights": weights,
    }


def build(version: str = DEFAULT_VERSION, corpus: Path = CORPUS) -> dict[str, Any]:
    artifact = lexicon_artifact(version)
    rows = read_corpus(corpus)
    counts = Counter(r.label for r in rows)
    artifact["built_from"]["labelled_data"] = (
        f"Winback's own service messages (data/service-messages, Apache-2.0): {len(rows)} "
        + ", ".join(f"{counts[c]} {c}" for c in LABEL_ORDER)
    )
    artifact["built_from"]["corpus_sha256"] = hashlib.sha256(
        "\n".join(f"{r.label}\t{r.text}" for r in rows).encode()
    ).hexdigest()
    artifact["built_from"]["linear_settings"] = LINEAR
    from winback.text.sentiment import LexiconSentiment

    artifact["linear"] = fit_linear(LexiconSentiment(artifact), rows)
    return artifact


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    artifact = build(args.version, args.corpus)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(artifact, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, version {args.version})")


if __name__ == "__main__":
    main()
