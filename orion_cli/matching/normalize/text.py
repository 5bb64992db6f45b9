"""Folding and tokens: the one spelling every other reader of a market's text works on.

Case, accents and apostrophes folded the same way everywhere, so two venues' spellings of the same
words compare equal before any fact is read from them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "–": "-", "—": "-", "−": "-"})
WORD_TOKEN = re.compile(r"[^\W_]+")
HAS_DIGIT = re.compile(r"\d")
STOPWORDS = frozenset(
    "a an the of in on at by to for and or will be is are was were been do does did what who which when "
    "this that these those with from as it its into than then there their market resolve resolves yes no "
    "if any per vs v win wins winner won before after".split()
)


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Case-, accent- and apostrophe-insensitive form ("Dončić’s" → "doncic's")."""
    if text.isascii():
        return text.casefold()
    text = text.translate(APOSTROPHES)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.casefold()


def tokens(text: str) -> list[str]:
    """Folded word tokens; apostrophes split words ("men's" → "men", "s") as punctuation does."""
    return WORD_TOKEN.findall(fold(text))
