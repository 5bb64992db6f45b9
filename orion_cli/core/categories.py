"""One name per market category across venues.

Kalshi says "Entertainment", "Elections", "Climate and Weather"; Polymarket says "culture", "politics",
"weather". Category caps (CATEGORY_EXPOSURE) and the `--category` filters of `scan` and `markets` compare
the canonical name, so both legs of one pair count against one category, and one filter finds both
venues' markets.
"""

from __future__ import annotations

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
