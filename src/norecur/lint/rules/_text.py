"""Text helpers shared by rules: what counts as written, and what looks like a person's name."""

from __future__ import annotations

import re

__all__ = ["is_placeholder", "looks_like_a_name"]

_PLACEHOLDER = re.compile(
    r"^\W*(todo|tbd|tbc|n/?a|none|nothing|fixme|xxx|placeholder|to be (?:determined|written|added)"
    r"|fill (?:me|this) in|lorem ipsum.*|-+|\.+|\?+)\W*$",
    re.IGNORECASE,
)
# Words that make a label a role or a system rather than a person's name.
_ROLE_WORDS = frozenset(
    [
        "on-call",
        "oncall",
        "primary",
        "secondary",
        "commander",
        "incident",
        "engineer",
        "lead",
        "team",
        "sre",
        "bot",
        "alert",
        "alerting",
        "system",
        "service",
        "pipeline",
        "manager",
        "owner",
        "responder",
        "scribe",
        "platform",
        "support",
        "desk",
        "rotation",
        "deploy",
        "registry",
        "gateway",
        "monitor",
        "monitoring",
        "job",
    ]
)


def is_placeholder(text: str | None) -> bool:
    """True for empty text or text that only holds a placeholder (todo, tbd, n/a, "-", ...)."""
    if text is None:
        return True
    stripped = text.strip()
    return not stripped or bool(_PLACEHOLDER.match(stripped))


def looks_like_a_name(label: str) -> bool:
    """True for "Priya Iyer", False for "on-call primary", "quality alerting", "drill lead".

    A personal name here is one to four capitalised words, none of them a role or system word.
    """
    words = label.split()
    if not 1 <= len(words) <= 4:
        return False
    return all(w[:1].isupper() and w.lower().strip(".,") not in _ROLE_WORDS for w in words)
