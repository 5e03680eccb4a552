"""The ``norecur`` command line: thin Typer commands over the library."""

from norecur.cli._app import app, main

__all__ = ["app", "main"]
