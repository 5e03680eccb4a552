"""Enforcement signals: closure rate, completion SLO, backlog, cause trends, apparatus updates, MTTx."""

__all__: list[str] = []
