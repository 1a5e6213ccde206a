"""Normalising and tokenising customer text (plain Python, fast)."""

from __future__ import annotations

import re

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_MENTION = re.compile(r"[@#](\w+)")
# Emoticons, matched on lower-cased text (":D" is ":d"): eyes, optional nose, mouth; a few more.
EMOTICON = r"(?:>?[:;=]'?-?[()\[\]dp/\\|*@]|<3|</3|-_-|\^_\^|xd)(?![a-z0-9])"
# Pictographic emoji (one code point each; skin-tone and variation selectors are dropped).
EMOJI = r"[\u2600-\u27bf\u2b50\u2b55\U0001f300-\U0001f3fa\U0001f400-\U0001faff]"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|" + EMOTICON + "|" + EMOJI + r"|[!?]")
_EMOTICON_ONLY = re.compile(EMOTICON + r"\Z")
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def normalise(text: str) -> str:
    """Lower-case, straight apostrophes, URLs dropped, @handles dropped, #tags as words."""
    text = _URL.sub(" ", text.translate(_APOS))
    text = _HANDLE.sub(" ", text)
    return _MENTION.sub(r"\1", text).lower()


def tokens(text: str) -> list[str]:
    """Tokens of normalised text: words, emoticons, emoji, and ``!`` and ``?``."""
    return _TOKEN.findall(text)


def is_emoticon(token: str) -> bool:
    return _EMOTICON_ONLY.match(token) is not None
