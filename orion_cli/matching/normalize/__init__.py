"""Turn a market's free text into comparable facts: entities, thresholds, dates, outcome subject.

Titles that read alike are not the same bet. What decides settlement is *who* (entities, and which of
them is the YES outcome), *how much* (threshold, unit, direction) and *when* (date or window), so those
are extracted as structured features, with *which* period or numbered event ("Q3", "H1", "Game 7") and
*which* person ("Donald Trump Jr." is not "Trump"); the fuzzy text score only ranks candidates.

Everything here is pure and deterministic. :func:`extract_features` is the one entry point for a
:class:`~orion_cli.core.models.Market`; the smaller helpers are public because the equivalence checks
and the tests use them directly.

Speed: a scan extracts features for tens of thousands of markets whose titles come in ladders that
differ only in a number ("O/U 229.5", "above $61,000 on March 5"). Parsing is memoised per
:func:`number_shape` (numbers blanked) and the numbers are read back per title, which gives exactly the
features of parsing each title on its own (``tests/matching/test_number_shapes.py``).
"""

from __future__ import annotations

from orion_cli.matching.normalize.dates import DEADLINE, EDITION, ON, RANGE, DateSpan, parse_dates, ticker_date
from orion_cli.matching.normalize.entities import Mention, canonical_entities, find_mentions, league_hints, resolve
from orion_cli.matching.normalize.features import (
    MarketFeatures,
    entity_set,
    extract_features,
    label_direction,
    normalize_text,
)
from orion_cli.matching.normalize.games import GameRef, parse_kalshi_game, parse_poly_slug
from orion_cli.matching.normalize.parties import Parties, parties, win_subject
from orion_cli.matching.normalize.periods import parse_periods
from orion_cli.matching.normalize.propositions import CONTEXT_KINDS, NEGATED, STANCE_GROUPS, stance
from orion_cli.matching.normalize.shapes import number_shape
from orion_cli.matching.normalize.text import STOPWORDS, fold, tokens
from orion_cli.matching.normalize.thresholds import (
    BETWEEN,
    EQ,
    GE,
    GT,
    LE,
    LT,
    MEASURE_UNITS,
    Threshold,
    parse_direction,
    parse_thresholds,
)
from orion_cli.matching.normalize.times import StatedTime, parse_times, utc_offset

# The public names of the one module this package was: importable from here wherever they now live.
__all__ = [
    "BETWEEN",
    "CONTEXT_KINDS",
    "DEADLINE",
    "EDITION",
    "EQ",
    "GE",
    "GT",
    "LE",
    "LT",
    "MEASURE_UNITS",
    "NEGATED",
    "ON",
    "RANGE",
    "STANCE_GROUPS",
    "STOPWORDS",
    "DateSpan",
    "GameRef",
    "MarketFeatures",
    "Mention",
    "Parties",
    "StatedTime",
    "Threshold",
    "canonical_entities",
    "entity_set",
    "extract_features",
    "find_mentions",
    "fold",
    "label_direction",
    "league_hints",
    "normalize_text",
    "number_shape",
    "parse_dates",
    "parse_direction",
    "parse_kalshi_game",
    "parse_periods",
    "parse_poly_slug",
    "parse_thresholds",
    "parse_times",
    "parties",
    "resolve",
    "stance",
    "ticker_date",
    "tokens",
    "utc_offset",
    "win_subject",
]
