"""Kalshi (Trade API v2): request signing, wire parsing and the async market-data client."""
