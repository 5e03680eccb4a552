"""Commands over the enforcement signals: report, status, metrics."""

from __future__ import annotations

__all__: list[str] = []
