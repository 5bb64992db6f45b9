"""One name per market category across venues.

Kalshi says "Entertainment", "Elections", "Climate and Weather"; Polymarket says "culture", "politics",
"weather". Category caps (CATEGORY_EXPOSURE) and `scan --category` compare the canonical name, so both
legs of one pair count against one category, and one filter finds both venues' markets.
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
