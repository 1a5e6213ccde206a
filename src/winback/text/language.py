"""Offline language identification, light: stop-word profiles for common languages.

Counts how many of a text's words are among each language's most frequent function words
(hand-listed) and picks the best; a text with too few such words is ``und`` (undetermined).
Good for routing and reporting, not for single-word messages.
"""

from __future__ import annotations

import re

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "to",
            "of",
            "a",
            "i",
            "is",
            "in",
            "it",
            "you",
            "that",
            "my",
            "for",
            "was",
            "on",
            "this",
            "with",
            "have",
            "not",
            "be",
            "are",
            "but",
            "your",
            "me",
            "at",
            "so",
            "we",
            "they",
            "what",
            "no",
            "can",
            "just",
            "do",
            "has",
            "had",
            "from",
            "an",
            "or",
            "if",
            "been",
            "there",
            "will",
            "still",
            "why",
            "when",
            "get",
            "got",
            "all",
            "our",
            "would",
            "about",
            "any",
            "please",
            "thanks",
            "thank",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ich",
            "sie",
            "es",
            "ein",
            "eine",
            "mit",
            "zu",
            "den",
            "von",
            "auf",
            "für",
            "ist",
            "im",
            "dem",
            "wir",
            "noch",
            "mein",
            "meine",
            "bitte",
            "danke",
            "auch",
            "aber",
            "wie",
            "kein",
            "keine",
            "sind",
            "war",
            "habe",
            "hat",
            "schon",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "est",
            "pas",
            "je",
            "vous",
            "un",
            "une",
            "des",
            "du",
            "de",
            "en",
            "que",
            "qui",
            "pour",
            "dans",
            "sur",
            "mon",
            "ma",
            "mes",
            "ne",
            "ce",
            "il",
            "nous",
            "avec",
            "merci",
            "toujours",
            "mais",
            "plus",
            "très",
            "été",
            "suis",
            "avez",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "y",
            "es",
            "no",
            "que",
            "de",
            "en",
            "un",
            "una",
            "por",
            "para",
            "con",
            "mi",
            "mis",
            "su",
            "se",
            "lo",
            "del",
            "al",
            "pero",
            "muy",
            "gracias",
            "todavía",
            "hace",
            "estoy",
            "está",
            "han",
            "ya",
            "como",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "lo",
            "la",
            "gli",
            "le",
            "e",
            "è",
            "non",
            "che",
            "di",
            "un",
            "una",
            "per",
            "con",
            "mio",
            "mia",
            "sono",
            "ho",
            "ancora",
            "grazie",
            "ma",
            "del",
            "della",
            "nel",
            "questo",
            "come",
            "anche",
            "più",
        ]
    ),
    "nl": frozenset(
        [
            "de",
            "het",
            "een",
            "en",
            "is",
            "niet",
            "ik",
            "je",
            "van",
            "op",
            "te",
            "dat",
            "met",
            "voor",
            "mijn",
            "zijn",
            "maar",
            "nog",
            "al",
            "wel",
            "bedankt",
            "heb",
            "geen",
            "graag",
            "ook",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "a",
            "os",
            "as",
            "e",
            "é",
            "não",
            "que",
            "de",
            "em",
            "um",
            "uma",
            "para",
            "com",
            "meu",
            "minha",
            "por",
            "mas",
            "ainda",
            "obrigado",
            "está",
            "muito",
            "foi",
            "tem",
            "do",
            "da",
        ]
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
UNDETERMINED = "und"
_LANGUAGES = tuple(STOPWORDS)


def _languages_of_words() -> dict[str, tuple[int, ...]]:
    """Each stop word with the languages that list it (by position in STOPWORDS), so a text's
    words are looked up once rather than once per language."""
    index: dict[str, tuple[int, ...]] = {}
    for i, stops in enumerate(STOPWORDS.values()):
        for word in stops:
            index[word] = (*index.get(word, ()), i)
    return index


_LANGUAGES_OF = _languages_of_words()


def detect_language(norm: str, minimum: int = 2) -> str:
    """ISO 639-1 code of lower-case text, or ``und`` when there is too little to tell."""
    words = _WORD.findall(norm)
    if not words:
        return UNDETERMINED
    counts = [0] * len(_LANGUAGES)
    for w in words:
        for i in _LANGUAGES_OF.get(w, ()):
            counts[i] += 1
    best, best_n = UNDETERMINED, 0
    for lang, n in zip(_LANGUAGES, counts, strict=True):
        if n > best_n:  # the first language listed wins a tie
            best, best_n = lang, n
    if best_n < minimum and not (best_n == 1 and len(words) <= 6):
        return UNDETERMINED
    return best
