"""One name per market category across venues.

Kalshi says "Entertainment", "Elections", "Climate and Weather"; Polymarket says "culture", "politics",
"weather". Category caps (CATEGORY_EXPOSURE) and the `--category` filters of `scan` and `markets` compare
the canonical name, so both legs of one pair count against one category, and one filter finds both
venues' markets.
"""

from __future__ import annotations

import functools

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


def canonical_category(name: str) -> str:
    """The shared name for a venue's category; an unknown one is kept (lower case, hyphenated)."""
    key = "-".join(name.strip().lower().split())
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
                 "or a part of one (elect).")


def category_matches(name: str, wanted: str | None) -> bool:
    """Whether a market of category ``name`` passes a ``--category wanted`` filter.

    The canonical names agree (``culture`` finds Kalshi's "Entertainment"), or ``wanted`` is a part
    of the venue's own name (``elect`` finds "Elections"). One rule for every command's filter, so
    ``markets --category X`` lists the markets ``scan --category X`` pairs.
    """
    if not wanted or not wanted.strip():
        return True
    return (canonical_category(wanted) == canonical_category(name)
            or wanted.strip().lower() in name.lower())
