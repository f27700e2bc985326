"""Experiment assignments: each unit's arm of a journey's split or of the global holdout, with how it was drawn."""
