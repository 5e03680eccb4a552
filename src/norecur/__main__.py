"""``python -m norecur`` runs the CLI."""

from norecur.cli import main

main()
