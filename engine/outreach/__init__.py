"""Outreach outside the pure core: message templates and their rendering (used by the loader and the dispatcher)."""
