"""Orion: cross-venue arbitrage between Kalshi and Polymarket, with safety rails."""

__version__ = "0.1.0"
