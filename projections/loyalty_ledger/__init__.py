"""The loyalty ledger as read models: every points entry, the tier history and the staff's requests as decided."""
