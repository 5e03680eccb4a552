"""A postmortem as one self-contained HTML page (no scripts, no external assets)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from norecur.model import MILESTONES, Postmortem

__all__ = ["render_html"]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("norecur.document", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # Raw HTML in prose is escaped, not passed through: a postmortem must not carry scripts.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_html(postmortem: Postmortem, *, version: str = "") -> str:
    """The postmortem as HTML; prose is rendered from Markdown with raw HTML escaped."""

    def markdown(text: str) -> Markup:
        return Markup(_markdown().render(text))

    blast: list[tuple[str, Any]] = []
    if postmortem.blast_radius is not None:
        blast = _rows(postmortem.blast_radius.model_dump(exclude_none=True))
    evald: list[tuple[str, Any]] = []
    if postmortem.eval_delta is not None:
        evald = _rows(postmortem.eval_delta.model_dump(exclude_none=True))
    milestones = [
        (name.replace("_", " "), getattr(postmortem.incident, name)) for name in MILESTONES
    ]
    return (
        _environment()
        .get_template("postmortem.html.j2")
        .render(
            pm=postmortem,
            markdown=markdown,
            blast=blast,
            evald=evald,
            milestones=milestones,
            version=version,
        )
    )


def _rows(values: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = []
    for key, value in values.items():
        if isinstance(value, list):
            if not value:
                continue
            value = ", ".join(str(item) for item in value)
        rows.append((key.replace("_", " "), value))
    return rows
