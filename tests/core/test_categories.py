"""One category filter for every command: canonical names across venues, or a part of a venue's name."""

from __future__ import annotations

import pytest

from orion_cli.core.categories import canonical_category, category_matches


@pytest.mark.parametrize(("venue_name", "canonical"), [
    ("Entertainment", "culture"), ("Elections", "politics"), ("Climate and Weather", "weather"),
    ("pop-culture", "culture"), ("Something New", "something-new")])
def test_canonical_names(venue_name: str, canonical: str) -> None:
    assert canonical_category(venue_name) == canonical


@pytest.mark.parametrize(("name", "wanted", "passes"), [
    ("Entertainment", "culture", True),  # canonical names agree
    ("culture", "Entertainment", True),
    ("Elections", "elect", True),  # a part of the venue's own name
    ("Elections", " Politics ", True),
    ("Sports", "politics", False),
    ("Sports", "ort", True),
    ("Sports", None, True),  # no filter
    ("Sports", "", True),
    ("Sports", "crypto", False)])
def test_category_matches(name: str, wanted: str | None, passes: bool) -> None:
    assert category_matches(name, wanted) is passes
