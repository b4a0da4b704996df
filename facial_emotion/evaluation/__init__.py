"""Scoring models, choosing the champion on validation, ensembling, and registering it."""
