"""The published JSON Schema of the front matter, generated from the model."""

from __future__ import annotations

from typing import Any

from norecur.model import Postmortem

__all__ = ["SCHEMA_ID", "front_matter_schema"]

SCHEMA_ID = "https://norecur.dev/schema/postmortem-front-matter/v1.json"


def front_matter_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) that editors use to validate front matter while typing."""
    schema = Postmortem.model_json_schema(by_alias=True, mode="validation")
    schema["properties"].pop("narrative", None)
    schema.get("$defs", {}).pop("Narrative", None)
    schema["properties"]["severity"]["examples"] = ["P0", "P1", "P2", "P3", "P4"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **{key: value for key, value in schema.items() if key != "title"},
        "title": "norecur postmortem front matter",
        "description": (
            "Structured fields of a postmortem kept as Markdown with YAML front matter. "
            "Prose lives under one H2 heading per part."
        ),
    }
