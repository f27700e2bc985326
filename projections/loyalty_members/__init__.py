"""Loyalty members: each member's tier, balances, next expiry and badges, from the loyalty engine's events."""
