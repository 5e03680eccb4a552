"""``new-values``: what changed since the baseline, where, and whether the failures followed it."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca._signals import failed_traces
from norecur.rca.analyzers.latency import WINDOW

__all__ = ["COLUMN_KEYS", "RESOURCE", "NewValues"]

COLUMN_KEYS = {
    "request_model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "provider": "gen_ai.provider.name",
    "tool_name": "gen_ai.tool.name",
    "agent_name": "gen_ai.agent.name",
}
"""Span-table columns read as attributes, under the attribute name they were lifted from."""
OUTCOME = re.compile(
    r"error|exception|status|(^|\.)evaluation|\.score(\.|$)|finish_reason|"
    r"(^|\.)(input|output)\.(value|mime_type)|(input|output)_messages|\.usage\.|token_count|"
    r"(^|[._])(input|output|prompt|completion)_tokens|latency|duration|returned_rows|"
    r"response\.id|[._]id$|retrieval\.documents|document\.|\.content$|\.text$|query|"
    r"llm\.prompts|prompt_template\.(template|variables)|gen_ai\.(prompt|completion)\.\d|"
    r"(^|\.)messages?(\.|$)",
    re.IGNORECASE,
)
"""Keys that describe what happened (an error, a verdict, a count, an id, the documents,
messages, queries and texts that flowed), not what the component was configured or built with:
a new value of these is a symptom or content, never counted."""
RESOURCE = "resource:"
"""Prefix of a resource attribute's key in evidence (``resource:service.version=2.4.1``)."""
_EXAMPLES = 3


class NewValues(Analyzer):
    """Blames the component where a value appeared that the baseline never had, when the failing
    traces follow it: a deploy, a new model snapshot, a prompt version, a data snapshot, a route.

    :meth:`fit` reads the baseline (a fault-free window of the same system) and learns, per
    component (service, else agent, else span name) and attribute, the set of values seen:
    span attributes, the GenAI columns (request and response model, provider, tool, agent) and
    resource attributes (``service.version``, pod...). An attribute counts only when it is
    categorical in the baseline: at most ``max_values`` distinct values for the component (so
    ids, timestamps and free text are never elements), and when it describes configuration,
    not an outcome (:data:`OUTCOME`: errors, statuses, verdicts, scores, counts and ids are
    symptoms). :meth:`analyze` then looks, in the
    incident, for *new values*: a categorical attribute of a component taking a value the
    baseline never showed there. Each new value is credited, in each trace, to the component
    that *introduced* it: for a key that names a response (``...response...``), the innermost
    span carrying it (the responder produced it); for any other key, the outermost (the caller
    decided it and passed it down). Its spectrum over the incident's traces (failing ones
    defined by :func:`~norecur.rca.failed_traces`) gives its Ochiai suspiciousness::

        ochiai = e_f / sqrt(n_f * (e_f + e_p))

    with ``e_f`` and ``e_p`` the failing and passing traces in which it was credited to the
    component and ``n_f`` all failing traces. One evidence item ``new_value`` per new value
    with ``ochiai >= min_ochiai`` (value: its Ochiai; reason: ``key=value``, then the counts;
    resource attributes are written ``resource:key``), the best ``max_evidence`` per component,
    most suspect first. A component scores its best new value (weight ``w_new_value``); the
    others are listed with weight 0, since summing them would favour a component that changed
    many things at once over one that changed the thing that matters.
    Candidates are window-level (trace id ``*``); without a fitted baseline, without a failing
    trace, or when nothing is new, there are none.
    """

    name = "new-values"

    def __init__(
        self,
        *,
        max_values: int = 20,
        min_ochiai: float = 0.3,
        max_evidence: int = 3,
        max_fit_spans: int = 5_000,
        w_new_value: float = 1.0,
    ) -> None:
        self.max_values = max_values
        self.min_ochiai = min_ochiai
        self.max_evidence = max_evidence
        self.max_fit_spans = max_fit_spans
        self.w_new_value = w_new_value

    def _validate_params(self) -> None:
        super()._validate_params()
        for name in ("max_values", "max_evidence", "max_fit_spans"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{self.name}: {name} must be an integer >= 1, not {value!r}")
        for name in ("min_ochiai", "w_new_value"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{self.name}: {name} must be a number >= 0, not {value!r}")

    def _fit(self, spans: pa.Table | None, context: Context) -> None:
        """Learn the categorical attributes of each component and their values; sets
        ``known_`` (component -> key -> set of values)."""
        if spans is None:
            return
        seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for component, attributes, columns in _sample(spans, self.max_fit_spans):
            for key, value in _attribute_items(attributes, columns):
                seen[component][key].add(value)
        for component, resource in _resources(spans):
            for key, value in _flat(orjson.loads(resource)):
                seen[component][RESOURCE + key].add(value)
        self.known_ = {
            component: {
                key: values for key, values in keys.items() if len(values) <= self.max_values
            }
            for component, keys in sorted(seen.items())
        }

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        known: dict[str, dict[str, set[str]]] | None = getattr(self, "known_", None)
        if not known or spans.num_rows == 0:
            return []
        failing = failed_traces(spans, context.logs)
        if not failing:
            return []
        occurrences = _occurrences(spans, known)
        if occurrences.num_rows == 0:
            return []
        return self._score(occurrences, failing, len(failing))

    def _score(self, occurrences: pa.Table, failing: set[str], n_failing: int) -> list[Candidate]:
        connection = duckdb.connect()
        try:
            connection.execute("SET threads TO 1")
            connection.register("occ", occurrences)
            connection.register(
                "failing", pa.table({"trace_id": pa.array(sorted(failing), pa.string())})
            )
            rows = connection.sql(_CREDIT).to_arrow_table().to_pylist()
        finally:
            connection.close()
        by_component: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
        for row in rows:
            ochiai = row["e_f"] / math.sqrt(n_failing * (row["e_f"] + row["e_p"]))
            if ochiai >= self.min_ochiai:
                by_component[row["comp"]].append((ochiai, row))
        candidates = []
        for component, found in sorted(by_component.items()):
            found.sort(key=lambda item: (-item[0], item[1]["key"], item[1]["value"]))
            evidence = tuple(
                Evidence(
                    kind="new_value",
                    value=round(ochiai, 9),
                    weight=self.w_new_value if index == 0 else 0.0,
                    reason=(
                        f"{row['key']}={row['value']}: new since the baseline; in {row['e_f']} "
                        f"of {n_failing} failing traces and {row['e_p']} passing ones"
                    ),
                    span_ids=tuple(row["examples"][:_EXAMPLES]),
                )
                for index, (ochiai, row) in enumerate(found[: self.max_evidence])
            )
            candidates.append(
                Candidate.from_evidence(
                    trace_id=WINDOW,
                    component=component,
                    span_id=evidence[0].span_ids[0] if evidence[0].span_ids else "",
                    step=None,
                    evidence=evidence,
                )
            )
        return candidates


_CREDIT = """
WITH ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY trace_id, key, value
        ORDER BY CASE WHEN inner_first THEN -start_ns ELSE start_ns END, comp, span_id
    ) AS pick
    FROM occ
), credited AS (SELECT * FROM ranked WHERE pick = 1)
SELECT comp, key, value,
       count(*) FILTER (WHERE f.trace_id IS NOT NULL) AS e_f,
       count(*) FILTER (WHERE f.trace_id IS NULL) AS e_p,
       list(span_id ORDER BY (f.trace_id IS NULL), span_id) AS examples
FROM credited LEFT JOIN failing AS f USING (trace_id)
GROUP BY comp, key, value
HAVING count(*) FILTER (WHERE f.trace_id IS NOT NULL) > 0
ORDER BY comp, key, value
"""
"""Credit each new (key, value) in each trace to one span (innermost for response keys, else
outermost), then count the failing and passing traces per component, key and value."""


def _component_column(spans: pa.Table) -> pa.ChunkedArray:
    return pc.coalesce(spans["service"], spans["agent_name"], spans["name"])


def _sample(spans: pa.Table, per_component: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The first ``per_component`` spans of each component (in table order): component,
    attributes JSON and the :data:`COLUMN_KEYS` columns."""
    components = _component_column(spans)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for component in sorted(value for value in pc.unique(components).to_pylist() if value):
        mask = pc.fill_null(pc.equal(components, component), False)
        taken = spans.take(pc.indices_nonzero(mask)[:per_component])
        attributes = taken["attributes"].to_pylist()
        columns = {column: taken[column].to_pylist() for column in COLUMN_KEYS}
        rows.extend(
            (component, attributes[index], {c: v[index] for c, v in columns.items()})
            for index in range(taken.num_rows)
        )
    return rows


def _attribute_items(attributes: str, columns: dict[str, Any]) -> list[tuple[str, str]]:
    items = _flat(orjson.loads(attributes or "{}"))
    items += [
        (COLUMN_KEYS[column], str(value)) for column, value in columns.items() if value is not None
    ]
    return items


def _flat(mapping: dict[str, Any]) -> list[tuple[str, str]]:
    """Scalar attributes as (key, text) pairs, leaving out :data:`OUTCOME` keys; lists and
    objects are not categories."""
    return [
        (key, value if isinstance(value, str) else orjson.dumps(value).decode())
        for key, value in mapping.items()
        if isinstance(value, str | int | float | bool) and not OUTCOME.search(key)
    ]


def _resources(spans: pa.Table) -> list[tuple[str, str]]:
    pairs = pa.table({"comp": _component_column(spans), "resource": spans["resource"]})
    unique = pairs.group_by(["comp", "resource"]).aggregate([])
    return sorted(zip(unique["comp"].to_pylist(), unique["resource"].to_pylist(), strict=True))


def _occurrences(spans: pa.Table, known: dict[str, dict[str, set[str]]]) -> pa.Table:
    """Every span carrying a new value: trace, span, component, start, key, value, and whether
    the key is credited to the innermost span."""
    components = _component_column(spans)
    out: dict[str, list[Any]] = {
        name: [] for name in ("trace_id", "span_id", "comp", "start_ns", "key", "value")
    }
    trace_ids, span_ids, starts = spans["trace_id"], spans["span_id"], spans["start_ns"]
    for component, keys in known.items():
        mask = pc.fill_null(pc.equal(components, component), False)
        if not pc.any(mask).as_py():
            continue
        rows = spans.filter(mask)
        own_traces = trace_ids.filter(mask).to_pylist()
        own_spans = span_ids.filter(mask).to_pylist()
        own_starts = starts.filter(mask).to_pylist()

        novelties: list[tuple[int, str, str]] = []  # (row of the component, key, new value)

        span_keys = {key: values for key, values in keys.items() if not key.startswith(RESOURCE)}
        for column, key in COLUMN_KEYS.items():
            if key in span_keys:
                values = rows[column].to_pylist()
                for index, value in enumerate(values):
                    if value is not None and str(value) not in span_keys[key]:
                        novelties.append((index, key, str(value)))
        lifted = set(COLUMN_KEYS.values())
        texts = rows["attributes"]
        for key, values in span_keys.items():
            if key in lifted:
                continue
            needle = orjson.dumps(key).decode() + ":"
            hits = pc.fill_null(pc.match_substring(texts, needle), False)
            for index in pc.indices_nonzero(hits).to_pylist():
                value = orjson.loads(texts[index].as_py()).get(key)
                if value is None or isinstance(value, list | dict):
                    continue
                text = value if isinstance(value, str) else orjson.dumps(value).decode()
                if text not in values:
                    novelties.append((index, key, text))
        resource_keys = {
            key[len(RESOURCE) :]: values for key, values in keys.items() if key.startswith(RESOURCE)
        }
        if resource_keys:
            resources = rows["resource"]
            novel: dict[str, list[tuple[str, str]]] = {}
            for resource in pc.unique(resources).to_pylist():
                novel[resource] = [
                    (RESOURCE + key, value)
                    for key, value in _flat(orjson.loads(resource))
                    if key in resource_keys and value not in resource_keys[key]
                ]
            if any(novel.values()):
                for index, resource in enumerate(resources.to_pylist()):
                    for key, value in novel[resource]:
                        novelties.append((index, key, value))
        for index, key, value in novelties:
            out["trace_id"].append(own_traces[index])
            out["span_id"].append(own_spans[index])
            out["comp"].append(component)
            out["start_ns"].append(own_starts[index])
            out["key"].append(key)
            out["value"].append(value)
    table = pa.table(
        {
            "trace_id": pa.array(out["trace_id"], pa.string()),
            "span_id": pa.array(out["span_id"], pa.string()),
            "comp": pa.array(out["comp"], pa.string()),
            "start_ns": pa.array(out["start_ns"], pa.int64()),
            "key": pa.array(out["key"], pa.string()),
            "value": pa.array(out["value"], pa.string()),
        }
    )
    inner = pc.match_substring(table["key"], "response")
    return table.append_column("inner_first", inner)
