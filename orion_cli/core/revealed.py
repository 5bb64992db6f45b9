"""The secret values this process has revealed from its store, and the scrub that keeps every output from
repeating one.

Its own module, with nothing to import: every error is scrubbed where it is made (core.errors), so this is
loaded wherever an error can be, and it has no business with URLs or settings (core.redact)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The secret values this process has revealed from its store (vault or keyring), line by line: no output
# repeats one, whatever echoed it back (a venue's error body quoting the request's headers, an API key or
# passphrase among them, was shown as the venue's message: found in review). A value never revealed was
# never sent, so only these can come back. Short ones (a signature type) are not secrets to scrub.
_REVEALED: set[str] = set()
_REVEALED_MIN = 8
# The same, longest first (a secret holding another is replaced whole), rebuilt as one is added: a scrub
# runs on every output line and audit event, and sorting there cost more than the searches.
_REVEALED_ORDER: tuple[str, ...] = ()
REVEALED_SHOWN_AS = "***"


def note_revealed(value: str) -> None:
    """Remember ``value`` (and each of its lines: a PEM's) as one no output may repeat."""
    global _REVEALED_ORDER
    added = False
    for part in (value, *value.splitlines()):
        part = part.strip()
        if len(part) >= _REVEALED_MIN and not part.startswith("-----"):  # a PEM's armour is no secret
            forms = [part]
            if part[:2].lower() == "0x" and len(part) - 2 >= _REVEALED_MIN:  # a hex key, written either way
                forms.append(part[2:])
            for form in forms:
                if form not in _REVEALED:
                    _REVEALED.add(form)
                    added = True
    if added:
        _REVEALED_ORDER = tuple(sorted(_REVEALED, key=len, reverse=True))


def forget_revealed() -> None:
    """Forget every revealed secret (a test's end, as a command process's end would)."""
    global _REVEALED_ORDER
    _REVEALED.clear()
    _REVEALED_ORDER = ()


def scrub_revealed(text: str) -> str:
    """``text`` with every revealed secret in it replaced (the longest first)."""
    order = _REVEALED_ORDER
    if not order or not text:
        return text
    for secret in order:
        if secret in text:
            text = text.replace(secret, REVEALED_SHOWN_AS)
    return text


def scrub_revealed_in(value: Any) -> Any:
    """A record (mappings, lists, tuples of text and other values; keys too) with :func:`scrub_revealed`
    applied to its text."""
    if not _REVEALED_ORDER:
        return value
    if isinstance(value, str):
        return scrub_revealed(value)
    if isinstance(value, Mapping):
        return {scrub_revealed(k) if isinstance(k, str) else k: scrub_revealed_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_revealed_in(v) for v in value]
    if type(value) is tuple:
        return tuple(scrub_revealed_in(v) for v in value)
    return value
