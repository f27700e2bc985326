"""Relationships: each patient's relatives (role, guardian, household; never a name) and what each may receive."""
