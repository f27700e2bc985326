"""Churn-risk flags per patient, journey and reason, and each patient's current churn score and level."""
