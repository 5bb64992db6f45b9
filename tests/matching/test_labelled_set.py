"""Quality on the labelled set built from the real cross-venue fixtures (see LABELLED_SET.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orion_cli.matching import MatchSettings, match_markets

from . import build_labelled_set
from .fixture_markets import all_markets

LABELS = Path(__file__).with_name("labelled_pairs.json")


@pytest.fixture(scope="module")
def labelled() -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = json.loads(LABELS.read_text())["pairs"]
    return pairs


def test_labelled_file_is_in_sync_with_its_builder(labelled: list[dict[str, Any]]) -> None:
    assert build_labelled_set.build() == labelled


def test_labelled_markets_exist_and_set_has_both_kinds(labelled: list[dict[str, Any]]) -> None:
    kalshi, poly = all_markets()
    kids, pids = {m.id for m in kalshi}, {m.id for m in poly}
    for p in labelled:
        assert p["kalshi"] in kids and p["polymarket"] in pids, p
    assert sum(p["equivalent"] for p in labelled) >= 60
    assert sum(not p["equivalent"] for p in labelled) >= 500
    wrong = [p for p in labelled if p["source"] in ("matched_pairs_extract", "cluster_matches_head")
             and not p["equivalent"]]
    assert len(wrong) >= 10  # third-party matches we judged not equivalent, each with its reason
    assert all(p["reason"] for p in wrong)


def test_auto_accept_precision_and_recall(labelled: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    kalshi, poly = all_markets()
    res = match_markets(kalshi, poly, settings=MatchSettings())
    positives = {(p["kalshi"], p["polymarket"]): p["inverted"] for p in labelled if p["equivalent"]}
    negatives = {(p["kalshi"], p["polymarket"]) for p in labelled if not p["equivalent"]}
    accepted = {(c.kalshi_id, c.polymarket_id): c.inverted for c in res.accepted}
    # an accepted pair counts as correct only if labelled equivalent *with the same polarity*;
    # unlabelled accepted pairs count against precision
    tp = sum(1 for key, inv in accepted.items() if key in positives and positives[key] == inv)
    assert accepted, "nothing auto-accepted"
    precision = tp / len(accepted)
    recall = tp / len(positives)
    assert not (set(accepted) & negatives), sorted(set(accepted) & negatives)
    assert precision >= 0.99, (precision, [k for k in accepted if k not in positives])
    with capsys.disabled():
        print(f"\n[labelled set] accepted={len(accepted)} tp={tp} positives={len(positives)} "
              f"precision={precision:.3f} recall={recall:.3f}")
    assert recall >= 0.5  # a floor, so that "accept nothing" cannot pass as quality
