"""Safeguards: the kill switch, pre-trade checks, rate limits and the loss breaker."""
