"""Normalising and tokenising customer text (plain Python, fast)."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"[@#](\w+)")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def normalise(text: str) -> str:
    """Lower-case, straight apostrophes, URLs dropped, @handles dropped, #tags as words."""
    text = _URL.sub(" ", text.translate(_APOS))
    text = re.sub(r"@\w+", " ", text)
    return _MENTION.sub(r"\1", text).lower()


def tokens(text: str) -> list[str]:
    """Word tokens of normalised text, with ``!`` and ``?`` kept as tokens."""
    return _TOKEN.findall(text)
