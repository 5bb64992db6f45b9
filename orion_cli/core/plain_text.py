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


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is digits 0-9 only: ``str.isdigit`` also takes "²" (which ``int`` refuses) and
    other scripts' digits (which ``int`` reads), neither of which any number orion reads is written in."""
    return text.isascii() and text.isdigit()


def plural(count: object, noun: str) -> str:
    """``noun`` as it follows ``count``: singular for exactly one ("1 contract"), else plural ("0.5
    contracts", "2 orders"); a regular English plural (an added "s")."""
    return noun if count == 1 else f"{noun}s"


# Longer than any id, path or name a person types (a ticker is at most 128 characters): the length is then
# what is wrong, and a whole pasted page printed back (twice: the message and its JSON record) would bury it.
SHOWN_WHOLE_MAX = 200
SHOWN_CUT_CHARS = 60


def shown_text(given: str) -> str:
    """A value typed by a person (a market or opportunity id, an option's value) as a message quotes it:
    ``repr`` (so a control character or a space shows as what it is), whole as given, unless it is far
    longer than any such value can be: then its first :data:`SHOWN_CUT_CHARS` characters and its length,
    ``'aaaa…'… (10000 characters)``. One rule for every command, so a 10,000-character id is not echoed
    whole by one command and cut by another."""
    if len(given) <= SHOWN_WHOLE_MAX:
        return repr(given)
    return f"{given[:SHOWN_CUT_CHARS]!r}… ({len(given)} characters)"
