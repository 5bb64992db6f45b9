"""The pipeline end to end, including on markets produced by the real Polymarket parser."""

from __future__ import annotations

import json

import pytest

from orion_cli.matching import MatchSettings, match_markets

from .fixture_markets import CROSS, kalshi_nba_markets, poly_nba_markets


def test_result_shape_and_stats() -> None:
    kalshi, poly = kalshi_nba_markets(), poly_nba_markets()
    res = match_markets(kalshi, poly, settings=MatchSettings())
    assert res.stats.kalshi_markets == len(kalshi) == 54
    assert res.stats.polymarket_markets == len(poly) == 738
    assert 0 < res.stats.blocked_candidates < len(kalshi) * len(poly)
    assert res.stats.accepted == len(res.accepted) == 54  # every Kalshi team market of every game
    assert len({c.kalshi_id for c in res.accepted}) == 54
    for c in res.held_back:
        assert c.reasons
    for c in res.accepted[:3] + res.held_back[:3]:
        json.dumps(c.to_record())
    json.dumps(res.stats.to_record())


def test_with_the_real_polymarket_parser() -> None:
    parse = pytest.importorskip("orion_cli.venues.polymarket.parse")
    money = pytest.importorskip("orion_cli.core.money")
    events = money.loads_exact((CROSS / "polymarket_nba_events.json").read_text())
    poly = []
    for ev in events:
        for raw in ev["markets"]:
            try:
                poly.append(parse.parse_gamma_market(raw, ev))
            except Exception as exc:  # a parser refusal is the parser's business, not the matcher's
                pytest.fail(f"parser rejected {raw.get('slug')}: {exc}")
    mine = {m.id: m for m in poly_nba_markets()}
    res_real = match_markets(kalshi_nba_markets(), poly, settings=MatchSettings())
    res_mine = match_markets(kalshi_nba_markets(), list(mine.values()), settings=MatchSettings())
    real = {(c.kalshi_id, c.polymarket_id, c.inverted) for c in res_real.accepted}
    assert real == {(c.kalshi_id, c.polymarket_id, c.inverted) for c in res_mine.accepted}
    assert len(real) == 54
