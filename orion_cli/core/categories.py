"""One name per market category across venues.

Kalshi says "Entertainment", "Elections", "Climate and Weather"; Polymarket says "culture", "politics",
"weather". Category caps (CATEGORY_EXPOSURE) and the `--category` filters of `scan` and `markets` compare
the canonical name, so both legs of one pair count against one category, and one filter finds both
venues' markets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

UNCATEGORISED = "uncategorised"
# The orders and positions tables keep this much of a venue's category name (String(64)).
CATEGORY_CHARS = 64

_CANONICAL: dict[str, str] = {
    "politics": "politics", "elections": "politics", "us-politics": "politics",
    "sports": "sports", "esports": "sports",
    "crypto": "crypto",
    "finance": "finance", "financials": "finance", "business": "finance", "companies": "finance",
    "economy": "economics", "economics": "economics",
    "culture": "culture", "pop-culture": "culture", "entertainment": "culture",
    "weather": "weather", "climate": "weather", "climate-and-weather": "weather",
    "geopolitics": "geopolitics", "world": "geopolitics",
    "tech": "tech", "science": "tech", "science-and-technology": "tech",
    "mentions": "mentions",
}


def _key(name: str) -> str:
    """A category name as the table spells it: lower case, words joined by hyphens."""
    return "-".join(name.strip().lower().split())


def canonical_category(name: str) -> str:
    """The shared name for a venue's category; an unknown one is kept (lower case, hyphenated)."""
    key = _key(name)
    return _CANONICAL.get(key, key)


@functools.lru_cache(maxsize=1024)
def normalise_category(category: str) -> str:
    """The category exposure is counted under: one name across venues ("Entertainment" = "culture").

    Of the name as the ledger stores it (its first :data:`CATEGORY_CHARS` characters), so a plan's
    longer venue name and the same market's recorded orders and positions count as one category.
    The CATEGORY_EXPOSURE check, the exposure records and each position's ``category`` use it.
    Cached: the exposure checks ask for the same few names several times per trade.
    """
    return canonical_category(category[:CATEGORY_CHARS]) or UNCATEGORISED


# The --category option's help, the same wherever the filter is (it is the same rule).
CATEGORY_HELP = ("Only this category, by either venue's name (culture also finds Kalshi's Entertainment) "
                 "or a part of one (elect: every category with a name containing it, on both venues).")


def wanted_categories(wanted: str, names: Iterable[str] = ()) -> frozenset[str]:
    """The canonical categories a ``--category wanted`` filter selects.

    A full name (either venue's, e.g. "Elections" or "politics") selects that one category: a name
    is never widened to the categories it happens to be a part of ("politics" does not also select
    "geopolitics"). Anything else is a part of a name ("elect"), and selects every category one of
    whose names contains it — the names the table knows and ``names`` (the venues' own category
    names in the data, so an unmapped one is found by a part too). Each is then matched through its
    canonical name, so a part of one venue's name ("elect" of Kalshi's "Elections") also finds the
    other venue's markets of that category (Polymarket's "politics"). A part in several categories
    ("tic": politics and geopolitics) selects them all, like any substring filter; one in none
    selects nothing.
    """
    w = _key(wanted)
    known = set(_CANONICAL).union(_key(n) for n in names)
    if w in known:
        return frozenset({canonical_category(w)})
    return frozenset(_CANONICAL.get(k, k) for k in known if w in k)


def category_filter(wanted: str | None, names: Iterable[str] = ()) -> Callable[[str], bool]:
    """Whether a market of a given venue category passes ``--category wanted``.

    One rule for every command's filter (``markets --category X`` lists the markets ``scan --category
    X`` pairs): see :func:`wanted_categories`. ``names`` are the category names of the markets being
    filtered. No filter (``None`` or blank) passes everything.
    """
    if not wanted or not wanted.strip():
        return lambda _name: True
    selected = wanted_categories(wanted, names)
    return lambda name: canonical_category(name) in selected


_CATEGORIES_SHOWN = 12


def no_category_note(wanted: str, names: Iterable[str], where: str, consequence: str) -> str | None:
    """The warning for a ``--category wanted`` that selects none of ``names`` (the category names of the
    markets in ``where``), naming what could be typed instead; None when it selects one, or is blank.

    One warning for every command with the filter (``scan``, ``markets``): the names listed are every
    venue's own (each selects its category on both venues: "culture" and Kalshi's "Entertainment"),
    one spelling of each name whatever its case, the first :data:`_CATEGORIES_SHOWN`.
    """
    from orion_cli.core.config import shown_number

    every = list(names)
    if not wanted or not wanted.strip() or not every:
        return None
    selects = category_filter(wanted, every)
    if any(selects(n) for n in every):
        return None
    spelled: dict[str, str] = {}
    for n in sorted(n.strip() for n in every if n.strip()):  # the capitalised spelling first
        spelled.setdefault(n.casefold(), n)
    listed = sorted(spelled.values(), key=str.casefold)
    shown = ", ".join(listed[:_CATEGORIES_SHOWN])
    more = f", and {len(listed) - _CATEGORIES_SHOWN} more" if len(listed) > _CATEGORIES_SHOWN else ""
    named = f"its categories: {shown}{more}" if listed else "its markets carry no category"
    return f"--category {shown_number(repr(wanted))} selects no market in {where} ({named}); {consequence}"
