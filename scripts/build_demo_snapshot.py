"""Build ``orion_cli/data/demo_snapshot.json.gz`` from the recorded fixtures in ``../shared/fixtures``.

Run by developers, never at install time; it only reads the fixtures and writes the one output file.
Deterministic: the same inputs give byte-identical output (sorted keys where order is free, gzip
mtime 0, no clock reads).

    .venv/bin/python scripts/build_demo_snapshot.py [--fixtures DIR] [--out FILE]   # (re)build the file
    .venv/bin/python scripts/build_demo_snapshot.py [--fixtures DIR] --report       # report only, write nothing

``--fixtures`` defaults to ``shared/fixtures`` beside the checkout (``../shared/fixtures``); a directory
without the recorded files is a usage error (exit 2) naming it. ``--report`` builds the data set in
memory and prints each pair's edge; it writes a file only when ``--out`` is given too.

What is real and what is reconstructed is written into the snapshot's ``synthesised`` list and
``notes`` and documented in ``orion_cli/data/DEMO.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orion_cli.venues.polymarket.parse import book_hash  # noqa: E402
from orion_cli.venues.snapshot import Capture, KalshiRaw, PolymarketRaw, parse_capture, write_capture  # noqa: E402

DEFAULT_FIXTURES = ROOT.parent / "shared" / "fixtures"
DEFAULT_OUT = ROOT / "orion_cli" / "data" / "demo_snapshot.json.gz"

# No timestamp in the aggregator files; the open markets (IPL 2026 final, Charles Schwab Challenge
# 2026, LA mayoral primary of 2026-06-02) put the capture in the last week of May 2026.
RECORDED_AT = "2026-05-26T00:00:00Z"
RECORDED_MS = 1779753600000  # RECORDED_AT in milliseconds

# Polymarket taker rates by category (docs.polymarket.com/trading/fees, reference §4).
POLY_FEES: dict[str, tuple[str, str]] = {
    "sports": ("sports_fees_v2", "0.03"),
    "politics": ("politics_fees", "0.04"),
    "culture": ("culture_fees", "0.05"),
}

# Kalshi event titles are not in the aggregator output; these are written from the market titles.
KALSHI_EVENT_TITLES: dict[str, str] = {
    "KXMENWORLDCUP-26": "2026 Men's World Cup winner",
    "KXNBA-26": "2026 Pro Basketball Finals champion",
    "KXNBAWEST-26": "2026 Pro Basketball Western Conference champion",
    "KXNBAWFINMVP-26": "Western Conference Finals MVP",
    "KXNHL-26": "2025-26 Stanley Cup champion",
    "KXMAYORLA-26": "Los Angeles Mayoral Election 2026",
    "KXPRESPERSON-28": "Next U.S. President",
    "KXUPONLY-01": "UpOnly Podcast guests before 2027",
    "KXIPL-26": "IPL 2026 champion",
    "KXFOMEN-26": "French Open 2026 men's champion",
    "KXPGATOUR-CHSC26": "Charles Schwab Challenge 2026 winner",
}

SYNTHESISED = [
    "Kalshi market/event/series objects rebuilt from recorded fields. They are reconstructed in the 2026 "
    "fixed-point shape (template: "
    "kalshi/markets__page1.json) from an aggregator's recorded fields (ticker, title, rules text, outcome "
    "labels, best bid/ask, resolution date); close_time and latest_expiration_time are both the recorded "
    "resolution date; price_level_structure is deci_cent when a recorded quote has a sub-cent price, else "
    "linear_cent; event titles are written by hand from the market titles.",
    "Kalshi fee schedules assumed standard. Kalshi series fee schedules are Kalshi's standard one "
    "(fee_type quadratic, fee_multiplier 1): the "
    "series objects were not recorded.",
    "Polymarket Gamma objects rebuilt from recorded fields, with category fee rates. Gamma market and "
    "event objects are reconstructed (template: polymarket/gamma_market_live.json) "
    "from the aggregator's recorded fields (condition id, slug, question, description, outcome token ids, "
    "best bid/ask, end date); event and market ids are the aggregator's ids, not Gamma's numeric ids; "
    "feeSchedule uses Polymarket's published taker rate for the category (sports 0.03, politics 0.04, "
    "culture 0.05, exponent 1, taker only); tick 0.001 when a quote has three decimals, else 0.01; "
    "orderMinSize 5; negRisk true (all are outcomes of multi-outcome events); each event carries "
    "\"_orion_partial\": true because only some of its outcomes were recorded (orion never prices a "
    "neg-risk basket over a partial event).",
    "Book sizes and depth beyond the recorded top of book. Order-book sizes and every level beyond the "
    "recorded best bid and best ask are synthesised: the "
    "recorded top of book gets a deterministic size of 40-400 contracts and two deeper levels one and "
    "two ticks worse with larger sizes. Prices at the top of book are exactly as recorded, on both venues, "
    "at the same capture time.",
]

NOTES = (
    "Orion demo data set. Prices: real same-time best bid/ask quotes of cross-listed markets on Kalshi and "
    "Polymarket recorded by the alexanderdong8/Kalshi-Polymarket-latency-arb matcher (fixtures "
    "crossvenue/cluster_matches_head.json and crossvenue/matched_pairs_quotes.json), production venues, "
    "captured about " + RECORDED_AT[:10] + " (approximate: the source has no timestamp; inferred from which "
    "markets were open). Not live prices. See orion_cli/data/DEMO.md."
)


def D(x: Any) -> Decimal:
    """Aggregator floats → the decimal the venue displayed (they are at most 4 decimals)."""
    return Decimal(str(x)).quantize(Decimal("0.0001")).normalize()


def fmt4(x: Decimal) -> str:
    return f"{x:.4f}"


def has_subcent(*values: Decimal | None) -> bool:
    return any(v is not None and v != v.quantize(Decimal("0.01")) for v in values)


def seeded(key: str, lo: int, hi: int) -> int:
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return lo + h % (hi - lo + 1)


def depth(top: Decimal, tick: Decimal, key: str, *, better_is_higher: bool) -> list[tuple[Decimal, Decimal]]:
    """The recorded top level plus two synthesised deeper levels (worse by 1 and 2 ticks)."""
    base = Decimal(seeded(key, 4, 40) * 10)
    out = [(top, base)]
    for i in (1, 2):
        p = top - i * tick if better_is_higher else top + i * tick
        if Decimal(0) < p < Decimal(1):
            out.append((p, base * (i + 1) + Decimal(seeded(key + str(i), 0, 9) * 10)))
    return out


# The recorded files the data set is built from (relative to --fixtures).
PAIR_FILES = ("crossvenue/matched_pairs_quotes.json", "crossvenue/cluster_matches_head.json")


def load_pairs(fixtures: Path) -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for name in PAIR_FILES:
        doc = json.loads((fixtures / name).read_text(encoding="utf-8"))
        for m in doc["matches"]:
            key = (m["kalshi"]["slug"], m["polymarket"]["contract_address"])
            if key in seen:
                continue
            seen.add(key)
            pairs.append({**m, "_file": name})
    return pairs


def quote(side: dict[str, Any], key: str) -> Decimal | None:
    v = side.get(key)
    return None if v is None else D(v)


def kalshi_objects(m: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    k = m["kalshi"]
    raw = k["raw"]
    ticker = k["slug"]
    event_ticker = ticker.rsplit("-", 1)[0]
    series_ticker = event_ticker.split("-", 1)[0]
    yb, ya, nb, na = (quote(k["yes"], "best_bid"), quote(k["yes"], "best_ask"),
                      quote(k["no"], "best_bid"), quote(k["no"], "best_ask"))
    sub = has_subcent(yb, ya, nb, na)
    step = Decimal("0.001") if sub else Decimal("0.01")
    market: dict[str, Any] = {
        "can_close_early": True,
        "close_time": k["resolution_date"].replace(".000Z", "Z"),
        "event_ticker": event_ticker,
        "expiration_value": "",
        "fractional_trading_enabled": True,
        "last_price_dollars": fmt4(D(raw["lastPrice"])) if raw.get("lastPrice") is not None else "0.0000",
        "latest_expiration_time": k["resolution_date"].replace(".000Z", "Z"),
        "market_type": "binary",
        "no_ask_dollars": fmt4(na) if na is not None else "1.0000",
        "no_bid_dollars": fmt4(nb) if nb is not None else "0.0000",
        "no_sub_title": k["no"]["label"],
        "notional_value_dollars": "1.0000",
        "price_level_structure": "deci_cent" if sub else "linear_cent",
        "price_ranges": [{"end": "1.0000", "start": "0.0000", "step": fmt4(step)}],
        "result": "",
        "rules_primary": raw.get("description") or "",
        "status": "active",
        "strike_type": "structured",
        "ticker": ticker,
        "title": k["title"],
        "yes_ask_dollars": fmt4(ya) if ya is not None else "1.0000",
        "yes_bid_dollars": fmt4(yb) if yb is not None else "0.0000",
        "yes_sub_title": k["yes"]["label"],
    }
    event = {
        "category": raw.get("category") or "",
        "collateral_return_type": "MECNET",
        "event_ticker": event_ticker,
        "mutually_exclusive": True,
        "series_ticker": series_ticker,
        "sub_title": "",
        "title": KALSHI_EVENT_TITLES.get(event_ticker, k["title"]),
    }
    series = {
        "category": raw.get("category") or "",
        "fee_multiplier": 1,
        "fee_type": "quadratic",
        "frequency": "custom",
        "ticker": series_ticker,
        "title": KALSHI_EVENT_TITLES.get(event_ticker, k["title"]),
    }
    # Only bids exist on Kalshi: YES bids and NO bids (asks are the other side's bids at 1 − p).
    if ya is not None and nb is not None and ya != 1 - nb:
        raise SystemExit(f"{ticker}: recorded yes ask {ya} is not 1 − no bid {nb}")
    yes_levels = depth(yb, step, ticker + "/y", better_is_higher=True) if yb is not None else []
    no_levels = depth(nb, step, ticker + "/n", better_is_higher=True) if nb is not None else []
    book = {
        "ticker": ticker,
        "orderbook_fp": {
            # Wire order is worst → best (ascending), as the live captures show.
            "yes_dollars": [[fmt4(p), f"{s:.2f}"] for p, s in sorted(yes_levels)] or None,
            "no_dollars": [[fmt4(p), f"{s:.2f}"] for p, s in sorted(no_levels)] or None,
        },
    }
    return market, event, series, book


def poly_category(m: dict[str, Any]) -> str:
    cat = (m["kalshi"]["raw"].get("category") or "").lower()
    if cat in ("sports",):
        return "sports"
    if cat in ("politics", "elections"):
        return "politics"
    return "culture"


def poly_objects(m: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    p = m["polymarket"]
    raw = p["raw"]
    event_title, _, question = p["title"].partition(" - ")
    question = question.strip() or p["title"].strip()
    yb, ya, nb, na = (quote(p["yes"], "best_bid"), quote(p["yes"], "best_ask"),
                      quote(p["no"], "best_bid"), quote(p["no"], "best_ask"))
    tick = Decimal("0.001") if has_subcent(yb, ya, nb, na) else Decimal("0.01")
    yes_tok, no_tok = p["yes"]["outcome_id"], p["no"]["outcome_id"]
    fee_type, rate = POLY_FEES[poly_category(m)]
    yes_price = D(raw["yes"]["price"]) if raw.get("yes", {}).get("price") is not None else (ya or Decimal("0.5"))
    market: dict[str, Any] = {
        "acceptingOrders": True,
        "active": True,
        "archived": False,
        "bestAsk": ya,
        "bestBid": yb,
        "clobTokenIds": json.dumps([yes_tok, no_tok]),
        "closed": False,
        "conditionId": p["contract_address"],
        "description": raw.get("description") or "",
        "enableOrderBook": True,
        "endDate": p["resolution_date"].replace(".000Z", "Z"),
        "feeSchedule": {"exponent": 1, "rate": Decimal(rate), "rebateRate": Decimal("0.25"), "takerOnly": True},
        "feeType": fee_type,
        "feesEnabled": True,
        "groupItemTitle": p["yes"]["label"],
        "negRisk": True,
        "orderMinSize": 5,
        "orderPriceMinTickSize": tick,
        "outcomePrices": json.dumps([f"{yes_price:f}", f"{(1 - yes_price):f}"]),
        "outcomes": json.dumps(["Yes", "No"]),
        "question": question,
        "slug": raw.get("slug") or "",
    }
    event = {
        "active": True,
        "closed": False,
        "id": raw.get("eventId") or p["market_id"],
        "negRisk": True,
        "title": event_title.strip(),
        "slug": "",
        # Only some outcomes of each event were recorded: tell the parser the listing is partial, so a
        # neg-risk basket over the recorded subset is never mistaken for a complete event (fake arb).
        "_orion_partial": True,
    }
    books = []
    for tok, bid, ask in ((yes_tok, yb, ya), (no_tok, nb, na)):
        bids = depth(bid, tick, tok + "/b", better_is_higher=True) if bid is not None else []
        asks = depth(ask, tick, tok + "/a", better_is_higher=False) if ask is not None else []
        body: dict[str, Any] = {
            "market": p["contract_address"],
            "asset_id": tok,
            "timestamp": str(RECORDED_MS),
            "hash": "",
            # CLOB wire order: bids ascending, asks descending (best is last).
            "bids": [{"price": f"{pr:f}", "size": f"{sz:f}"} for pr, sz in sorted(bids)],
            "asks": [{"price": f"{pr:f}", "size": f"{sz:f}"} for pr, sz in sorted(asks, reverse=True)],
            "min_order_size": "5",
            "tick_size": f"{tick:f}",
            "neg_risk": True,
            "last_trade_price": f"{yes_price if tok == yes_tok else 1 - yes_price:f}",
        }
        body["hash"] = book_hash(body)
        books.append(body)
    return market, event, books


def build(fixtures: Path) -> Capture:
    from datetime import datetime

    pairs = load_pairs(fixtures)
    k = KalshiRaw(fetched_at=datetime.fromisoformat(RECORDED_AT.replace("Z", "+00:00")))
    p = PolymarketRaw(fetched_at=k.fetched_at)
    kalshi_seen: set[str] = set()
    events: dict[str, dict[str, Any]] = {}
    series: dict[str, dict[str, Any]] = {}
    poly_events: dict[str, dict[str, Any]] = {}
    for m in pairs:
        km, ke, ks, kb = kalshi_objects(m)
        if km["ticker"] not in kalshi_seen:
            kalshi_seen.add(km["ticker"])
            k.markets.append(km)
            k.orderbooks.append(kb)
        events.setdefault(ke["event_ticker"], ke)
        series.setdefault(ks["ticker"], ks)
        pm, pe, pbooks = poly_objects(m)
        ev = poly_events.setdefault(pe["id"], {**pe, "markets": []})
        if all(x["conditionId"] != pm["conditionId"] for x in ev["markets"]):
            ev["markets"].append(pm)
            p.books.extend(pbooks)
    k.events = list(events.values())
    k.series = list(series.values())
    p.events = list(poly_events.values())
    return Capture(
        kalshi=k,
        polymarket=p,
        recorded_at=k.fetched_at or datetime.fromisoformat(RECORDED_AT.replace("Z", "+00:00")),
        environment={"kalshi": "prod", "polymarket": "prod"},
        notes=NOTES,
        synthesised=list(SYNTHESISED),
        recorder="scripts/build_demo_snapshot.py",
    )


def report(capture: Capture, fixtures: Path) -> list[dict[str, Any]]:
    """Top-of-book cross-venue cost of each recorded pair, with exact fees, for DEMO.md."""
    data = parse_capture(capture)
    by_id = {(m.venue.value, m.id): m for m in data.markets}
    rows = []
    for pair in load_pairs(fixtures):
        km = by_id[("kalshi", pair["kalshi"]["slug"])]
        pm = by_id[("polymarket", pair["polymarket"]["contract_address"])]
        kb, pb = data.book_for(km), data.book_for(pm)
        assert kb is not None and pb is not None
        best: tuple[Decimal, str] | None = None
        for desc, a, b, fa, fb in (
            ("kalshi YES + polymarket NO", kb.yes.best_ask, pb.no.best_ask, km.fee_model, pm.fee_model),
            ("polymarket YES + kalshi NO", pb.yes.best_ask, kb.no.best_ask, pm.fee_model, km.fee_model),
        ):
            if a is None or b is None:
                continue
            size = min(a.size, b.size)
            fees = fa.fill_fee(size, a.price) + fb.fill_fee(size, b.price)
            cost = (a.price + b.price) * size + fees
            edge = (size - cost) / size
            if best is None or edge > best[0]:
                best = (edge, f"{desc} @ {a.price}+{b.price} x{size}")
        rows.append({"kalshi": km.id, "polymarket": pm.extra.get("slug", pm.id), "net_edge": best[0] if best else None,
                     "how": best[1] if best else "one side has no ask"})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, metavar="DIR",
                    help=f"the shared recorded fixtures (default: {DEFAULT_FIXTURES})")
    ap.add_argument("--out", type=Path, default=None, metavar="FILE",
                    help="where to write the data set (default: orion_cli/data/demo_snapshot.json.gz, "
                         "except with --report)")
    ap.add_argument("--report", action="store_true",
                    help="print each pair's best top-of-book edge after fees; writes nothing unless --out is given")
    args = ap.parse_args(argv)
    missing = [name for name in PAIR_FILES if not (args.fixtures / name).is_file()]
    if missing:  # a checkout not beside shared/, or a mistyped --fixtures: said, not a traceback
        ap.error(f"no recorded fixtures in {args.fixtures} (missing {', '.join(missing)}); "
                 "give the shared fixtures directory with --fixtures DIR")
    capture = build(args.fixtures)
    out = args.out if args.out is not None or args.report else DEFAULT_OUT
    counts = (f"{len(capture.kalshi.markets) if capture.kalshi else 0} Kalshi markets, "
              f"{sum(len(e['markets']) for e in capture.polymarket.events) if capture.polymarket else 0} "
              "Polymarket markets")
    if out is not None:
        size = write_capture(capture, out)
        print(f"wrote {out} ({size} bytes): {counts}")
    else:
        print(f"built in memory, nothing written: {counts}")
    if args.report:
        for row in sorted(report(capture, args.fixtures), key=lambda r: -(r["net_edge"] or Decimal(-9))):
            edge = row["net_edge"]
            print(f"{'PROFIT' if edge is not None and edge > 0 else '      '} "
                  f"{(f'{edge:+.4f}' if edge is not None else '   n/a'):>8}  {row['kalshi']:<24} "
                  f"{row['polymarket'][:60]:<60} {row['how']}")


def run(argv: list[str] | None = None) -> None:
    """:func:`main`, quiet when its reader stops early (``--report | head``): the rest of the report is not
    wanted, which is no error of the build (it had written its file, if any, before printing)."""
    try:
        main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would flush stdout again at exit and print "Exception ignored ... BrokenPipeError".
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    run()
