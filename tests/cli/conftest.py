"""Registers the CLI battery's fixtures (defined in ``cli_support``)."""

from cli_support import clean_text, norecur, vague_text, workspace

__all__ = ["clean_text", "norecur", "vague_text", "workspace"]
