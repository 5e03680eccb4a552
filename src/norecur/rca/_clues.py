"""What the classifier is told about a suspect: its role in the system, the spans blamed on it,
and the evidence against it, each weighted by how much that evidence counted in the ranking.

*Roles* are read from the span table, not from names: a component whose AI spans are mostly
guardrails or evaluators is a ``judge``; mostly retrieval steps, ``retrieval``; one that serves
model calls (its server spans are called from a model-call span) is a ``model-relay`` when it
makes model calls itself, else a ``model-server``; one served from under a tool span is a
``tool-server``; one with agent, chain, model or tool spans of its own is an ``agent``; anything
else with spans is a ``service``; a component with no span at all (a slice of request records, a
change event's target) is ``unseen``.

*Weights*: the combiner's Shapley shares say how much of a component's score each analyzer's
evidence holds. An evidence kind's weight is the analyzer's share (as a fraction of the score)
times the fraction of that analyzer's candidate scores resting on candidates that show the kind;
a changed key's weight is the same, each candidate's score split over the changed values it
lists by their strength; a property of blamed spans is the share-weighted fraction of
each analyzer's blamed spans that have it. So a finding that barely moved the ranking barely
moves the class.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._classify import Clues
from norecur.rca._combine import Ranked
from norecur.rca._evidence import Candidate

__all__ = ["ROLES", "clues_for", "roles"]

ROLES = (
    "judge",
    "retrieval",
    "model-relay",
    "model-server",
    "tool-server",
    "agent",
    "service",
    "unseen",
)
"""The roles a component can have, in the order they are tested."""
BLAMED_SPANS = 100
"""Blamed spans read per analyzer and component."""
_JUDGE = frozenset({"GUARDRAIL", "EVALUATOR"})
_RETRIEVAL = frozenset({"RETRIEVER", "EMBEDDING", "RERANKER"})
_AGENTIC = frozenset({"AGENT", "CHAIN", "LLM", "TOOL"})
_MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "kind",
    "span_kind_ai",
    "operation",
    "http_status",
    "error_type",
    "status_message",
    "tool_name",
    "attributes",
    "exception_count",
)


def roles(spans: pa.Table, components: list[str]) -> dict[str, str]:
    """The role (:data:`ROLES`) of each of ``components`` in ``spans`` (module docstring)."""
    if spans.num_rows == 0 or not components:
        return dict.fromkeys(components, "unseen")
    component = pc.coalesce(spans["service"], spans["agent_name"], spans["name"])
    table = pa.table(
        {
            "trace_id": spans["trace_id"],
            "span_id": spans["span_id"],
            "parent_span_id": spans["parent_span_id"],
            "component": component,
            "kind": spans["kind"],
            "ai": spans["span_kind_ai"],
            "model_call": pc.or_kleene(
                pc.is_in(spans["span_kind_ai"], value_set=pa.array(["LLM", "EMBEDDING"])),
                pc.is_in(spans["operation"], value_set=pa.array(sorted(_MODEL_OPERATIONS))),
            ),
        }
    )
    wanted = pc.is_in(table["component"], value_set=pa.array(sorted(components), pa.string()))
    own = table.filter(pc.fill_null(wanted, False))
    parents = table.select(["trace_id", "span_id", "parent_span_id", "ai", "model_call"])
    parents = parents.rename_columns(["trace_id", "parent_span_id", "grand", "p_ai", "p_model"])
    grands = table.select(["trace_id", "span_id", "ai", "model_call"])
    grands = grands.rename_columns(["trace_id", "grand", "g_ai", "g_model"])
    servers = own.filter(pc.equal(own["kind"], "SERVER"))
    callers = servers.join(parents, keys=["trace_id", "parent_span_id"], join_type="left outer")
    callers = callers.join(grands, keys=["trace_id", "grand"], join_type="left outer")
    called_by: dict[str, Counter[str]] = defaultdict(Counter)
    for row in callers.select(["component", "p_ai", "p_model", "g_ai", "g_model"]).to_pylist():
        if row["p_model"] or row["g_model"]:
            called_by[row["component"]]["LLM"] += 1
        for ai in (row["p_ai"], row["g_ai"]):
            if ai == "TOOL":
                called_by[row["component"]]["TOOL"] += 1
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    model_clients: Counter[str] = Counter()
    for row in own.select(["component", "ai", "kind", "model_call"]).to_pylist():
        if row["ai"]:
            kinds[row["component"]][row["ai"]] += 1
        if row["model_call"] and row["kind"] == "CLIENT":
            model_clients[row["component"]] += 1
    present = set(pc.unique(own["component"]).to_pylist())
    return {
        name: _role(kinds[name], called_by[name], model_clients[name])
        if name in present
        else "unseen"
        for name in components
    }


def _role(kinds: Counter[str], called_by: Counter[str], model_clients: int) -> str:
    total = sum(kinds.values())
    if total and 2 * sum(kinds[kind] for kind in _JUDGE) >= total:
        return "judge"
    if total and 2 * sum(kinds[kind] for kind in _RETRIEVAL) >= total:
        return "retrieval"
    if called_by["LLM"]:
        return "model-relay" if model_clients else "model-server"
    if called_by["TOOL"]:
        return "tool-server"
    if any(kinds[kind] for kind in _AGENTIC):
        return "agent"
    return "service"


def clues_for(
    ranked: Ranked,
    spans: pa.Table,
    found: Mapping[str, list[Candidate]],
    role: str,
) -> Clues:
    """The :class:`~norecur.rca.Clues` of one ranked component (module docstring)."""
    fractions = {
        name: share / ranked.score
        for name, share in ranked.shares.items()
        if ranked.score > 0 and share > 0
    }
    evidence: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    wanted: dict[str, list[tuple[str, str]]] = {}
    for name, fraction in fractions.items():
        own = [
            candidate
            for candidate in found.get(name, [])
            if candidate.component == ranked.component and candidate.score > 0
        ]
        per_kind: Counter[str] = Counter()
        per_key: Counter[str] = Counter()
        for candidate in own:
            items = [item for item in candidate.evidence if item.contribution > 0]
            for kind in {item.kind for item in items}:
                per_kind[kind] += candidate.score
            # every changed value listed counts, by its own strength (not only the scored one)
            keyed = [
                (key, item.value)
                for item in candidate.evidence
                if item.value > 0 and (key := changed_key(item.kind, item.reason))
            ]
            strength = sum(value for _, value in keyed)
            for key, value in keyed:
                per_key[key] += candidate.score * value / strength
        total = sum(candidate.score for candidate in own)
        for kind, amount in per_kind.items():
            evidence[kind] += fraction * amount / total
        for key, amount in per_key.items():
            keys[key] += fraction * amount / total
        wanted[name] = [
            (candidate.trace_id, candidate.span_id)
            for candidate in own[:BLAMED_SPANS]
            if candidate.span_id
        ]
    rows = _rows(spans, [pair for pairs in wanted.values() for pair in pairs])
    blamed = {
        name: [rows[pair] for pair in pairs if pair in rows] for name, pairs in wanted.items()
    }
    return Clues(
        component=ranked.component,
        role=role,
        shares={name: round(value, 9) for name, value in sorted(fractions.items())},
        evidence=Counter({kind: round(value, 9) for kind, value in evidence.items()}),
        changed_keys=Counter({key: round(value, 9) for key, value in keys.items()}),
        blamed={name: rows_ for name, rows_ in sorted(blamed.items()) if rows_},
    )


def changed_key(kind: str, reason: str) -> str | None:
    """The attribute key a ``new_value`` or ``spectrum_*`` evidence item is about: quoted as
    ``key=value`` at the start of its reason, or implied by the spectrum dimension (model,
    prompt version, tool); None for other evidence."""
    if kind in ("new_value", "spectrum_attribute"):
        key = reason.split("=", 1)[0] if "=" in reason else ""
        return key.strip() or None
    return _spectrum_dimension_key(kind)


def _spectrum_dimension_key(kind: str) -> str | None:
    """The attribute a spectrum dimension reads, for evidence that names no key."""
    return {
        "spectrum_model": "gen_ai.response.model",
        "spectrum_prompt_version": "llm.prompt_template.version",
        "spectrum_tool": "gen_ai.tool.name",
    }.get(kind)


def _rows(spans: pa.Table, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The blamed spans' rows by (trace, span); window-level candidates (trace ``*``) match by
    span id alone."""
    if not keys or spans.num_rows == 0:
        return {}
    span_ids = pa.array(sorted({span for _, span in keys}), pa.string())
    hits = spans.select(list(_SPAN_COLUMNS)).filter(pc.is_in(spans["span_id"], value_set=span_ids))
    wanted = set(keys)
    windowed = {span for trace, span in keys if trace == "*"}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in hits.to_pylist():
        row["attribute_keys"] = tuple(orjson.loads(row.pop("attributes") or "{}"))
        pair = (row["trace_id"], row["span_id"])
        if pair in wanted and pair not in found:
            found[pair] = row
        if row["span_id"] in windowed and ("*", row["span_id"]) not in found:
            found[("*", row["span_id"])] = row
    return found
