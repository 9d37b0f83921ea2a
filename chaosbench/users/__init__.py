"""Reusable, abstract Locust users. Subclass them for your own system."""
