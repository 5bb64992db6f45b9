"""Venue adapters: each venue's HTTP API translated into orion's venue-neutral domain model.

``http`` is the transport shared by every venue (rate limiting, retries, typed errors); each
sub-package (``kalshi``, ``polymarket``) owns its wire format and nothing else.
"""
