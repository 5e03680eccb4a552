"""Eval cases from the failing traces of an incident: the eval delta a postmortem hands over.

:func:`eval_cases` turns each failed trace the fault touched into one :class:`EvalCase`: what
the user asked, what the system answered, an empty slot for what it should have answered (a
human fills it in), the trace and the failing span the case rests on, and slice labels. Three
writers export them:

- :func:`write_jsonl`: one JSON object per line, norecur's own shape;
- :func:`write_langfuse`: one Langfuse create-dataset-item body per line, for
  ``POST /api/public/dataset-items`` (the SDK's ``create_dataset_item`` takes the same fields
  in snake case);
- :func:`write_phoenix`: a CSV for Phoenix's ``upload_dataset`` (see :data:`PHOENIX_INPUT_KEYS`).

Which traces
    The traces of the report's blast radius: failed traces (:func:`~norecur.rca.failed_traces`)
    with a span in the blamed component (``service``, else agent name, else span name), or every
    failed trace when the component has none (as :mod:`norecur.rca._blast` counts them). A
    report without a root cause gives no case. At most ``limit``, in trace-id order.

Which span
    The span a case rests on always failed (:func:`~norecur.rca.span_failures`): the blamed
    component's failed span in that trace (the one the report's ``per_trace`` entry names
    first, then one the report located, then one where the failure began, i.e. with no failed
    child, then the earliest), else the span the ``per_trace`` entry names when that span
    failed, else the earliest failed span with no failed child.

Input and observed output
    Read from the span attributes (the ``attributes`` JSON): ``input.value``, else
    ``gen_ai.input.messages``, else ``llm.input_messages.<i>.message.*``, else
    ``gen_ai.prompt.<i>.*``; the output likewise from ``output.value``,
    ``gen_ai.output.messages``, ``llm.output_messages.*``, ``gen_ai.completion.*``. Messages
    become a list of ``{"role", "content"}``. The input comes from the root of the failing span's
    tree, else the first ``AGENT``, ``CHAIN`` or ``LLM`` span (in start order) that carries one,
    else it is the root's name and ``http.route``. The output comes from the root, else the first
    ``AGENT`` or ``CHAIN`` span, else the ``LLM`` span that ended last, else it is the failing
    span's status message (or error type, or HTTP status).

Slices
    ``service`` is the root's service (the one the user called). The others take the first
    value found in the span the observed output came from, then the failing span and its
    ancestors, then the rest of the trace in start order: ``model`` (response, else request
    model) and ``prompt_version`` (:data:`PROMPT_VERSION_KEYS`), both never from a judge or a
    span under one; ``session_id``; ``user_id``; ``tenant`` (the report's tenant attribute when
    it set one, else any attribute with ``tenant`` among the words of its key; span, then
    resource attributes); ``intent`` and ``topic`` found the same way. Absent ones are left
    out.

Everything is deterministic: the same spans and report give byte-identical files.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from norecur.rca import failed_traces, span_failures
from norecur.rca._signals import JUDGE_KINDS

__all__ = [
    "FILL_IN",
    "GEN_AI_COMPLETION",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROMPT",
    "HTTP_ROUTE",
    "INPUT_VALUE",
    "LLM_INPUT_MESSAGES",
    "LLM_OUTPUT_MESSAGES",
    "OUTPUT_VALUE",
    "PHOENIX_INPUT_KEYS",
    "PHOENIX_MAX_CELL",
    "PHOENIX_METADATA_KEYS",
    "PHOENIX_OUTPUT_KEYS",
    "PROMPT_VERSION_KEYS",
    "SLICE_NAMES",
    "Content",
    "EvalCase",
    "eval_cases",
    "to_langfuse_items",
    "to_phoenix",
    "write_jsonl",
    "write_langfuse",
    "write_phoenix",
]

INPUT_VALUE = "input.value"
"""OpenInference attribute: the span's input (text, or JSON text per ``input.mime_type``)."""
OUTPUT_VALUE = "output.value"
"""OpenInference attribute: the span's output."""
LLM_INPUT_MESSAGES = "llm.input_messages"
"""OpenInference prefix of the flattened prompt messages:
``llm.input_messages.<i>.message.role``, ``.message.content``,
``.message.contents.<j>.message_content.text``."""
LLM_OUTPUT_MESSAGES = "llm.output_messages"
"""OpenInference prefix of the flattened completion messages (same layout as the input)."""
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
"""GenAI attribute: the chat history sent to the model, a JSON list of ``{"role", "parts"}``
(each part ``{"type": "text", "content"}`` or a tool call or response)."""
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
"""GenAI attribute: the messages the model returned (same layout, plus ``finish_reason``)."""
GEN_AI_PROMPT = "gen_ai.prompt"
"""Deprecated GenAI (OpenLLMetry) prefix of the prompt: ``gen_ai.prompt.<i>.role``,
``gen_ai.prompt.<i>.content``."""
GEN_AI_COMPLETION = "gen_ai.completion"
"""Deprecated GenAI (OpenLLMetry) prefix of the completion (same layout)."""
HTTP_ROUTE = "http.route"
"""HTTP attribute: the matched route template of a server span (``/v1/users/{id}``)."""
PROMPT_VERSION_KEYS = (
    "llm.prompt_template.version",
    "gen_ai.prompt.version",
    "prompt.version",
    "langfuse.prompt.version",
)
"""Attributes holding the version of the prompt a span rendered, in order of precedence."""
SLICE_NAMES = (
    "service",
    "model",
    "prompt_version",
    "session_id",
    "user_id",
    "tenant",
    "intent",
    "topic",
)
"""The slice labels a case can carry (module docstring)."""
FILL_IN = (
    "Fill in expected_output with the answer the system should have given to input "
    "(observed_output is what it gave; evidence is why the fault report blames the trace)."
)
"""The note written beside the empty ``expected_output``."""
PHOENIX_INPUT_KEYS = ("input",)
"""``input_keys`` for Phoenix's ``upload_dataset(csv_file_path=..., ...)``."""
PHOENIX_OUTPUT_KEYS = ("expected_output",)
"""``output_keys``: Phoenix calls the reference answer the example's output; the column is empty
until a human fills it in."""
PHOENIX_METADATA_KEYS = (
    "case_id",
    "trace_id",
    "span_id",
    "observed_output",
    "evidence",
    *SLICE_NAMES,
)
"""``metadata_keys``: the failing answer, where it came from, and the slices (one column each,
empty when the case has no such slice)."""
PHOENIX_MAX_CELL = 100_000
"""Longest CSV cell written, in characters: Phoenix parses uploads with Python's ``csv``
module, which refuses a field over 131,072 characters; a longer text is cut and says so."""
_MARKER_ROOM = 64
"""Characters kept free at the end of a cut cell for the note saying how much was cut."""

Content = str | list[dict[str, str]]
"""A text, or chat messages as ``{"role", "content"}`` dicts."""

_PROMPT_KINDS = ("AGENT", "CHAIN", "LLM")
_ANSWER_KINDS = ("AGENT", "CHAIN")
_SPLIT = re.compile(r"[._\-]")
_LABEL_WORDS = frozenset({"tenant", "intent", "topic"})
_INDEXED = re.compile(r"(\d+)\.(.+)")
_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "service",
    "agent_name",
    "start_ns",
    "end_ns",
    "status_message",
    "error_type",
    "http_status",
    "span_kind_ai",
    "request_model",
    "response_model",
    "session_id",
    "user_id",
    "attributes",
    "resource",
)
_LINE_BREAKS = (
    (b"\xe2\x80\xa8", b"\\u2028"),
    (b"\xe2\x80\xa9", b"\\u2029"),
    (b"\xc2\x85", b"\\u0085"),
)
"""Characters JSON leaves raw that ``str.splitlines`` (and JavaScript before ES2019) read as a
line break; escaped so one case stays one line."""


@dataclass(frozen=True)
class EvalCase:
    """One failing trace as an eval case (module docstring)."""

    id: str
    """Stable id: a digest of the trace and span id."""
    trace_id: str
    span_id: str
    """The failing span the case rests on (it failed per :func:`~norecur.rca.span_failures`)."""
    input: Content
    """What the user asked."""
    observed_output: Content | None
    """What the system answered (or the error it ended with)."""
    slices: dict[str, str] = field(default_factory=dict)
    """Slice labels (:data:`SLICE_NAMES`), only those present."""
    evidence: str | None = None
    """The fault report's reason for blaming this trace, when ``per_trace`` lists it."""
    input_span_id: str | None = None
    """The span the input was read from; None when it is the root's name and route."""
    output_span_id: str | None = None
    """The span the observed output was read from (the failing span for a status message)."""
    expected_output: Content | None = None
    """What the system should have answered: None until a human fills it in."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON Lines record (:func:`write_jsonl`), with the :data:`FILL_IN` note while
        ``expected_output`` is empty."""
        record: dict[str, Any] = {
            "id": self.id,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "input": self.input,
            "observed_output": self.observed_output,
            "expected_output": self.expected_output,
            "slices": dict(self.slices),
            "evidence": self.evidence,
            "input_span_id": self.input_span_id,
            "output_span_id": self.output_span_id,
        }
        if self.expected_output is None:
            record["_fill_in"] = FILL_IN
        return record


def eval_cases(
    spans: pa.Table,
    report: Mapping[str, Any] | Any,
    *,
    logs: pa.Table | None = None,
    limit: int = 200,
) -> list[EvalCase]:
    """One case per failed trace the fault touched, at most ``limit``, in trace-id order.

    ``spans`` is the incident's span table (:data:`~norecur.telemetry.SPAN_SCHEMA`), ``report``
    the fault report document diagnosed from it (a :class:`~norecur.rca.FaultReport` is read
    through its ``document``), ``logs`` the log table the diagnosis joined, if any.
    """
    document: Mapping[str, Any] = getattr(report, "document", report) or {}
    root_cause = document.get("root_cause")
    if limit <= 0 or spans.num_rows == 0 or not root_cause:
        return []
    failed = failed_traces(spans, logs)
    if not failed:
        return []
    blast = document.get("blast_radius") or {}
    component = blast.get("component") or root_cause.get("component")
    components = pc.coalesce(spans["service"], spans["agent_name"], spans["name"])
    chosen = sorted(_touched(spans, components, failed, component))[:limit]
    mask = pc.is_in(spans["trace_id"], value_set=pa.array(chosen, pa.string()))
    subset = spans.filter(mask).select(list(_COLUMNS))
    subset = subset.append_column("failed", span_failures(spans, logs)["failed"].filter(mask))
    subset = subset.append_column("component", components.filter(mask))
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in subset.to_pylist():
        traces[row["trace_id"]].append(row)
    listed = {
        entry["trace_id"]: entry
        for entry in (document.get("per_trace") or {}).get("listed", [])
        if isinstance(entry, Mapping) and "trace_id" in entry
    }
    located = frozenset(root_cause.get("spans") or ())
    tenants = blast.get("tenants") or {}
    tenant_key = tenants.get("attribute") if isinstance(tenants, Mapping) else None
    return [
        _case(traces[trace], component, located, listed.get(trace), tenant_key) for trace in chosen
    ]


def _touched(
    spans: pa.Table, components: pa.ChunkedArray, failed: set[str], component: str | None
) -> set[str]:
    """The failed traces with a span in ``component``; all of them when there is none."""
    if component is not None:
        in_failed = pc.is_in(spans["trace_id"], value_set=pa.array(sorted(failed), pa.string()))
        mask = pc.and_(in_failed, pc.fill_null(pc.equal(components, component), False))
        touched = set(pc.unique(spans["trace_id"].filter(mask)).to_pylist())
        if touched:
            return touched
    return set(failed)


def _case(
    rows: list[dict[str, Any]],
    component: str | None,
    located: frozenset[str],
    listed: Mapping[str, Any] | None,
    tenant_key: str | None,
) -> EvalCase:
    by_id = {row["span_id"]: row for row in rows}
    for row in rows:
        row["attrs"] = _json_object(row["attributes"])
    span = _failing_span(rows, component, located, listed)
    path = _ancestry(span, by_id)
    root = path[-1]
    by_start = sorted(rows, key=lambda row: (row["start_ns"], row["span_id"]))
    app = [row for row in by_start if row is not root and not _judged(row, by_id)]
    prompt_order = [root] + [row for row in app if row["span_kind_ai"] in _PROMPT_KINDS]
    answer_order = (
        [root]
        + [row for row in app if row["span_kind_ai"] in _ANSWER_KINDS]
        + sorted(
            (row for row in app if row["span_kind_ai"] == "LLM"),
            key=lambda row: (-row["end_ns"], row["span_id"]),
        )
    )
    asked, input_span = _first(prompt_order, _input_of)
    if asked is None:
        asked, input_span = _request_line(root), None
    answered, output_span = _first(answer_order, _output_of)
    if answered is None:
        answered, output_span = _failure_text(span), span["span_id"]
    answering = [by_id[output_span]] if output_span and output_span != span["span_id"] else []
    seen = {id(row) for row in answering + path}
    nearest = answering + path + [row for row in by_start if id(row) not in seen]
    return EvalCase(
        id=_digest(f"{span['trace_id']}/{span['span_id']}")[:16],
        trace_id=span["trace_id"],
        span_id=span["span_id"],
        input=asked,
        observed_output=answered,
        slices=_slices(root, nearest, tenant_key, by_id),
        evidence=_evidence(listed),
        input_span_id=input_span,
        output_span_id=output_span,
    )


def _failing_span(
    rows: list[dict[str, Any]],
    component: str | None,
    located: frozenset[str],
    listed: Mapping[str, Any] | None,
) -> dict[str, Any]:
    failing = [row for row in rows if row["failed"]]
    parents = {row["parent_span_id"] for row in failing}
    named = listed.get("span_id") if listed else None
    own = [row for row in failing if component is not None and row["component"] == component]
    if own:
        return min(
            own,
            key=lambda row: (
                row["span_id"] != named,
                row["span_id"] not in located,
                row["span_id"] in parents,
                row["start_ns"],
                row["span_id"],
            ),
        )
    for row in failing:
        if row["span_id"] == named:
            return row
    return min(
        failing, key=lambda row: (row["span_id"] in parents, row["start_ns"], row["span_id"])
    )


def _judged(row: dict[str, Any], by_id: Mapping[str, dict[str, Any]]) -> bool:
    """Whether ``row`` is a judge (``GUARDRAIL``, ``EVALUATOR``) or runs under one: its
    prompts, answers and models are the judge's, not the application's."""
    if "judged" not in row:
        row["judged"] = any(item["span_kind_ai"] in JUDGE_KINDS for item in _ancestry(row, by_id))
    return bool(row["judged"])


def _ancestry(span: dict[str, Any], by_id: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``span``, its parent, ... up to the root of its tree (a parent cycle stops the walk)."""
    path = [span]
    seen = {span["span_id"]}
    while (parent := by_id.get(path[-1]["parent_span_id"] or "")) and parent["span_id"] not in seen:
        path.append(parent)
        seen.add(parent["span_id"])
    return path


def _first(
    rows: Iterable[dict[str, Any]], read: Callable[[Mapping[str, Any]], Content | None]
) -> tuple[Content | None, str | None]:
    """The first content ``read`` finds in ``rows``, and the id of the span it was in."""
    for row in rows:
        content = read(row["attrs"])
        if content is not None:
            return content, row["span_id"]
    return None, None


def _input_of(attrs: Mapping[str, Any]) -> Content | None:
    return _content(attrs, INPUT_VALUE, GEN_AI_INPUT_MESSAGES, LLM_INPUT_MESSAGES, GEN_AI_PROMPT)


def _output_of(attrs: Mapping[str, Any]) -> Content | None:
    return _content(
        attrs, OUTPUT_VALUE, GEN_AI_OUTPUT_MESSAGES, LLM_OUTPUT_MESSAGES, GEN_AI_COMPLETION
    )


def _content(
    attrs: Mapping[str, Any], value_key: str, messages_key: str, flat_prefix: str, old_prefix: str
) -> Content | None:
    value = attrs.get(value_key)
    if value is not None and value != "":
        return value if isinstance(value, str) else _dumps_text(value)
    messages = _messages(attrs.get(messages_key))
    if messages:
        return messages
    for prefix in (flat_prefix, old_prefix):
        messages = _flat_messages(attrs, prefix)
        if messages:
            return messages
    return None


def _messages(value: Any) -> Content | None:
    """GenAI ``{"role", "parts"}`` messages (JSON text or a decoded list) as role and content;
    a text that is not a JSON list is kept as it is."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if not isinstance(value, list):
        return _dumps_text(value)
    messages = []
    for item in value:
        if not isinstance(item, Mapping):
            messages.append({"role": "", "content": _text(item)})
            continue
        parts = item.get("parts")
        if isinstance(parts, list):
            content = "\n".join(_part_text(part) for part in parts)
        else:
            content = _text(item.get("content"))
        messages.append({"role": _text(item.get("role")), "content": content})
    return messages or None


def _part_text(part: Any) -> str:
    if isinstance(part, Mapping) and part.get("type") == "text":
        return _text(part.get("content"))
    return _dumps_text(part)


def _flat_messages(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, str]] | None:
    """Messages flattened into ``<prefix>.<i>.<field>`` keys (OpenInference, OpenLLMetry)."""
    start = prefix + "."
    fields: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, value in attrs.items():
        if key.startswith(start) and (match := _INDEXED.fullmatch(key[len(start) :])):
            fields[int(match.group(1))][match.group(2)] = value
    messages = []
    for index in sorted(fields):
        found = fields[index]
        role = found.get("message.role", found.get("role"))
        content = found.get("message.content", found.get("content"))
        if content is None:
            texts = sorted(
                (int(match.group(1)), value)
                for key, value in found.items()
                if (match := re.fullmatch(r"message\.contents\.(\d+)\.message_content\.text", key))
            )
            content = "\n".join(_text(value) for _, value in texts)
        messages.append({"role": _text(role), "content": _text(content)})
    return messages or None


def _request_line(root: Mapping[str, Any]) -> str:
    """The root's name, with its ``http.route`` when the name does not already say it."""
    name = root["name"]
    route = root["attrs"].get(HTTP_ROUTE)
    if isinstance(route, str) and route and route not in name:
        return f"{name} {route}"
    return name


def _failure_text(span: Mapping[str, Any]) -> str | None:
    if span["status_message"]:
        return str(span["status_message"])
    if span["error_type"]:
        return str(span["error_type"])
    if span["http_status"] is not None:
        return f"HTTP {span['http_status']}"
    return None


def _slices(
    root: Mapping[str, Any],
    nearest: Sequence[dict[str, Any]],
    tenant_key: str | None,
    by_id: Mapping[str, dict[str, Any]],
) -> dict[str, str]:
    """The slice labels (module docstring); the model and prompt version are never a judge's."""
    app = [row for row in nearest if not _judged(row, by_id)]
    readers: dict[str, tuple[Sequence[dict[str, Any]], Any]] = {
        "model": (app, lambda row: row["response_model"] or row["request_model"]),
        "prompt_version": (app, _prompt_version),
        "session_id": (nearest, lambda row: row["session_id"]),
        "user_id": (nearest, lambda row: row["user_id"]),
        "tenant": (nearest, lambda row: _labels(row).get("tenant")),
        "intent": (nearest, lambda row: _labels(row).get("intent")),
        "topic": (nearest, lambda row: _labels(row).get("topic")),
    }
    found: dict[str, str] = {}
    if root["service"]:
        found["service"] = root["service"]
    for name, (rows, read) in readers.items():
        value = next((value for row in rows if (value := read(row))), None)
        if name == "tenant" and tenant_key:
            value = next((value for row in rows if (value := _keyed(row, tenant_key))), value)
        if value:
            found[name] = value
    return found


def _prompt_version(row: dict[str, Any]) -> str | None:
    attrs = row["attrs"]
    return next((_text(attrs[key]) for key in PROMPT_VERSION_KEYS if key in attrs), None)


def _labels(row: dict[str, Any]) -> dict[str, str]:
    """Per word of :data:`_LABEL_WORDS`, the value of the first attribute (sorted by key) with
    that word among the words of its key (split on ``.``, ``_``, ``-``): span attributes, then
    resource attributes. Empty values do not count."""
    if "labels" not in row:
        labels: dict[str, str] = {}
        for attrs in (row["attrs"], _resource(row["resource"])):
            for key in sorted(attrs):
                value = attrs[key]
                if value is None or value == "":
                    continue
                for word in _LABEL_WORDS.intersection(_SPLIT.split(key)):
                    labels.setdefault(word, _text(value))
        row["labels"] = labels
    found: dict[str, str] = row["labels"]
    return found


def _keyed(row: dict[str, Any], key: str) -> str | None:
    """The value of attribute ``key``: span attributes, then resource attributes."""
    for attrs in (row["attrs"], _resource(row["resource"])):
        if attrs.get(key) is not None and attrs[key] != "":
            return _text(attrs[key])
    return None


@functools.lru_cache(maxsize=256)
def _resource(text: str | None) -> dict[str, Any]:
    """The resource attributes (shared by many spans, so parsed once; never modified)."""
    return _json_object(text)


def _evidence(listed: Mapping[str, Any] | None) -> str | None:
    if not listed or not listed.get("reason"):
        return None
    return str(listed["reason"])


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _dumps_text(value)


def _dumps_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# writers ----------------------------------------------------------------------------------------


def write_jsonl(cases: Sequence[EvalCase], path: str | Path) -> None:
    """Write one :meth:`EvalCase.to_dict` record per line (keys sorted, UTF-8, ``\\n`` ends)."""
    Path(path).write_bytes(_jsonl(case.to_dict() for case in cases))


def to_langfuse_items(cases: Sequence[EvalCase], dataset_name: str) -> list[dict[str, Any]]:
    """Langfuse create-dataset-item bodies: ``datasetName``, ``id``, ``input``,
    ``expectedOutput`` (null, for a human), ``metadata`` (the observed output, slices,
    evidence, the case id and the :data:`FILL_IN` note), ``sourceTraceId`` and
    ``sourceObservationId`` (the failing span).

    ``id`` is a digest of the dataset name and the case id: Langfuse upserts items on it (so a
    re-export updates rather than duplicates) and refuses one id in two datasets. NUL characters
    become U+FFFD, since Langfuse stores items in PostgreSQL JSON, which cannot hold them.
    """
    items = []
    for case in cases:
        metadata = {
            "case_id": case.id,
            "observed_output": case.observed_output,
            "slices": dict(case.slices),
            "evidence": case.evidence,
            "input_span_id": case.input_span_id,
            "output_span_id": case.output_span_id,
            "source": "norecur",
        }
        if case.expected_output is None:
            metadata["fill_in"] = FILL_IN
        items.append(
            _without_nul(
                {
                    "datasetName": dataset_name,
                    "id": _digest(f"{dataset_name}\n{case.id}")[:32],
                    "input": case.input,
                    "expectedOutput": case.expected_output,
                    "metadata": metadata,
                    "sourceTraceId": case.trace_id,
                    "sourceObservationId": case.span_id,
                }
            )
        )
    return items


def write_langfuse(cases: Sequence[EvalCase], path: str | Path, dataset_name: str) -> None:
    """Write :func:`to_langfuse_items` as JSON Lines: post each line to
    ``/api/public/dataset-items`` (after creating the dataset), or pass it to the SDK's
    ``create_dataset_item`` with the keys in snake case."""
    Path(path).write_bytes(_jsonl(to_langfuse_items(cases, dataset_name)))


def to_phoenix(cases: Sequence[EvalCase]) -> pa.Table:
    """The Phoenix dataset table: the columns of :data:`PHOENIX_INPUT_KEYS`,
    :data:`PHOENIX_OUTPUT_KEYS` and :data:`PHOENIX_METADATA_KEYS`, in that order, all text.

    Messages are written as JSON text; a cell is cut at :data:`PHOENIX_MAX_CELL` characters and
    NUL characters become U+FFFD (Phoenix stores examples in a JSON column). ``expected_output``
    is null (an empty cell) until a human fills it in.
    """
    names = (*PHOENIX_INPUT_KEYS, *PHOENIX_OUTPUT_KEYS, *PHOENIX_METADATA_KEYS)
    columns: dict[str, list[str | None]] = {name: [] for name in names}
    for case in cases:
        row: dict[str, Any] = {
            "input": case.input,
            "expected_output": case.expected_output,
            "case_id": case.id,
            "trace_id": case.trace_id,
            "span_id": case.span_id,
            "observed_output": case.observed_output,
            "evidence": case.evidence,
            **case.slices,
        }
        for name in names:
            columns[name].append(_cell(row.get(name)))
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def write_phoenix(cases: Sequence[EvalCase], path: str | Path) -> None:
    """Write :func:`to_phoenix` as CSV (header row, every text quoted, ``\\n`` line ends) for
    ``px.Client().upload_dataset(dataset_name=..., csv_file_path=path,
    input_keys=PHOENIX_INPUT_KEYS, output_keys=PHOENIX_OUTPUT_KEYS,
    metadata_keys=PHOENIX_METADATA_KEYS)``.
    """
    buffer = io.BytesIO()
    pa_csv.write_csv(to_phoenix(cases), buffer)
    Path(path).write_bytes(buffer.getvalue())


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    text = _without_nul(_text(value))
    if len(text) > PHOENIX_MAX_CELL:
        kept = PHOENIX_MAX_CELL - _MARKER_ROOM
        text = text[:kept] + f"…[{len(text) - kept} more characters cut by norecur]"
    return text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _jsonl(records: Iterable[Mapping[str, Any]]) -> bytes:
    lines = []
    for record in records:
        line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        for raw, escaped in _LINE_BREAKS:
            line = line.replace(raw, escaped)
        lines.append(line + b"\n")
    return b"".join(lines)
