"""What a market proposes: the kinds of entity at stake, its line family, its predicate and its stance.

Two markets about the same teams on the same day may still be different bets (a spread and a total, a
win and a "win by more than"); these are the words that tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from orion_cli.matching.normalize.dates import MON

# Entity kinds that name *what* is at stake (competition, organisation, asset): they must agree.
CONTEXT_KINDS = frozenset({"comp", "org", "crypto", "idx", "econ", "cmd", "place"})
FIFTY_FIFTY = re.compile(
    r"50\s*[-/]\s*50|fifty[- ]fifty|fair (?:market )?(?:price|value)|resolve[sd]? (?:to |at )?\$?0?\.50?\b|"
    r"split (?:evenly|equally)",
)
OTHER_LABEL = re.compile(
    r"^(?:others?|other \w+|any other.*|someone else|none of the above|field|the field|"
    r"(?:person|player|candidate|team|option|company|country|party) (?:[a-z]{1,2}|\d{1,3}))$"
)
SPREAD_LINE = re.compile(r"\(\s*(?P<sign>[-+])\s*(?P<num>\d+(?:\.\d+)?)\s*\)")
SCHEDULED = re.compile(
    r"scheduled (?:for|on) (?:[a-z]+day,? )?" + MON + r"\.? (?P<day>\d{1,2})(?:,? (?P<year>20\d{2}))?"
)
FAMILY_SUFFIX = (
    ("1h-spread", "1h_spread"), ("1h-total", "1h_total"), ("1h-moneyline", "1h_winner"), ("spread", "spread"),
    ("total", "total"), ("points", "prop"), ("rebounds", "prop"), ("assists", "prop"), ("moneyline", "winner"),
)
_STATS = r"(?:points|rebounds|assists|hits|home runs|strikeouts|total bases)"
PROP = re.compile(r":\s*" + _STATS + r"|\d\+\s*" + _STATS)
HALF_RX = re.compile(r"\b1h\b|first half|1st half")
SPREAD_RX = re.compile(r"\bspread\b|wins? by (?:over|more than)|\(\s*[-+]\d")
TOTAL_RX = re.compile(r"o/u|over/under|total points|points scored|\btotal\b")
WINNER_RX = re.compile(r"\bmoneyline\b|\bwinner\?$|\bwinner\b")
KALSHI_SERIES_LEAGUE = (("KXNBA", "nba"), ("KXNFL", "nfl"), ("KXNCAAF", "cfb"))
SPORTS_TYPES = {
    "moneyline": "winner", "spreads": "spread", "totals": "total", "first_half_moneyline": "1h_winner",
    "first_half_spreads": "1h_spread", "first_half_totals": "1h_total", "points": "prop", "rebounds": "prop",
    "assists": "prop", "threes": "prop",
}
# (name, a literal of every alternative: a cheap necessary condition, the pattern)
PREDICATES = (
    ("nominate", ("nomin",), re.compile(r"\bnominee\b|\bnomination\b|\bnominated\b")),
    (
        "advance",
        ("advance", "reach", "qualif", "make the "),
        re.compile(r"\badvances?\b|\breach(?:es)?\b|\bqualif(?:y|ies)\b|\bmake the (?:playoffs|finals)\b"),
    ),
    ("appear", ("appear", "be on", "feature", "guest"), re.compile(r"\bappear|\bbe on\b|\bfeatured?\b|\bguest")),
    ("inaugurate", ("inaugurated",), re.compile(r"\binaugurated\b")),
    ("win", ("win", "champion", "beat", "defeat"), re.compile(r"\bwins?\b|\bwinner\b|\bchampion\b|\bbeat\b|\bdefeat")),
)
# What a proposition says happens, by sense: (tag, its group, the pattern). Synonyms share a tag ("beat",
# "defeat", "win"; "hike", "raise"); the tags of one group are opposites ("win" vs "lose", "cut" vs
# "hike" vs "hold"). Two markets that state one group with different tags are opposite bets, and so is
# a market that negates its proposition against one that does not (_NEGATION): see
# equivalence._opposite_propositions. Not a grammar, a lexicon: what it misses, the text score and the
# other checks still see; what it sees it holds back for curation, never inverts.
_STANCES = (
    ("win", "outcome", re.compile(r"\bwins?\b|\bwinner\b|\bchampions?\b|\bbeats?\b|\bdefeats?\b")),
    ("lose", "outcome", re.compile(  # the passive with no agent: "X is defeated" is to lose
        r"\blos(?:e|es|ing)\b|\bloser\b|\blost\b|\b(?:be|been|being|is|are|gets?|got) (?:defeated|beaten)\b(?! by\b)")),
    # The passive with its agent, "X is beaten by Y", is not "lose": "Sinner loses to Alcaraz" against
    # "Alcaraz is beaten by Sinner" would read "lose" both sides while the two YES outcomes are opposite.
    # A tag of its own, equal only to itself: against "win", "lose" or no outcome the pair is held back.
    ("lose_by", "outcome", re.compile(r"\b(?:defeated|beaten) by\b")),
    ("qualify", "qualify", re.compile(
        r"\bmakes? the (?:\w+ ){0,2}?(?:playoffs|play-offs|postseason|finals|cut)\b|\bqualif(?:y|ies)\b|"
        r"\badvances?\b|\bclinch")),
    ("miss", "qualify", re.compile(
        r"\bmiss(?:es)?\b(?! (?:universe|world|america|usa|teen)\b)|\beliminated\b|\bknocked out\b")),
    ("rise", "change", re.compile(r"\bhikes?\b|\braises?\b|\bincreases?\b|\brises?\b|\bgo(?:es)? up\b")),
    ("fall", "change", re.compile(
        r"\bcuts?\b|\breduces?\b|\bdecreases?\b|\bfalls?\b|\bgo(?:es)? down\b|\blowers? (?:interest |the )?rates?\b")),
    ("hold", "change", re.compile(r"\bholds?\b|\bpauses?\b|\bunchanged\b|\bno change\b|\bmaintains?\b")),
    ("stay", "office", re.compile(r"\bremains?\b|\bstays?\b")),
    ("leave", "office", re.compile(
        r"\bleaves?\b|\bresigns?\b|\bsteps? down\b|\bfired\b|\bousted\b|\bremoved\b|\bout as\b")),
    ("pass", "passage", re.compile(r"\bpass(?:es)?\b|\bapprove[sd]?\b|\bsign(?:s|ed)? into law\b")),
    ("fail", "passage", re.compile(r"\bfail(?:s|ed)?\b|\breject(?:s|ed)?\b|\bveto(?:es|ed)?\b")),
    ("convict", "verdict", re.compile(r"\bconvict(?:s|ed|ion)?\b|\bfound guilty\b|\bguilty verdict\b")),
    ("acquit", "verdict", re.compile(r"\bacquit(?:s|ted|tal)?\b")),
)
STANCE_GROUPS: Mapping[str, str] = MappingProxyType({tag: group for tag, group, _ in _STANCES})
NEGATED = "not"  # the stance tag of a negated proposition
# "not" but in comparisons ("not less than") and "whether or not"; contractions ("won't"); "fail to".
_NEGATION = re.compile(
    r"(?<!\bor )\bnot\b(?! (?:less|fewer|more|higher|lower) than)|n't\b|\bnever\b|\bfail(?:s|ed)? to\b|"
    r"\bno longer\b|"
    # "anyone but Trump", "someone other than Trump": the proposition of everyone else
    r"\b(?:any|some)(?:one|body) (?:but|except|besides)\b|\bother than\b|"
    # "no" as a determiner ("Will there be no Fed rate cut?"), a stop word the key texts lose; not in
    # "no change", "no later/more/less than", "No. 1" or a Yes/No pair.
    r"(?<!\byes or )(?<!\byes/)\bno\b(?![./-]| (?:change|later|more|less|fewer|earlier|sooner)\b)"
)


@lru_cache(maxsize=1 << 14)
def stance(low: str) -> frozenset[str]:
    """The stance tags of a folded text (or its :func:`number_shape`): :data:`STANCE_GROUPS` keys, and
    :data:`NEGATED` when it negates its proposition ("Will Trump not win …?", "… won't …")."""
    found = {tag for tag, _, rx in _STANCES if rx.search(low)}
    if _NEGATION.search(low):
        found.add(NEGATED)
    return frozenset(found)
