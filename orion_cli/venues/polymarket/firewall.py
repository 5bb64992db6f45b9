"""Which of Polymarket's 401/403 answers are not about credentials, shared by every Polymarket client.

Why a module of its own: the public client (Gamma, CLOB books, Data API) and the trading client both
stand behind the same Cloudflare front, which answers a host it blocks (geoblocked countries, many
datacenter and cloud IPs) with an HTML 403 "Sorry, you have been blocked" page before any request
reaches Polymarket (py-clob-client issues #101, #143, #152, #262; clob-client #231, #262). That is
this host's location being refused, :class:`~orion_cli.venues.trading.Geoblocked` (exit 6), for a
read as for an order; "rejected our credentials" (exit 4) would send the operator after keys the
venue never saw (and the public clients send none). Both import it from here, so that reading market
data does not load the trading client's module.
"""

from __future__ import annotations

import json
import re
from typing import Final

import httpx

from orion_cli.core.errors import OrionError
from orion_cli.venues.http import VenueHttpError
from orion_cli.venues.trading import Geoblocked

__all__ = [
    "FIREWALL_HINT",
    "GEOBLOCK_URL",
    "describe_error",
    "error_message",
    "firewall_refusal",
    "public_refusal",
]

GEOBLOCK_URL: Final = "https://polymarket.com/api/geoblock"
VENUE: Final = "polymarket"


def describe_error(status: int, body: bytes) -> tuple[str, str]:
    """The CLOB's error bodies are ``{"error": "<message>"}`` (sometimes ``errorMsg``)."""
    try:
        parsed = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deeply: as unreadable (review)
        parsed = None
    if isinstance(parsed, dict):
        for key in ("error", "errorMsg", "message"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return "", " ".join(value.split())[:300]
            if isinstance(value, dict):
                return "", " ".join(json.dumps(value)[:300].split())
    text = body[:200].decode("utf-8", "replace")
    return "", " ".join(text.split())


def error_message(body: bytes) -> str:
    return describe_error(0, body)[1]


FIREWALL_HINT: Final = (
    "Polymarket's firewall (Cloudflare) blocks geoblocked countries and many datacenter and cloud IPs, often "
    f"for orders only; check {GEOBLOCK_URL} from this host, and trade from a permitted location and network"
)
_PAGE_HEADLINES: Final = (
    re.compile(rb"<h1[^>]*>(.*?)</h1>", re.I | re.S),
    re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S),
)
_TAG: Final = re.compile(r"<[^>]*>")
_REGION_REFUSAL: Final = "restricted in your region"
_EXCERPT_CHARS: Final = 60
# What a blocked request did not do, where it matters: the operator's next step depends on it.
_NOT_DONE: Final = {("POST", "/order"): "no order was placed", ("DELETE", "/order"): "nothing was cancelled"}


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, RecursionError):
        return False


def _block_page_excerpt(body: bytes) -> str:
    """A few plain words naming a block page: its headline, else its title; the start of a body
    that is not HTML. Never the page itself, whose footer carries this host's IP and a trace id."""
    head = body[:20_000]
    raw = b""
    if b"<" in head:
        for pattern in _PAGE_HEADLINES:
            found = pattern.search(head)
            if found:
                raw = found.group(1)
                break
    else:
        raw = head[:_EXCERPT_CHARS * 4]
    text = _TAG.sub(" ", raw.decode("utf-8", "replace"))
    text = " ".join("".join(c for c in text if c.isprintable()).split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


def firewall_refusal(method: str, path: str, response: httpx.Response) -> Geoblocked | None:
    """A 403 whose body is not a JSON object came from the firewall in front of Polymarket, not from
    the CLOB (whose errors are JSON ``{"error": ...}``): this host is refused, whatever its keys.

    Why :class:`Geoblocked` (exit 6, reason ``GEOBLOCKED``) and not :class:`AuthError` (exit 4):
    "rejected our credentials" sends the operator after keys the venue never saw, and the executor
    takes an unexplained error on ``POST /order`` for an order that may exist and looks it up; the
    geoblock's refusal says what happened (nothing reached the venue) and what to do.
    """
    if response.status_code != 403:
        return None
    bare = path.split("?", 1)[0]
    not_done = _NOT_DONE.get((method, bare))
    if _is_json_object(response.content):
        # The CLOB checks the location before the keys: a restricted host's order is answered 403
        # {"error": "Trading restricted in your region, ..."} (widely reported), no credential judged.
        said = error_message(response.content)
        if _REGION_REFUSAL not in said.lower():
            return None
        return Geoblocked(f"Polymarket refused {method} {bare} from this host's location: {said[:200]}"
                          + (f"; {not_done}" if not_done else ""), hint=FIREWALL_HINT)
    excerpt = _block_page_excerpt(response.content)
    return Geoblocked(
        f"Polymarket's firewall refused {method} {bare} from this host (HTTP 403"
        + (f": {excerpt}" if excerpt else "")
        + "); the request never reached Polymarket"
        + (f", {not_done}" if not_done else ""),
        hint=FIREWALL_HINT,
    )


NO_CREDENTIALS_HINT: Final = (
    "the request carried no credentials, so no key was judged; Polymarket refused it for another reason "
    f"(check {GEOBLOCK_URL} from this host, or try again later)"
)


def public_refusal(method: str, path: str, response: httpx.Response) -> OrionError:
    """A 401/403 to a request that carried no credentials (Gamma, CLOB books and markets, the Data
    API, the geoblock endpoint): the firewall's or the region's refusal as :func:`firewall_refusal`
    says, else the venue refusing this request, never "rejected our credentials" (exit 4: there
    were none to reject). The latter is a :class:`VenueHttpError` (exit 5), as any other 4xx."""
    blocked = firewall_refusal(method, path, response)
    if blocked is not None:
        return blocked
    body = response.content
    said = error_message(body) if _is_json_object(body) else _block_page_excerpt(body)  # never a whole page
    refused = VenueHttpError(VENUE, method, path.split("?", 1)[0], response.status_code, "", said)
    refused.hint = NO_CREDENTIALS_HINT
    return refused
