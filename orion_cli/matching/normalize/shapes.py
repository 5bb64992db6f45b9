"""Number shapes: a ladder of titles that differ only in their numbers is parsed once.

A scan extracts the features of tens of thousands of markets; parsing once per shape and reading the
numbers back per title gives exactly the features of parsing each title on its own
(``tests/matching/test_number_shapes.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from orion_cli.matching import aliases
from orion_cli.matching.normalize.entities import alias_table
from orion_cli.matching.normalize.text import APOSTROPHES, fold, tokens

# A word token of ASCII digits only: "229" and "5" in "O/U 229.5", not "76ers" nor "1h".
_NUMBER_TOKEN = re.compile(r"(?<![^\W_])[0-9]+(?![^\W_])")
# Outside ASCII, a text is shaped only if each other character is one that folding keeps as it is and
# out of tokens (°), or first turns into ASCII punctuation (the apostrophes and dashes).
_SHAPE_UNSAFE = re.compile("[^\\x00-\\x7f°" + re.escape("".join(chr(c) for c in APOSTROPHES)) + "]")
_ASCII_DIGIT = re.compile(r"[0-9]")
_ZEROS = frozenset("0")


def number_shape(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with its numbers written as zeros, and the numbers so replaced, in order.

    Titles come in ladders that differ only in their numbers ("above $61,000 on March 5", "above
    $62,500 on March 6", "O/U 229.5"), so what does not depend on the numbers' values (aliases and
    leagues, line family, predicate, and *where* the strikes and dates are) is worked out once per
    shape, and the numbers are read back from the text, or put back into the key text. A number is a
    token of ASCII digits, and it is kept as it is when it holds "19" or "20" (it may be a year) or
    is part of an alias ("s p 500"). That is exact because

    * a zeroed number is still a token of digits of the same length, and the threshold and date
      patterns read a digit only through ``\\d`` or in a literal "19"/"20", which neither the zeros
      nor the number they replace hold: every match has the same span and groups;
    * no alias, league hint, stop word, line-family, predicate or stance pattern reads a number token ("1h"
      and "1st" are other tokens), and none is a run of zeros;
    * folding leaves ASCII digits and token boundaries alone, so the folded shape is the shape of the
      folded text. Text with other non-ASCII characters is returned as it is (no numbers replaced):
      folding may decompose those into letters or digits.
    """
    if not _ASCII_DIGIT.search(text):
        return text, ()
    keep = _kept_numbers()
    if keep is None or (not text.isascii() and _SHAPE_UNSAFE.search(text)):
        return text, ()
    numbers: list[str] = []

    def zero(m: re.Match[str]) -> str:
        number = m[0]
        if "19" in number or "20" in number or number in keep:
            return number
        numbers.append(number)
        return "0" * len(number)

    shape = _NUMBER_TOKEN.sub(zero, text)
    return shape, tuple(numbers)


@lru_cache(maxsize=1)
def _kept_numbers() -> frozenset[str] | None:
    """Number tokens that are part of an alias or a league hint ("s p 500", "nasdaq 100"), which
    :func:`number_shape` keeps; ``None`` if a run of zeros were one (then no number can be replaced)."""
    table = alias_table()[0]
    words = {w for key in table for w in key} | {w for hint in aliases.LEAGUE_HINTS for w in tokens(hint)}
    numbers = frozenset(w for w in words if w.isdigit())
    return None if any(set(w) <= _ZEROS for w in numbers) else numbers


def numbers_text(text: str) -> str:
    """A text to read the numbers of its folded shape's matches from: folding a text that
    :func:`number_shape` would shape (ASCII, or but for ° and apostrophes) changes neither the
    positions nor the digits, so the text itself will do."""
    return text if text.isascii() or not _SHAPE_UNSAFE.search(text) else fold(text)
