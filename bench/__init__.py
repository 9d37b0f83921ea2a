"""Benchmarks that print figures (``python -m bench`` runs them all). Not part of the test run."""
