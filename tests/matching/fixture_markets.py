"""Build ``Market`` objects from the shared cross-venue fixtures, for the matcher's tests and benchmark.

Independent of the venue parsers on purpose (they are written in parallel); it reads only the fields
the matcher needs and follows the same conventions (Polymarket: YES = first outcome for named
outcomes, ``outcome_label`` = groupItemTitle for Yes/No markets, ``extra["no_label"]``, ``extra["slug"]``).

What is *not* in the fixtures and is therefore synthesised (documented in LABELLED_SET.md):
Kalshi NBA game markets. ``kalshi_nba_events.json`` is a real ``GET /events`` capture without nested
markets, so each event's two per-team markets are built from its real ticker, title and sub-title,
with rules worded like Kalshi's real game rules (the ATP/WTA game markets in
``kalshi/markets__status_open.json``), ``expected_expiration_time`` at the end of the game day (ET)
and ``close_time`` two weeks later, the pattern those real game markets show.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from orion_cli.core.fees import FeeModel
from orion_cli.core.models import Market, MarketStatus, TickStructure, Venue

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
CROSS = SHARED / "crossvenue"
TICK = TickStructure.uniform(Decimal("0.01"))


FEE = FeeModel.free("test fixture")


def ts(text: str | None) -> datetime | None:
    if not text:
        return None
    text = text.strip().replace(" ", "T")
    if text.endswith("+00"):
        text += ":00"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def load(name: str) -> Any:
    return json.loads((CROSS / name).read_text())


KALSHI_GAME_RULES = (
    "If {team} wins the {title} professional basketball game originally scheduled for {day}, then the "
    "market resolves to Yes.\n"
    "If the game is postponed or delayed, the market will remain open and close after the rescheduled game "
    "has finished (within two weeks). If the game is cancelled, the market will resolve to a fair price in "
    "accordance with the rules."
)


def kalshi_market(
    ticker: str,
    title: str,
    yes_sub_title: str,
    *,
    rules: str = "",
    close_time: datetime | None,
    expected: datetime | None = None,
    event_ticker: str | None = None,
    status: MarketStatus = MarketStatus.OPEN,
    market_type: str = "binary",
) -> Market:
    return Market(
        venue=Venue.KALSHI,
        id=ticker,
        event_id=event_ticker or ticker.rsplit("-", 1)[0],
        title=title,
        status=status,
        close_time=close_time,
        fee_model=FEE,
        ticks=TICK,
        outcome_label=yes_sub_title,
        rules=rules,
        expected_resolution_time=expected,
        market_type=market_type,
    )


def poly_market(
    condition_id: str,
    question: str,
    outcomes: list[str],
    tokens: list[str],
    *,
    description: str = "",
    end: datetime | None,
    group_item_title: str = "",
    slug: str = "",
    event_slug: str = "",
    event_title: str = "",
    sports_type: str = "",
    neg_risk: bool = False,
    augmented: bool = False,
    status: MarketStatus = MarketStatus.OPEN,
) -> Market:
    lowered = [o.strip().lower() for o in outcomes]
    extra: dict[str, str] = {}
    if sorted(lowered) == ["no", "yes"]:
        yes_i = lowered.index("yes")
        label = group_item_title or "Yes"
    else:
        yes_i = 0
        label = outcomes[0]
        extra["no_label"] = outcomes[1]
    if slug:
        extra["slug"] = slug
    if event_slug:
        extra["event_slug"] = event_slug
    if sports_type:
        extra["sportsMarketType"] = sports_type
    return Market(
        venue=Venue.POLYMARKET,
        id=condition_id,
        event_id=event_slug,
        title=question,
        status=status,
        close_time=end,
        fee_model=FEE,
        ticks=TICK,
        outcome_label=label,
        rules=description,
        neg_risk=neg_risk,
        neg_risk_augmented=augmented,
        yes_token=tokens[yes_i] if tokens else "",
        no_token=tokens[1 - yes_i] if len(tokens) == 2 else "",
        event_title=event_title,
        extra=extra,
    )


# ------------------------------------------------------------------------------------------------
# Kalshi NBA game markets from the real events listing
# ------------------------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}


def _ticker_day(event_ticker: str) -> date:
    part = event_ticker.split("-")[1]
    return date(2000 + int(part[:2]), _MONTHS[part[2:5]], int(part[5:7]))


def kalshi_game_markets(event_ticker: str, title: str, sub_title: str, sport: str = "basketball") -> list[Market]:
    """The two per-team markets of one Kalshi game event ("Milwaukee at Los Angeles L", "MIL at LAL (Jan 9)")."""
    away_name, home_name = (s.strip() for s in title.split(" at ", 1))
    codes = sub_title.split("(")[0].split(" at ")
    away_code, home_code = codes[0].strip(), codes[1].strip()
    day = _ticker_day(event_ticker)
    # end of the game day in US Eastern time (UTC-5 in January)
    expected = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=5)
    close = expected + timedelta(days=14)
    out = []
    for code, name in ((away_code, away_name), (home_code, home_name)):
        rules = KALSHI_GAME_RULES.format(team=name, title=title, day=day.strftime("%b %-d, %Y"))
        rules = rules.replace("basketball", sport)
        out.append(
            kalshi_market(
                f"{event_ticker}-{code}", f"{title} Winner?", name, rules=rules,
                close_time=close, expected=expected, event_ticker=event_ticker,
            )
        )
    return out


def kalshi_nba_markets() -> list[Market]:
    events = load("kalshi_nba_events.json")["events"]
    out: list[Market] = []
    for e in events:
        out.extend(kalshi_game_markets(e["event_ticker"], e["title"], e["sub_title"]))
    return out


def kalshi_config_extra_markets() -> list[Market]:
    """Kalshi NFL/CFP game markets named in nba_pairs_config.json (no events capture exists for them)."""
    out: list[Market] = []
    for m in load("nba_pairs_config.json")["markets"]:
        if m["sport"] == "NBA":
            continue
        desc = m["description"].split(":", 1)[1].strip()
        event = m["kalshi"]["markets"]["main"].rsplit("-", 1)[0]
        main, opp = m["kalshi"]["markets"]["main"], m["kalshi"]["markets"]["opponent"]
        if " at " in desc:
            away, home = (s.strip() for s in desc.split(" at ", 1))
            title = f"{away} at {home}"
        else:
            away, home = (s.strip() for s in desc.split(" vs ", 1))
            title = f"{away} at {home}"
        sub = f"{m['away_team']} at {m['home_team']} (x)"
        assert {main, opp} == {f"{event}-{m['away_team']}", f"{event}-{m['home_team']}"}
        out.extend(kalshi_game_markets(event, title, sub, "football"))
    return out


# ------------------------------------------------------------------------------------------------
# Polymarket markets from the real Gamma events capture
# ------------------------------------------------------------------------------------------------


def poly_nba_markets() -> list[Market]:
    out: list[Market] = []
    for ev in load("polymarket_nba_events.json"):
        for raw in ev["markets"]:
            status = MarketStatus.OPEN
            if raw.get("closed") or not raw.get("active") or not raw.get("acceptingOrders", True):
                status = MarketStatus.CLOSED if raw.get("closed") else MarketStatus.PAUSED
            out.append(
                poly_market(
                    raw["conditionId"], raw["question"], json.loads(raw["outcomes"]),
                    json.loads(raw["clobTokenIds"]), description=raw.get("description", ""),
                    end=ts(raw.get("endDate")), group_item_title=raw.get("groupItemTitle") or "",
                    slug=raw.get("slug", ""), event_slug=ev["slug"], event_title=ev["title"],
                    sports_type=raw.get("sportsMarketType") or "", neg_risk=bool(raw.get("negRisk")),
                    augmented=bool(ev.get("negRiskAugmented")), status=status,
                )
            )
    return out


def poly_config_extra_markets() -> list[Market]:
    """Polymarket NFL/CFP moneylines named in nba_pairs_config.json (ids real; no description recorded)."""
    out: list[Market] = []
    for m in load("nba_pairs_config.json")["markets"]:
        if m["sport"] == "NBA":
            continue
        labels = [s.strip() for s in m["poly_title"].split(" vs. ")]
        tokens = list(m["poly_token_ids"].values())
        slug = m["polymarket"]["markets"]["slug"]
        day = slug[-10:]
        out.append(
            poly_market(m["poly_condition_id"], m["poly_title"], labels, tokens, end=ts(f"{day}T23:59:00Z"),
                        slug=slug, event_slug=slug, sports_type="moneyline")
        )
    return out


# ------------------------------------------------------------------------------------------------
# Third-party matched pairs (pmxt-normalised; alexanderdong8 project)
# ------------------------------------------------------------------------------------------------


def crossvenue_markets() -> tuple[list[Market], list[Market], list[dict[str, str]]]:
    """Markets of matched_pairs_extract.json + cluster_matches_head.json, and the third-party pairs."""
    kalshi: dict[str, Market] = {}
    poly: dict[str, Market] = {}
    pairs: list[dict[str, str]] = []
    for m in load("matched_pairs_extract.json")["matches"]:
        k, p = m["kalshi"], m["polymarket"]
        kalshi.setdefault(
            k["market_ticker"],
            kalshi_market(k["market_ticker"], k["title"], k["yes_label"], rules=k["description"],
                          close_time=ts(k["resolution_date"])),
        )
        event_title, _, question = p["title"].partition(" - ")
        poly.setdefault(
            p["condition_id"],
            poly_market(p["condition_id"], question.strip() or p["title"], ["Yes", "No"],
                        [p["yes_token"], p["no_token"]], description=p["description"],
                        end=ts(p["resolution_date"]), group_item_title=p["yes_label"],
                        event_title=event_title.strip() if question else "", slug=p["slug"]),
        )
        pairs.append({"kalshi": k["market_ticker"], "polymarket": p["condition_id"], "source": "matched_pairs_extract"})
    for m in load("cluster_matches_head.json")["matches"]:
        k, p = m["kalshi"], m["polymarket"]
        ticker = k["yes"]["outcome_id"]
        kalshi.setdefault(
            ticker,
            kalshi_market(ticker, k["title"], k["yes"]["label"], rules=k["raw"]["description"],
                          close_time=ts(k["resolution_date"])),
        )
        cid = p["contract_address"]
        event_title, _, question = p["title"].partition(" - ")
        poly.setdefault(
            cid,
            poly_market(cid, question.strip() or p["title"], ["Yes", "No"],
                        [p["yes"]["outcome_id"], p["no"]["outcome_id"]], description=p["raw"]["description"],
                        end=ts(p["resolution_date"]), group_item_title=p["yes"]["label"],
                        event_title=event_title.strip() if question else "", slug=p["slug"]),
        )
        pairs.append({"kalshi": ticker, "polymarket": cid, "source": "cluster_matches_head"})
    return list(kalshi.values()), list(poly.values()), pairs


# ------------------------------------------------------------------------------------------------
# Synthetic Kalshi lines (totals, spreads) against real Polymarket lines: strike/direction negatives
# ------------------------------------------------------------------------------------------------


def kalshi_synthetic_lines() -> list[Market]:
    """Kalshi-style total and spread markets for the Bucks–Lakers game of 2026-01-09 (see LABELLED_SET.md)."""
    ev = "KXNBATOTAL-26JAN09MILLAL"
    sp = "KXNBASPREAD-26JAN09MILLAL"
    exp = datetime(2026, 1, 10, 5, tzinfo=UTC)
    close = exp + timedelta(days=14)
    title = "Milwaukee at Los Angeles L: Total Points"
    rules = KALSHI_GAME_RULES.replace("If {team} wins", "If {team} happens in").format(
        team="the outcome", title="Milwaukee at Los Angeles L", day="Jan 9, 2026")
    out = [
        kalshi_market(f"{ev}-230", title + " over 230.5?", "Over 230.5 points scored", close_time=close,
                      expected=exp, event_ticker=ev, rules=rules),
        kalshi_market(f"{ev}-232", title + " over 232.5?", "Over 232.5 points scored", close_time=close,
                      expected=exp, event_ticker=ev, rules=rules),
        kalshi_market(f"{ev}-U231", title + " under 231.5?", "Under 231.5 points scored", close_time=close,
                      expected=exp, event_ticker=ev, rules=rules),
        kalshi_market(f"{sp}-LAL3", "Milwaukee at Los Angeles L: Spread", "Los Angeles L wins by over 3.5 Points",
                      close_time=close, expected=exp, event_ticker=sp, rules=rules),
        kalshi_market(f"{sp}-LAL5", "Milwaukee at Los Angeles L: Spread", "Los Angeles L wins by over 5.5 Points",
                      close_time=close, expected=exp, event_ticker=sp, rules=rules),
    ]
    return out


def all_markets() -> tuple[list[Market], list[Market]]:
    """The labelled-set universe: every Kalshi and Polymarket market built above."""
    ck, cp, _ = crossvenue_markets()
    kalshi = kalshi_nba_markets() + kalshi_config_extra_markets() + kalshi_synthetic_lines() + ck
    poly = poly_nba_markets() + poly_config_extra_markets() + cp
    return kalshi, poly
