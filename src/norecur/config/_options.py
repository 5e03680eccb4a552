"""Every configuration option, declared once: name, type, default, allowed values, meaning.

The declaration validates user config, suggests the right key for a typo and writes
``docs/configuration.md``; nothing else lists the options.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import holidays

from norecur.model import CauseClass

__all__ = ["OPTIONS", "Option"]


@dataclass(frozen=True, slots=True)
class Option:
    """One option of ``norecur.toml`` / ``[tool.norecur]``."""

    name: str
    type: str
    """The type as a person writes it in TOML terms (shown in errors and docs)."""
    default: Any
    meaning: str
    check: Callable[[Any], Any]
    """Returns the value converted to its Python form, or raises ``ValueError`` saying why."""
    allowed: str | None = None
    example: str | None = None


_CODE_OR_PREFIX = re.compile(r"^(ALL|PM\d{0,3})$")


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _rule_selectors(value: Any) -> tuple[str, ...]:
    selectors = _string_list(value)
    for item in selectors:
        if not _CODE_OR_PREFIX.match(item):
            raise ValueError(f"{item!r} is not a rule code or prefix (like PM501, PM5 or ALL)")
    return selectors


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ValueError("expected a table of glob = [codes]")
    return tuple((str(glob), _rule_selectors(codes)) for glob, codes in value.items())


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number >= 0")
    return value


def _positive_int(value: Any) -> int:
    if _non_negative_int(value) == 0:
        raise ValueError("expected a whole number > 0")
    return value


def _country(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.upper() not in holidays.list_supported_countries():
        raise ValueError(
            f"{value!r} is not a country code the holidays calendar knows (e.g. US, IN, DE)"
        )
    return value.upper()


def _optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _severity_scale(value: Any) -> tuple[str, ...]:
    scale = _string_list(value)
    if not scale:
        raise ValueError("expected at least one severity")
    if len(set(scale)) != len(scale):
        raise ValueError("severities must be distinct")
    return scale


def _subcategories(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ValueError("expected a table of cause class = [sub-categories]")
    classes = {c.value for c in CauseClass}
    out: dict[str, tuple[str, ...]] = {}
    for key, items in value.items():
        if key not in classes:
            raise ValueError(
                f"{key!r} is not a cause class; sub-categories extend one of "
                f"{', '.join(sorted(classes))}, never add a new class"
            )
        out[key] = _string_list(items)
    return out


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("expected a number from 0 to 1, such as 0.8")
    return float(value)


_WONT_DO_MODES = ("excluded", "closed", "open")


def _wont_do_mode(value: Any) -> str:
    if value not in _WONT_DO_MODES:
        raise ValueError(f"expected one of {', '.join(_WONT_DO_MODES)}")
    return str(value)


def _optional_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected a date such as 2026-05-19")


OPTIONS: tuple[Option, ...] = (
    Option(
        "select",
        "list of codes",
        ("ALL",),
        "Rules to run: codes (PM501), prefixes (PM5) or ALL.",
        _rule_selectors,
        example='select = ["ALL"]',
    ),
    Option(
        "ignore",
        "list of codes",
        (),
        "Rules never to run, by code or prefix; applied after `select`.",
        _rule_selectors,
        example='ignore = ["PM508"]',
    ),
    Option(
        "per_file_ignores",
        "table of glob = list of codes",
        (),
        "Rules to skip for files whose path (relative to the config file) matches a glob.",
        _per_file_ignores,
        example='per_file_ignores = { "legacy/**" = ["PM7"] }',
    ),
    Option(
        "slo_business_days",
        "integer >= 0",
        5,
        "Business days from incident resolution to postmortem publication (completion SLO).",
        _non_negative_int,
        example="slo_business_days = 3",
    ),
    Option(
        "holiday_country",
        "ISO 3166 country code",
        None,
        "Public holidays of this country are not business days (none when unset).",
        _country,
        allowed="any code the `holidays` package supports",
        example='holiday_country = "IN"',
    ),
    Option(
        "holiday_subdivision",
        "string",
        None,
        "A state or province of `holiday_country` whose holidays also count.",
        _optional_str,
        example='holiday_subdivision = "KA"',
    ),
    Option(
        "closure_days",
        "integer > 0",
        30,
        "Follow-up closure horizon: a follow-up counts as closed in time when it closed at most "
        "this many days after its postmortem was published (day 30 counts, day 31 does not).",
        _positive_int,
        example="closure_days = 30",
    ),
    Option(
        "closure_threshold",
        "number from 0 to 1",
        0.8,
        "Teams whose follow-up closure rate is below this share are flagged.",
        _fraction,
        example="closure_threshold = 0.8",
    ),
    Option(
        "closure_wont_do",
        "string",
        "excluded",
        "How a wont-do follow-up with a reason counts in the closure rate: `excluded` leaves the "
        "rate's denominator, `closed` counts as closed (on its closed date), `open` counts as not "
        "closed. A wont-do without a reason always counts as not closed.",
        _wont_do_mode,
        allowed="excluded, closed, open",
        example='closure_wont_do = "excluded"',
    ),
    Option(
        "severity_scale",
        "list of strings",
        ("P0", "P1", "P2", "P3", "P4"),
        "Allowed severities, most severe first.",
        _severity_scale,
        example='severity_scale = ["SEV1", "SEV2", "SEV3"]',
    ),
    Option(
        "subcategories",
        "table of cause class = list of strings",
        {},
        "Sub-categories a team declares under the eight cause classes.",
        _subcategories,
        allowed="keys: prompt, model, retrieval, data, tooling, gateway, upstream, apparatus",
        example='subcategories = { prompt = ["template-regression", "few-shot-drift"] }',
    ),
    Option(
        "vague_phrases",
        "list of strings",
        (),
        "Extra phrases that make a follow-up action vague (added to the built-in list).",
        _string_list,
        example='vague_phrases = ["keep an eye on"]',
    ),
    Option(
        "blame_phrases",
        "list of strings",
        (),
        "Extra blame wording to flag (added to the built-in list).",
        _string_list,
        example='blame_phrases = ["dropped the ball"]',
    ),
    Option(
        "max_file_bytes",
        "integer > 0",
        1_048_576,
        "Files larger than this are refused as postmortems (an error, not a finding).",
        _positive_int,
        example="max_file_bytes = 2097152",
    ),
    Option(
        "today",
        "date",
        None,
        "The date lint treats as today for SLO checks (unset: the real date). Pin it for reproducible CI.",
        _optional_date,
        example='today = "2026-06-01"',
    ),
)
