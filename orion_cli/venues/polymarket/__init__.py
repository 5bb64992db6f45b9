"""Polymarket (CLOB V2 / Protocol V2): authentication, order signing, and the venue client.

``signing`` and ``orders`` are pure: they build headers, digests, signatures and request bodies
and never touch the network, so every byte can be checked against published vectors and the
official client offline.
"""
