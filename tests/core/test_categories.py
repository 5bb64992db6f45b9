"""One category filter for every command: canonical names across venues, or a part of a venue's name."""

from __future__ import annotations

import pytest

from orion_cli.core.categories import canonical_category, category_filter, wanted_categories


@pytest.mark.parametrize(("venue_name", "canonical"), [
    ("Entertainment", "culture"), ("Elections", "politics"), ("Climate and Weather", "weather"),
    ("pop-culture", "culture"), ("Something New", "something-new")])
def test_canonical_names(venue_name: str, canonical: str) -> None:
    assert canonical_category(venue_name) == canonical


@pytest.mark.parametrize(("name", "wanted", "passes"), [
    ("Entertainment", "culture", True),  # canonical names agree
    ("culture", "Entertainment", True),
    ("Elections", "elect", True),  # a part of the venue's own name
    ("politics", "elect", True),  # ... and through it the other venue's name for that category
    ("Elections", " Politics ", True),
    ("Climate and Weather", "climate and", True),  # a part across words, as the venue spells it
    ("weather", "climate and", True),
    ("geopolitics", "politics", False),  # a full name is never widened to the names it is a part of
    ("Sports", "politics", False),
    ("Sports", "ort", True),
    ("Sports", None, True),  # no filter
    ("Sports", "", True),
    ("Sports", "crypto", False)])
def test_category_filter(name: str, wanted: str | None, passes: bool) -> None:
    assert category_filter(wanted, {name})(name) is passes


def test_a_part_of_one_venues_name_finds_both_venues_markets() -> None:
    # Found black-box: `scan -c elect` (the --help's own example) kept Kalshi's "Elections" markets but
    # dropped Polymarket's "politics" ones, so the cross-venue scan checked no pair at all.
    names = {"Elections", "politics", "Sports", "sports", "Entertainment", "culture"}
    keep = category_filter("elect", names)
    assert {n for n in names if keep(n)} == {"Elections", "politics"}
    assert {n for n in names if category_filter("tain", names)(n)} == {"Entertainment", "culture"}


def test_ambiguous_and_unknown_parts() -> None:
    # A part in several categories selects them all; a full name only its own.
    assert wanted_categories("tic") == {"politics", "geopolitics"}
    assert wanted_categories("politics") == {"politics"}
    assert wanted_categories("World") == {"geopolitics"}
    assert wanted_categories("no such thing") == frozenset()
    # Names the table does not map are found by a full name or a part, as the venue spells them.
    assert wanted_categories("Health", {"Health", "Healthcare"}) == {"health"}
    assert wanted_categories("heal", {"Health", "Healthcare"}) == {"health", "healthcare"}
    assert not category_filter("heal", {"Sports"})("Sports")
