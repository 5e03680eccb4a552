"""The quarterly trends review: Markdown, one self-contained HTML page with charts, JSON."""

__all__: list[str] = []
