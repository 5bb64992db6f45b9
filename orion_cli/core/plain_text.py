"""What orion accepts as a number or a time typed by a person, and a count's noun as orion says it;
stdlib only, so the CLI's option parsing can import it at start-up without loading the configuration."""

from __future__ import annotations


def plain_ascii(text: str) -> bool:
    """Whether ``text`` may be a number or a time orion reads from a person: ASCII and no "_".

    Python's int(), float(), Decimal() and ``\\d`` in a regex also take other scripts' digits ("٣",
    full-width "３") and "1_000"; no option or setting documents them, and a value nobody can read
    back at a glance (`--since ٣d`, ``ORION__LIMITS__ORDER_NOTIONAL=５0``) is refused (exit 2 for an
    option, 3 for a setting) rather than read as a number."""
    return text.isascii() and "_" not in text


def plural(count: object, noun: str) -> str:
    """``noun`` as it follows ``count``: singular for exactly one ("1 contract"), else plural ("0.5
    contracts", "2 orders"); a regular English plural (an added "s")."""
    return noun if count == 1 else f"{noun}s"
