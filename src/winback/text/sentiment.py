"""The default sentiment model: a service-language lexicon with rules, in plain Python.

How a text is scored (:meth:`LexiconSentiment.score`):

1. normalise (lower case, URLs and @handles dropped), then match the multi-word phrases
   ("thanks for nothing", "still waiting", "third time") and take them out of the text so their
   words are not counted twice;
2. add up word valences, flipping and damping a word after a negator ("not happy"), halving
   what comes before a "but" and raising what comes after it;
3. keep three piles apart: complaint (everything negative), praise that reads as sarcasm next to
   a complaint ("great", "love", "fantastic"), and politeness ("thanks", "please"). When the
   message complains, praise and politeness are discounted: "thanks for nothing", "please help"
   and "great job, still waiting" are complaints;
4. squash the total into [-1, 1] and cut it into negative / neutral / positive.

The weights live in a versioned JSON artifact built by :mod:`winback.text.build`.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from winback.text.tokens import normalise, tokens

DEFAULT_ARTIFACT = Path(__file__).with_name("data") / "sentiment-default.json"
LABELS = ("negative", "neutral", "positive")

# Phrase-level politeness: discounted in a complaint like the polite words.
_POLITE_PHRASES = frozenset(
    {"thanks in advance", "thank you for your help", "thanks for your help", "thanks for the help"}
)


class ModelError(RuntimeError):
    """A sentiment artifact that cannot be used as it is."""


def _full_lexicon(artifact: dict[str, Any]) -> dict[str, float]:
    """The artifact's own words, on top of the general lexicon it names (read from its package)."""
    own = {w: float(v) for w, v in artifact["lexicon"].items()}
    source = artifact.get("general_lexicon")
    if source is None:
        return own
    from winback.text.build import lexicon_hash, merged_lexicon, read_vader_lexicon

    if source.get("package") != "vaderSentiment":
        raise ModelError(f"unknown general lexicon package {source.get('package')!r}")
    try:
        general = read_vader_lexicon()
    except ModuleNotFoundError as exc:
        raise ModelError(
            "the default text model needs the vaderSentiment package (pip install vaderSentiment)"
        ) from exc
    if lexicon_hash(general) != source["sha256"]:
        raise ModelError(
            "the installed vaderSentiment word list differs from the one model "
            f"{artifact['version']} was built with (sha256 {source['sha256'][:12]}…); "
            "install vaderSentiment==3.3.2"
        )
    return merged_lexicon(general, own)


@dataclass(frozen=True)
class SentimentResult:
    label: str
    score: float
    complaint: float
    praise: float


@dataclass(frozen=True)
class Evidence:
    """What the lexicon and its rules found in one text (before any label is chosen)."""

    complaint: float  # sum of negative valences (<= 0)
    praise: float  # sarcasm-prone praise, after the discount in a complaint
    polite: float  # thanks and please, after the discount in a complaint
    positive: float  # other positive valences
    score: float  # the lexicon's own score in [-1, 1]
    question: bool
    exclaims: int
    hits: int  # words, phrases, emoticons and emoji with a valence
    tokens: tuple[str, ...]


class LinearLayer:
    """A multinomial logistic regression over the lexicon's evidence and the text's words.

    Plain Python at run time: a dict from feature name to one weight per class. Fitted by
    :mod:`winback.text.build` on Winback's own labelled service messages.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.classes: tuple[str, ...] = tuple(spec["classes"])
        if len(self.classes) != 3 or len(spec["bias"]) != 3:
            raise ModelError(f"a linear layer needs three classes, not {self.classes}")
        self.bias: tuple[float, float, float] = (
            float(spec["bias"][0]),
            float(spec["bias"][1]),
            float(spec["bias"][2]),
        )
        self.weights: dict[str, tuple[float, ...]] = {
            f: tuple(float(x) for x in w) for f, w in spec["weights"].items()
        }
        self.ngrams: int = int(spec.get("ngrams", 2))
        # The same weights split by kind, so scoring looks words and pairs up without building
        # feature names: unigrams by word, bigrams by first word then second.
        self._lex = {f: w for f, w in self.weights.items() if f.startswith("lex:")}
        # The evidence features that have weights, by position in _LEX_FEATURES (their order).
        self._lex_terms = tuple(
            (i, self._lex[name]) for i, name in enumerate(_LEX_FEATURES) if name in self._lex
        )
        self._uni = {f[2:]: w for f, w in self.weights.items() if f.startswith("w:")}
        self._bi: dict[str, dict[str, tuple[float, ...]]] = {}
        for f, w in self.weights.items():
            if f.startswith("b:"):
                first, second = f[2:].split(" ", 1)
                self._bi.setdefault(first, {})[second] = w

    def probabilities(self, ev: Evidence) -> dict[str, float]:
        """Class probabilities; the same sum as over :func:`features`, without building it."""
        l0, l1, l2 = self.bias
        if self.ngrams >= 1:
            toks = [t for t in ev.tokens if t != "!"]
            uni, bi = self._uni, self._bi
            for t in set(toks):
                w = uni.get(t)
                if w is not None:
                    l0 += w[0]
                    l1 += w[1]
                    l2 += w[2]
            if self.ngrams >= 2:
                for first, second in set(pairwise(toks)):
                    following = bi.get(first)
                    if following is not None:
                        w = following.get(second)
                        if w is not None:
                            l0 += w[0]
                            l1 += w[1]
                            l2 += w[2]
        values = _evidence_values(ev)
        for i, w in self._lex_terms:
            value = values[i]
            if value:
                l0 += w[0] * value
                l1 += w[1] * value
                l2 += w[2] * value
        top = max(l0, l1, l2)
        e0, e1, e2 = math.exp(l0 - top), math.exp(l1 - top), math.exp(l2 - top)
        total = e0 + e1 + e2
        c0, c1, c2 = self.classes
        return {c0: e0 / total, c1: e1 / total, c2: e2 / total}


_LEX_FEATURES = (
    "lex:score",
    "lex:complaint",
    "lex:praise",
    "lex:polite",
    "lex:question",
    "lex:exclaim",
    "lex:nohit",
)


def _evidence_values(ev: Evidence) -> tuple[float, ...]:
    """The lexicon's evidence as the linear layer's features, in :data:`_LEX_FEATURES` order."""
    return (
        ev.score,
        min(-ev.complaint, 8.0) / 4.0,
        min(ev.praise + ev.positive, 8.0) / 4.0,
        min(ev.polite, 8.0) / 4.0,
        1.0 if ev.question else 0.0,
        min(ev.exclaims, 3) / 3.0,
        1.0 if ev.hits == 0 else 0.0,
    )


def _evidence_features(ev: Evidence) -> dict[str, float]:
    return dict(zip(_LEX_FEATURES, _evidence_values(ev), strict=True))


def features(ev: Evidence, ngrams: int = 2) -> dict[str, float]:
    """The linear layer's features: the lexicon's evidence and, up to ``ngrams``, which word
    n-grams are present."""
    out = _evidence_features(ev)
    if ngrams < 1:
        return out
    toks = [t for t in ev.tokens if t != "!"]
    for t in toks:
        out["w:" + t] = 1.0
    if ngrams >= 2:
        for a, b in pairwise(toks):
            out["b:" + a + " " + b] = 1.0
    return out


class LexiconSentiment:
    """Scores text with a lexicon artifact; thread-safe and stateless after construction."""

    def __init__(self, artifact: dict[str, Any]) -> None:
        self.version: str = artifact["version"]
        self.params: dict[str, float] = dict(artifact["params"])
        self._lexicon: dict[str, float] = _full_lexicon(artifact)
        self._lexicon.update(artifact.get("emoji", {}))
        self._phrases: dict[str, float] = dict(artifact["phrases"])
        self._polite = frozenset(artifact["polite"])
        self._sarcasm = frozenset(artifact["sarcasm_prone"])
        self._negators = frozenset(artifact["negators"])
        ordered = sorted(self._phrases, key=len, reverse=True)
        self._phrase_re = re.compile(
            r"(?<![a-z0-9'])(" + "|".join(re.escape(p) for p in ordered) + r")(?![a-z0-9'])"
        )
        linear = artifact.get("linear")
        self.linear: LinearLayer | None = LinearLayer(linear) if linear else None

    @classmethod
    def load(cls, path: Path | str = DEFAULT_ARTIFACT) -> LexiconSentiment:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def with_linear(self, spec: dict[str, Any] | None) -> LexiconSentiment:
        """This model with another linear layer (``None``: the lexicon's fixed thresholds),
        sharing its lexicon instead of reading and checking it again."""
        model = copy.copy(self)
        model.linear = LinearLayer(spec) if spec else None
        return model

    def evidence(self, text: str, norm: str | None = None) -> Evidence:
        """Everything the lexicon and its rules see in ``text``."""
        p = self.params
        norm = normalise(text) if norm is None else norm
        complaint = praise = polite = positive = 0.0
        found: list[float] = []
        polite_found: list[float] = []

        def take(match: re.Match[str]) -> str:
            phrase = match.group(1)
            (polite_found if phrase in _POLITE_PHRASES else found).append(self._phrases[phrase])
            return " , "

        rest = self._phrase_re.sub(take, norm)
        for w in found:
            if w < 0:
                complaint += w
            else:
                positive += w
        polite += sum(polite_found)
        hits = len(found) + len(polite_found)

        all_tokens = tuple(tokens(norm))
        # Matched phrases are cut out of ``rest`` (their words are not counted twice); without
        # a match the text's own tokens serve.
        toks = tokens(rest) if hits else list(all_tokens)
        but = len(toks) - 1 - toks[::-1].index("but") if "but" in toks else -1  # the last
        lexicon, negators = self._lexicon, self._negators
        exclaims = 0
        for i, tok in enumerate(toks):
            if tok == "!":
                exclaims += 1
                continue
            v = lexicon.get(tok)
            if v is None:
                continue
            hits += 1
            if i and (
                toks[i - 1] in negators
                or (i > 1 and toks[i - 2] in negators)
                or (i > 2 and toks[i - 3] in negators)
            ):
                v *= p["negation_factor"]
            if but >= 0:
                v *= p["but_before"] if i < but else p["but_after"] if i > but else 1.0
            if v < 0:
                complaint += v
            elif tok in self._polite:
                polite += v
            elif tok in self._sarcasm:
                praise += v
            else:
                positive += v
        if complaint < -1.0:
            discount = p["praise_discount_in_complaint"]
            praise *= discount
            polite *= discount
        total = complaint + praise + polite + positive
        if exclaims:
            total *= 1.0 + p["exclaim_boost"] * min(exclaims, 3)
        question = "?" in toks
        if question and total > 0:
            total *= p["question_neutral_pull"]
        score = total / math.sqrt(total * total + p["normaliser"])
        return Evidence(
            complaint=complaint,
            praise=praise,
            polite=polite,
            positive=positive,
            score=score,
            question=question,
            exclaims=exclaims,
            hits=hits,
            tokens=all_tokens,
        )

    def score(self, text: str, norm: str | None = None) -> SentimentResult:
        ev = self.evidence(text, norm)
        if not ev.tokens:  # nothing to read (empty, only punctuation or a link): no opinion
            return SentimentResult("neutral", 0.0, 0.0, 0.0)
        if self.linear is not None:
            probs = self.linear.probabilities(ev)
            label = max(probs, key=probs.__getitem__)
            score = max(-1.0, min(1.0, probs.get("positive", 0.0) - probs.get("negative", 0.0)))
        else:
            p = self.params
            score = ev.score
            if score < p["negative_below"]:
                label = "negative"
            elif score > p["positive_above"]:
                label = "positive"
            else:
                label = "neutral"
        return SentimentResult(label, round(score, 4), round(ev.complaint, 4), round(ev.praise, 4))
