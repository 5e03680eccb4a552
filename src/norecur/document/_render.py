"""Writing a postmortem back to Markdown with front matter.

Normalisation (what a parse/render cycle changes in a hand-written file, and nothing else):
front-matter keys are written in the model's order, unset values and empty lists are left out,
YAML comments are not kept, multi-line strings use literal block style; the ``# Title`` line is
written from ``title``; the ten parts are written in canonical order, each once, with trailing
white space and outer blank lines removed from their prose; sections that are not parts follow
the parts in file order. For any :class:`~norecur.model.Postmortem` ``x``,
``parse_postmortem(render_markdown(x)).postmortem == x``.
"""

from __future__ import annotations

from typing import Any

import yaml

from norecur.document._parse import ParsedPostmortem
from norecur.model import PARTS, Postmortem

__all__ = ["dump_front_matter", "render_markdown", "render_parsed"]

try:
    _BaseDumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _BaseDumper = yaml.SafeDumper


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Safe dumper writing multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_front_matter(data: dict[str, Any]) -> str:
    """YAML for the front matter (no delimiters), keys in the given order."""
    if not data:
        return ""
    text = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    # PyYAML ends a document whose last scalar keeps trailing blank lines with a "..." marker;
    # inside front matter that line would close the front matter early.
    return text.removesuffix("...\n")


def render_markdown(
    postmortem: Postmortem,
    *,
    preamble: str = "",
    extra_sections: tuple[tuple[str, int, str], ...] = (),
) -> str:
    """The postmortem as a Markdown file. ``extra_sections`` are ``(heading, level, body)``."""
    out = ["---\n", dump_front_matter(postmortem.front_matter()), "---\n"]
    if postmortem.title:
        out.append(f"\n# {_one_line(postmortem.title)}\n")
    if preamble:
        out.append(f"\n{preamble}\n")
    for part in PARTS:
        prose = getattr(postmortem.narrative, part.key)
        out.append(f"\n## {part.heading}\n")
        if prose:
            out.append(f"\n{prose}\n")
    for heading, level, body in extra_sections:
        out.append(f"\n{'#' * level} {heading}\n")
        body = body.strip("\n")
        if body:
            out.append(f"\n{body}\n")
    return "".join(out)


def render_parsed(parsed: ParsedPostmortem) -> str:
    """Normalise a parsed file: like :func:`render_markdown`, keeping non-part sections.

    Refuses a file with contract issues: the offending fields are not in the model, and writing
    the file without them would lose what the author wrote.
    """
    parsed.require_no_issues("normalise")
    seen: set[str] = set()
    extras: list[tuple[str, int, str]] = []
    for section in parsed.sections:
        if section.part is not None and section.part.key not in seen:
            seen.add(section.part.key)
            continue
        extras.append((section.heading, section.level, section.body))
    return render_markdown(
        parsed.postmortem, preamble=parsed.preamble, extra_sections=tuple(extras)
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
