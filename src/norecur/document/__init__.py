"""Postmortems as files: Markdown with YAML front matter, parse, render, template, schema."""

from norecur.document._frontmatter import FieldPath, FrontMatter
from norecur.document._html import render_html
from norecur.document._parse import (
    DEFAULT_MAX_BYTES,
    ParsedPostmortem,
    SchemaIssue,
    Section,
    dotted,
    parse_postmortem,
    read_postmortem,
)
from norecur.document._render import dump_front_matter, render_markdown, render_parsed
from norecur.document._schema import SCHEMA_ID, front_matter_schema
from norecur.document._template import new_postmortem

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SCHEMA_ID",
    "FieldPath",
    "FrontMatter",
    "ParsedPostmortem",
    "SchemaIssue",
    "Section",
    "dotted",
    "dump_front_matter",
    "front_matter_schema",
    "new_postmortem",
    "parse_postmortem",
    "read_postmortem",
    "render_html",
    "render_markdown",
    "render_parsed",
]
