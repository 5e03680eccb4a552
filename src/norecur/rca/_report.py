"""The fault report: one versioned JSON document, its JSON Schema, and typed access to it.

The document is plain JSON types only, written with sorted keys, so the same diagnosis gives
byte-identical bytes. ``schema_version`` changes when a field changes meaning or is removed;
adding a field does not change it (readers ignore fields they do not know).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from norecur.model import CauseClass
from norecur.rca._clues import ROLES

__all__ = ["FAULT_REPORT_SCHEMA", "SCHEMA_VERSION", "FaultReport"]

SCHEMA_VERSION = 1

_NUMBER = {"type": "number"}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_COUNT = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string"}
_IDS = {"type": "array", "items": _TEXT}
_REACH = {
    "type": "object",
    "required": ["affected", "total", "share"],
    "properties": {"affected": _COUNT, "total": _COUNT, "share": _SHARE},
}
_CLASSIFICATION = {
    "type": "object",
    "description": "The AI cause class the classification rules voted for.",
    "required": ["class", "confidence", "role", "votes"],
    "properties": {
        "class": {"enum": [cause.value for cause in CauseClass]},
        "role": {
            "enum": list(ROLES),
            "description": "What the component is, read from the spans (judge, retrieval...).",
        },
        "confidence": {**_SHARE, "description": "The winning class's share of all votes."},
        "votes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rule", "class", "weight", "reason"],
                "properties": {
                    "rule": {"type": "string", "pattern": "^C[0-9]{3}$"},
                    "class": {"enum": [cause.value for cause in CauseClass]},
                    "weight": _NUMBER,
                    "reason": _TEXT,
                },
            },
        },
    },
}
_EVIDENCE = {
    "type": "object",
    "required": ["kind", "value", "weight", "contribution", "reason", "span_ids"],
    "properties": {
        "kind": _TEXT,
        "value": _NUMBER,
        "weight": _NUMBER,
        "contribution": _NUMBER,
        "reason": _TEXT,
        "span_ids": _IDS,
    },
}
_CANDIDATE = {
    "type": "object",
    "required": ["analyzer", "trace_id", "span_id", "step", "score", "kind", "reason", "evidence"],
    "properties": {
        "analyzer": _TEXT,
        "trace_id": {**_TEXT, "description": "The trace, or * for a window-level candidate."},
        "span_id": _TEXT,
        "step": {"type": ["integer", "null"]},
        "score": _NUMBER,
        "kind": _TEXT,
        "reason": _TEXT,
        "evidence": {"type": "array", "items": _EVIDENCE},
    },
}
_FILE = {
    "type": "object",
    "required": ["path", "reader", "records", "skipped"],
    "properties": {
        "path": _TEXT,
        "reader": _TEXT,
        "records": _COUNT,
        "skipped": {"type": "array", "items": _TEXT, "description": "One line per record."},
    },
}

FAULT_REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://norecur.dev/schemas/fault-report-1.json",
    "title": "norecur fault report",
    "description": (
        "What norecur rca found in an incident window: the ranked suspects with their evidence, "
        "the cause class, how the error propagated and how far it reached."
    ),
    "type": "object",
    "required": [
        "schema",
        "schema_version",
        "inputs",
        "analyzers",
        "root_cause",
        "ranking",
        "propagation",
        "blast_radius",
        "per_trace",
    ],
    "properties": {
        "schema": {"const": "norecur.fault-report"},
        "schema_version": {"const": SCHEMA_VERSION},
        "inputs": {
            "type": "object",
            "required": [
                "files",
                "baseline_files",
                "unreadable",
                "window",
                "spans",
                "traces",
                "failed_traces",
                "log_lines",
                "metric_points",
            ],
            "properties": {
                "files": {"type": "array", "items": _FILE},
                "baseline_files": {"type": "array", "items": _FILE},
                "unreadable": {"type": "array", "items": _TEXT},
                "window": {
                    "type": ["object", "null"],
                    "properties": {
                        "start_ns": {"type": ["integer", "null"]},
                        "end_ns": {"type": ["integer", "null"]},
                    },
                },
                "spans": _COUNT,
                "traces": _COUNT,
                "failed_traces": _COUNT,
                "log_lines": _COUNT,
                "metric_points": _COUNT,
            },
        },
        "analyzers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "weight", "params", "candidates"],
                "properties": {
                    "name": _TEXT,
                    "weight": _SHARE,
                    "params": {"type": "object"},
                    "candidates": _COUNT,
                },
            },
        },
        "root_cause": {
            "type": ["object", "null"],
            "description": "The top-ranked component; null when no analyzer blamed anything.",
            "required": [
                "component",
                "score",
                "blame_share",
                "classification",
                "analyzer",
                "kind",
                "reason",
                "span_ids",
                "trace_id",
                "spans",
                "spans_total",
            ],
            "properties": {
                "spans": {
                    **_IDS,
                    "description": "Every span blamed on the component (sorted, the first 1000).",
                },
                "spans_total": _COUNT,
                "component": _TEXT,
                "score": _SHARE,
                "blame_share": _SHARE,
                "classification": _CLASSIFICATION,
                "analyzer": _TEXT,
                "kind": _TEXT,
                "reason": _TEXT,
                "span_ids": _IDS,
                "trace_id": {"type": ["string", "null"]},
            },
        },
        "ranking": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "rank",
                    "component",
                    "score",
                    "blame_share",
                    "strengths",
                    "evidence_shares",
                    "classification",
                    "examples",
                ],
                "properties": {
                    "rank": {"type": "integer", "minimum": 1},
                    "component": _TEXT,
                    "score": {**_SHARE, "description": "Noisy-OR of the analyzers' strengths."},
                    "blame_share": {**_SHARE, "description": "Shapley share among components."},
                    "strengths": {"type": "object", "additionalProperties": _SHARE},
                    "evidence_shares": {
                        "type": "object",
                        "additionalProperties": _NUMBER,
                        "description": "Shapley value of each analyzer's evidence in score.",
                    },
                    "classification": {"oneOf": [{"type": "null"}, _CLASSIFICATION]},
                    "examples": {"type": "array", "items": _CANDIDATE},
                },
            },
        },
        "propagation": {
            "type": "object",
            "required": ["nodes", "edges"],
            "properties": {
                "nodes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "component", "rank"],
                        "properties": {
                            "id": _TEXT,
                            "component": _TEXT,
                            "rank": {"type": ["integer", "null"]},
                        },
                    },
                },
                "edges": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["from", "to", "kind", "traces"],
                        "properties": {
                            "from": _TEXT,
                            "to": _TEXT,
                            "kind": {"enum": ["error", "calls"]},
                            "traces": _COUNT,
                        },
                    },
                },
            },
        },
        "blast_radius": {
            "type": "object",
            "required": [
                "component",
                "traces",
                "failed_traces",
                "sessions",
                "users",
                "tenants",
                "services",
                "slices",
                "over_time",
            ],
            "properties": {
                "component": {"type": ["string", "null"]},
                "traces": _REACH,
                "failed_traces": _COUNT,
                "sessions": _REACH,
                "users": _REACH,
                "tenants": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            **_REACH,
                            "required": ["attribute", *_REACH["required"]],
                            "properties": {"attribute": _TEXT, **_REACH["properties"]},
                        },
                    ]
                },
                "services": _IDS,
                "slices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "dimension",
                            "value",
                            "affected",
                            "total",
                            "share_of_affected",
                        ],
                        "properties": {
                            "dimension": _TEXT,
                            "value": {},
                            "affected": _COUNT,
                            "total": _COUNT,
                            "share_of_affected": _SHARE,
                        },
                    },
                },
                "over_time": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["start", "width_s", "traces", "affected"],
                        "properties": {
                            "start": {"type": "string", "format": "date-time"},
                            "width_s": _COUNT,
                            "traces": _COUNT,
                            "affected": _COUNT,
                        },
                    },
                },
            },
        },
        "per_trace": {
            "type": "object",
            "required": ["traces", "listed"],
            "properties": {
                "traces": _COUNT,
                "listed": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "trace_id",
                            "failed",
                            "component",
                            "span_id",
                            "step",
                            "analyzer",
                            "kind",
                            "score",
                            "reason",
                        ],
                    },
                },
            },
        },
    },
}
"""JSON Schema (draft 2020-12) of the fault report document."""


@dataclass(frozen=True)
class FaultReport:
    """A fault report document (see :data:`FAULT_REPORT_SCHEMA`) with typed shortcuts."""

    document: dict[str, Any]

    @property
    def root_cause(self) -> str | None:
        """The top-ranked component, or None."""
        top = self.document["root_cause"]
        return top["component"] if top else None

    @property
    def cause_class(self) -> CauseClass | None:
        """The class of the top-ranked component, or None."""
        top = self.document["root_cause"]
        return CauseClass(top["classification"]["class"]) if top else None

    @property
    def ranking(self) -> list[str]:
        """Components, most suspect first."""
        return [row["component"] for row in self.document["ranking"]]

    def to_json(self) -> bytes:
        """The document as indented JSON with sorted keys and a final newline."""
        return (
            orjson.dumps(self.document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
