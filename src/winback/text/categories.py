"""Complaint categories: a configurable taxonomy of keyword rules.

A :class:`Taxonomy` maps each category to the words and phrases that signal it. A word matches
at the start of a token, so ``refund`` also matches "refunds" and "refunded". The category with
the most matches wins (ties: the one listed first); with no match the text is ``other`` (the
taxonomy's fallback). A trained classifier (``winback train text --target category``) can take
over from the rules; see :mod:`winback.text.analyzer`.

The taxonomy is configurable: ``Taxonomy.from_mapping({"billing": ["invoice", ...], ...})`` or
a YAML file ``taxonomy.yaml`` in ``WINBACK_CONFIG_DIR`` with the same shape under ``categories:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "billing": (
        "bill",
        "billing",
        "invoice",
        "charge",
        "charged",
        "overcharg",
        "refund",
        "payment",
        "paid",
        "pay ",
        "fee",
        "price",
        "pricing",
        "subscription",
        "money",
        "debit",
        "credit card",
        "card declined",
        "card was declined",
        "card keeps",
        "declined",
        "transfer",
        "dispute",
        "fraudulent charge",
        "cost",
        "expensive",
        "cheaper",
        "reimburs",
        "compensation",
    ),
    "delivery": (
        "deliver",
        "delivery",
        "parcel",
        "package",
        "shipping",
        "shipment",
        "shipped",
        "courier",
        "tracking",
        "order #",
        "arrived",
        "never arrived",
        "wrong item",
        "wrong size",
        "sent me the wrong",
        "missing item",
        "wrong thing",
        "sent the wrong",
        "isn't what i ordered",
        "luggage",
        "baggage",
        "suitcase",
        "bag ",
        "bags",
        "technician",
        "engineer",
        "appointment",
        "install",
    ),
    "product_quality": (
        "broken",
        "damaged",
        "defective",
        "faulty",
        "scratched",
        "quality",
        "poor quality",
        "cheap material",
        "stopped working",
        "doesn't work",
        "does not work",
        "crushed",
        "arrived broken",
        "not as described",
    ),
    "staff_behaviour": (
        "rude",
        "staff",
        "agent",
        "employee",
        "attitude",
        "dismissive",
        "unprofessional",
        "hung up",
        "laughed at",
        "treated",
        "manager",
        "crew",
        "attendant",
        "representative",
        "impolite",
        "disrespect",
    ),
    "wait_time": (
        "wait",
        "waiting",
        "waited",
        "on hold",
        "hold for",
        "delay",
        "delayed",
        "late",
        "slow",
        "forever",
        "still no",
        "no response",
        "no reply",
        "nobody replies",
        "never got back",
        "hours",
        "queue",
        "how long",
        "taking so long",
        "takes too long",
        "pending",
    ),
    "technical": (
        "outage",
        "down",
        "error",
        "crash",
        "bug",
        "server",
        "app ",
        "website",
        "site ",
        "logs me out",
        "docs",
        "get started",
        "cut out",
        "outage",
        "loading",
        "loads",
        "spins",
        "not working",
        "glitch",
        "signal",
        "coverage",
        "calls keep dropping",
        "dropping",
        "data",
        "wifi",
        "internet",
        "connection",
        "sync",
        "update",
        "export",
        "setup",
        "set up",
        "onboard",
        "import",
        "unusable",
    ),
    "account": (
        "account",
        "password",
        "locked",
        "locked out",
        "blocked",
        "booking",
        "reservation",
        "confirmation",
        "check in",
        "profile",
        "username",
        "verify",
        "verification",
        "sign in",
        "login",
        "log in",
        "logged out",
        "close my account",
    ),
}
FALLBACK = "other"


@dataclass(frozen=True)
class Taxonomy:
    """Categories in priority order, each with its keyword rules, and the fallback category."""

    rules: tuple[tuple[str, tuple[str, ...]], ...]
    fallback: str = FALLBACK

    @classmethod
    def default(cls) -> Taxonomy:
        return cls.from_mapping(DEFAULT_CATEGORIES)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Sequence[str]], fallback: str = FALLBACK
    ) -> Taxonomy:
        if not mapping:
            raise ValueError("a taxonomy needs at least one category")
        rules = []
        for name, words in mapping.items():
            if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
                raise ValueError(f"category {name!r}: use lower-case letters, digits and _")
            if isinstance(words, str) or not all(isinstance(w, str) and w.strip() for w in words):
                raise ValueError(f"category {name!r}: give a list of non-empty words or phrases")
            rules.append((name, tuple(w.lower() for w in words)))
        return cls(tuple(rules), fallback)

    @property
    def categories(self) -> tuple[str, ...]:
        names = tuple(name for name, _ in self.rules)
        return names if self.fallback in names else (*names, self.fallback)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read ``categories: {name: [word, ...]}`` (and optional ``fallback:``) from YAML."""
    import yaml

    try:
        doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), dict):
        raise ValueError(f"{path}: expected a mapping with 'categories: {{name: [words]}}'")
    try:
        return Taxonomy.from_mapping(doc["categories"], str(doc.get("fallback", FALLBACK)))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


class RuleCategoriser:
    """Picks the taxonomy category with the most keyword matches.

    Token-based for speed: a keyword ending in a space must equal a word ("pay "), any other
    single word matches the start of a word ("refund" → "refunded"), and a keyword with a space
    or punctuation inside is a phrase counted where it occurs.
    """

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy or Taxonomy.default()
        self._order = {name: i for i, (name, _) in enumerate(self.taxonomy.rules)}
        self._exact: dict[str, list[str]] = {}
        self._prefix: dict[str, list[str]] = {}
        self._phrases: list[tuple[str, str]] = []
        for name, words in self.taxonomy.rules:
            for word in words:
                stripped = word.strip()
                if not _WORD.fullmatch(stripped):
                    self._phrases.append((stripped, name))
                elif word != stripped:
                    self._exact.setdefault(stripped, []).append(name)
                else:
                    self._prefix.setdefault(stripped, []).append(name)
        self._lengths = sorted({len(p) for p in self._prefix})
        # token -> the categories its keywords count for (one entry per keyword matched): most
        # words recur, so each is looked up against the keywords once. Bounded: cleared when
        # full.
        self._hits: dict[str, tuple[str, ...]] = {}

    def _token_hits(self, token: str) -> tuple[str, ...]:
        names = list(self._exact.get(token, ()))
        n = len(token)
        for k in self._lengths:
            if k > n:
                break
            names.extend(self._prefix.get(token[:k], ()))
        hits = tuple(names)
        if len(self._hits) >= _HITS_CACHE_SIZE:
            self._hits.clear()
        self._hits[token] = hits
        return hits

    def categorise(self, norm: str) -> str:
        """Category of normalised (lower-case) text."""
        counts: dict[str, int] = {}
        cache = self._hits
        for token in _TOKEN.findall(norm):
            hits = cache.get(token)
            if hits is None:
                hits = self._token_hits(token)
            for name in hits:
                counts[name] = counts.get(name, 0) + 1
        for phrase, name in self._phrases:
            if phrase in norm:
                counts[name] = counts.get(name, 0) + norm.count(phrase)
        if not counts:
            return self.taxonomy.fallback
        return min(counts, key=lambda name: (-counts[name], self._order[name]))


_WORD = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"[a-z0-9]+")
_HITS_CACHE_SIZE = 50_000
