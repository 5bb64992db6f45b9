"""Build ``labelled_pairs.json``: the matcher's quality set (see LABELLED_SET.md for the method).

Run from the repo root: ``.venv/bin/python tests/matching/build_labelled_set.py``. The labels come
from venue identifiers and a human reading of the rules texts, never from the matcher itself:

* NBA games: a Kalshi event and a Polymarket moneyline are the same game when the team codes in the
  Kalshi sub-title ("MIL at LAL (Jan 9)") equal the codes in the Polymarket slug
  ("nba-mil-lal-2026-01-09") and the dates agree. Polarity: the slug lists the teams in outcome
  order, and for the 15 games of ``nba_pairs_config.json`` the third-party token map must agree.
* Third-party matches (pmxt matcher): labelled one by one in ``THIRD_PARTY`` below, after reading
  both descriptions and dates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from matching import fixture_markets as fm  # noqa: E402

OUT = HERE / "labelled_pairs.json"

# Verdicts on the alexanderdong8 (pmxt) matches, by Kalshi ticker prefix / exact pair.
_WC_WHY = (
    "same proposition, not settlement-equivalent as listed: Kalshi date 2028-07-18 vs Polymarket 2026-07-20 "
    "(730 days), and Polymarket resolves 'Other' (so No) if the tournament is not completed by Oct 13, 2026"
)
THIRD_PARTY: list[tuple[str, str | None, bool, bool, str]] = [
    # (kalshi ticker or prefix*, polymarket slug or None=any, equivalent, same_event, reason)
    ("KXMENWORLDCUP-26-*", None, False, True, _WC_WHY),
    ("KXNBA-26-*", None, False, True,
     "Kalshi resolution date 2028-06-29 vs Polymarket 2026-07-01: 729 days apart; needs manual review"),
    ("KXNHL-26-VGK", None, False, True, "Kalshi 2028-06-30 vs Polymarket 2026-06-30: 731 days apart"),
    ("KXNBAWEST-26-*", "will-the-san-antonio-spurs-win-the-nba-western-conference-finals", False, True,
     "Kalshi 2028-06-29 vs Polymarket 2026-06-16 (745 days); Polymarket resolves 'Other' if no winner by Jun 30"),
    ("KXNBAWEST-26-*", "will-the-oklahoma-city-thunder-win-the-nba-western-conference-finals", False, True,
     "Kalshi 2028-06-29 vs Polymarket 2026-06-16 (745 days); Polymarket resolves 'Other' if no winner by Jun 30"),
    ("KXNBAWEST-26-*", "will-san-antonio-spurs-advance-to-the-2026-nba-finals", False, False,
     "WRONG MATCH: 'win the Western Conference Championship' vs 'advance to the NBA Finals' is a different "
     "question with a different fallback (Polymarket: No if postponed after Jun 30); 761 days apart"),
    ("KXNBAWEST-26-*", "will-oklahoma-city-thunder-advance-to-the-2026-nba-finals", False, False,
     "WRONG MATCH: 'win the Western Conference Championship' vs 'advance to the NBA Finals' is a different "
     "question with a different fallback (Polymarket: No if postponed after Jun 30); 761 days apart"),
    ("KXNBAWFINMVP-26-ACAR", None, False, True, "Kalshi 2027-04-12 vs Polymarket 2026-06-06: 311 days apart"),
    ("KXMAYORLA-26-SPRA", None, False, True,
     "Kalshi 2027-06-02 vs Polymarket 2026-06-02 (366 days); the Polymarket date is the primary, not a runoff"),
    ("KXPRESPERSON-28-JDIM", None, False, False,
     "WRONG MATCH: Kalshi resolves on who is inaugurated for the 2029 term, Polymarket on the 2028 election "
     "call (AP/Fox/NBC); 365 days apart"),
    ("KXUPONLY-01-*", None, True, True,
     "equivalent: 'before Jan 1, 2027' = 'by December 31, 2026 11:59 PM ET', same guest, same podcast"),
    ("KXPGATOUR-CHSC26-*", None, True, True,
     "equivalent proposition (named player wins the 2026 Charles Schwab Challenge); Kalshi date 14 days later "
     "is its close backstop"),
    ("KXIPL-26-*", None, True, True,
     "equivalent proposition (team wins IPL 2026); dates 15 days apart (Kalshi close backstop)"),
    ("KXFOMEN-26-SIN", None, True, True,
     "equivalent proposition (Sinner wins the 2026 French Open men's singles); dates 31 days apart"),
]


def _third_party_label(ticker: str, slug: str) -> tuple[bool, bool, str]:
    for key, pslug, eq, same, why in THIRD_PARTY:
        hit = ticker.startswith(key[:-1]) if key.endswith("*") else ticker == key
        if hit and (pslug is None or pslug == slug):
            return eq, same, why
    raise KeyError(f"no verdict for third-party pair {ticker} / {slug}")


def entry(kalshi: str, poly: str, equivalent: bool, inverted: bool | None, source: str, reason: str,
          same_event: bool | None = None) -> dict[str, Any]:
    return {
        "kalshi": kalshi, "polymarket": poly, "equivalent": equivalent,
        "inverted": inverted if equivalent else None,
        "same_event": equivalent if same_event is None else same_event,
        "source": source, "reason": reason,
    }


def build() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kalshi_events = fm.load("kalshi_nba_events.json")["events"]
    poly_events = fm.load("polymarket_nba_events.json")
    config = {m["poly_condition_id"]: m for m in fm.load("nba_pairs_config.json")["markets"]}

    for ke in kalshi_events:
        ev = ke["event_ticker"]
        away, home = (c.strip().lower() for c in ke["sub_title"].split("(")[0].split(" at "))
        day = fm._ticker_day(ev).isoformat()
        for pe in poly_events:
            slug = pe["slug"]
            parts = slug.split("-")
            a, b, pday = parts[1], parts[2], "-".join(parts[3:6])
            if {a, b} != {away, home}:
                continue
            for raw in pe["markets"]:
                cid = raw["conditionId"]
                kind = raw.get("sportsMarketType") or ""
                for code in (away, home):
                    ticker = f"{ev}-{code.upper()}"
                    if kind == "moneyline" and pday == day:
                        inverted = code != a  # YES token = first outcome = first slug team
                        cfg = config.get(cid)
                        if cfg is not None:
                            first = json.loads(raw["clobTokenIds"])[0]
                            assert (cfg["poly_token_ids"][code.upper()] == first) == (not inverted), ticker
                        src = "nba_pairs_config" if cfg else "nba_events_by_code"
                        out.append(entry(ticker, cid, True, inverted, src,
                                         f"same game {day}; Kalshi {code.upper()} = "
                                         f"{'second' if inverted else 'first'} Polymarket outcome"))
                    elif kind == "moneyline":
                        out.append(entry(ticker, cid, False, None, "hard_negative",
                                         f"same teams, different date ({day} vs {pday})", same_event=False))
                    elif pday == day and kind:
                        out.append(entry(ticker, cid, False, None, "hard_negative",
                                         f"same game, different market: {kind} ({raw['question']}) vs moneyline",
                                         same_event=False))

    # NFL / CFP games of the config (no events capture; Polymarket rules text not recorded)
    for cid, m in config.items():
        if m["sport"] == "NBA":
            continue
        first = next(iter(m["poly_token_ids"]))
        for side in ("main", "opponent"):
            ticker = m["kalshi"]["markets"][side]
            code = ticker.rsplit("-", 1)[1]
            out.append(entry(ticker, cid, True, code != first, "nba_pairs_config",
                             "same game per the third-party config; first token = " + first))

    # third-party matcher output
    _, cpoly, pairs = fm.crossvenue_markets()
    slug_of = {p.id: p.extra.get("slug", "") for p in cpoly}
    seen: set[tuple[str, str]] = set()
    for p in pairs:
        key = (p["kalshi"], p["polymarket"])
        if key in seen:
            continue
        seen.add(key)
        eq, same, why = _third_party_label(p["kalshi"], slug_of[p["polymarket"]])
        out.append(entry(p["kalshi"], p["polymarket"], eq, False if eq else None, p["source"], why, same))

    # synthetic Kalshi lines vs the real Polymarket lines of Bucks–Lakers 2026-01-09
    lines = {raw["question"]: raw["conditionId"] for pe in poly_events if pe["slug"] == "nba-mil-lal-2026-01-09"
             for raw in pe["markets"]}
    syn = [
        ("KXNBATOTAL-26JAN09MILLAL-230", "Bucks vs. Lakers: O/U 230.5", True, False, "same line, Over = YES"),
        ("KXNBATOTAL-26JAN09MILLAL-232", "Bucks vs. Lakers: O/U 232.5", True, False, "same line, Over = YES"),
        ("KXNBATOTAL-26JAN09MILLAL-U231", "Bucks vs. Lakers: O/U 231.5", True, True,
         "Under 231.5 is the NO side of O/U 231.5"),
        ("KXNBATOTAL-26JAN09MILLAL-230", "Bucks vs. Lakers: O/U 229.5", False, None, "different strike"),
        ("KXNBATOTAL-26JAN09MILLAL-230", "Bucks vs. Lakers: O/U 231.5", False, None, "different strike"),
        ("KXNBATOTAL-26JAN09MILLAL-232", "Bucks vs. Lakers: O/U 233.5", False, None, "different strike"),
        ("KXNBATOTAL-26JAN09MILLAL-U231", "Bucks vs. Lakers: O/U 230.5", False, None,
         "Under 231.5 vs Over 230.5 overlap at 231: neither same nor complement"),
        ("KXNBATOTAL-26JAN09MILLAL-230", "Bucks vs. Lakers: 1H O/U 118.5", False, None, "first half vs full game"),
        ("KXNBASPREAD-26JAN09MILLAL-LAL3", "Spread: Lakers (-3.5)", True, False, "same team, same line"),
        ("KXNBASPREAD-26JAN09MILLAL-LAL3", "Spread: Lakers (-2.5)", False, None, "different spread line"),
        ("KXNBASPREAD-26JAN09MILLAL-LAL5", "Spread: Lakers (-3.5)", False, None, "different spread line"),
        ("KXNBASPREAD-26JAN09MILLAL-LAL5", "Spread: Lakers (-2.5)", False, None, "different spread line"),
        ("KXNBASPREAD-26JAN09MILLAL-LAL3", "Bucks vs. Lakers", False, None, "spread vs moneyline"),
    ]
    for ticker, question, eq, inv, why in syn:
        out.append(entry(ticker, lines[question], eq, inv, "synthetic_kalshi_line", why,
                         same_event=eq))
    return out


def main() -> None:
    data = {
        "_note": "Built by tests/matching/build_labelled_set.py; method in tests/matching/LABELLED_SET.md.",
        "pairs": build(),
    }
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    pos = sum(1 for p in data["pairs"] if p["equivalent"])
    print(f"wrote {OUT}: {len(data['pairs'])} pairs, {pos} equivalent")


if __name__ == "__main__":
    main()
