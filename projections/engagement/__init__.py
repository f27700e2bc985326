"""Engagement facts for analysts: each step a journey took, each change of a churn flag, each questionnaire score."""
