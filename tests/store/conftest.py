"""Registers the store tests' fixtures (defined in ``store_support``)."""

from store_support import database_url, examples, postgres_url, store

__all__ = ["database_url", "examples", "postgres_url", "store"]
