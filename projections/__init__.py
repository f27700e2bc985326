"""PostgreSQL read models ("projections") of the journey store, kept up to date by a batched log follower.

Each projection maps careloop events to row operations (pure, in its ``projection.py``); ``runner.py`` applies
them page by page, writing rows and the projection's tracking position in one transaction.
"""
