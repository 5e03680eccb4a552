"""What changed before a number moved: change events, where they come from, and how well each
one explains a change point.

An *event* is one change to the system at one time: a deploy, a new prompt or model version, a
config, index or data update, a feature flag. Events live in a table of :data:`EVENT_SCHEMA`,
read from a file a person or a CD pipeline writes (:func:`read_events`) or derived from the
versions that spans carry (:func:`events_from_spans`). :func:`rank_events` then orders them by
how well each explains the change points of a KPI (:mod:`norecur.rca.kpi.changepoint`): an event
shortly *before* an onset is aligned with it, and an event whose slices moved across its own time
(a deploy-anchored before/after window over request-level records) has an effect.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from norecur.errors import TelemetryError
from norecur.rca.kpi.changepoint import ChangePoint

__all__ = [
    "ATTRIBUTE_VERSION_KEYS",
    "COLUMN_VERSION_KEYS",
    "DEFAULT_HALF_LIFE_NS",
    "DEFAULT_WINDOW_NS",
    "EFFECT_SATURATION",
    "EVENT_KINDS",
    "EVENT_SCHEMA",
    "FEATURE_FLAG_KEY",
    "FEATURE_FLAG_VARIANT_KEYS",
    "SERVICE_VERSION",
    "Effect",
    "RankedEvent",
    "events_from_spans",
    "rank_events",
    "read_events",
]

EVENT_KINDS = ("deploy", "prompt", "model", "config", "index", "data", "flag", "other")
"""Values of the ``kind`` column: a code deploy, a prompt version, a model (or model snapshot),
a configuration change, a retrieval index rebuild, a data (dataset, corpus) update, a feature
flag, anything else."""

_EVENT_COLUMNS: tuple[tuple[str, pa.DataType, bool, str], ...] = (
    ("time_ns", pa.int64(), False, "When the change took effect, nanoseconds since the epoch."),
    ("kind", pa.string(), False, "What sort of change: " + ", ".join(EVENT_KINDS) + "."),
    ("target", pa.string(), True, "The service, component or prompt it changed; null if unsaid."),
    ("name", pa.string(), False, "What changed (service.version, prompt_version...)."),
    ("old", pa.string(), True, "The value before; null when unknown."),
    ("new", pa.string(), True, "The value after; null when unknown."),
    (
        "slices",
        pa.string(),
        False,
        "JSON object of dimension -> value (or list of values) the change touches, keys sorted; "
        '"{}" when it touches everything.',
    ),
    ("attributes", pa.string(), False, "JSON object of every other field, keys sorted."),
    ("source", pa.string(), False, "Where the event came from: the file's name, or spans."),
)

EVENT_SCHEMA = pa.schema(
    [
        pa.field(name, dtype, nullable=nullable, metadata={"doc": doc})
        for name, dtype, nullable, doc in _EVENT_COLUMNS
    ],
    metadata={"norecur.schema": "event", "norecur.schema_version": "1"},
)
"""The change-event table. Each field's ``doc`` metadata says what the column holds."""

_NAMES = tuple(name for name, *_ in _EVENT_COLUMNS)

SERVICE_VERSION = "service.version"
"""OpenTelemetry resource attribute: the version of the service that emitted the span; a new
value is a deploy."""
COLUMN_VERSION_KEYS: Mapping[str, tuple[str, str]] = {
    "request_model": ("gen_ai.request.model", "model"),
    "response_model": ("gen_ai.response.model", "model"),
}
"""Span-table columns read as versions: column -> (attribute it was lifted from, event kind)."""
ATTRIBUTE_VERSION_KEYS: Mapping[str, str] = {
    "llm.prompt_template.version": "prompt",
    "gen_ai.prompt.version": "prompt",
    "prompt.version": "prompt",
    "langfuse.prompt.version": "prompt",
    "retrieval.index.version": "index",
    "index.version": "index",
    "dataset.version": "data",
    "data.version": "data",
    "model.version": "model",
    "config.version": "config",
}
"""Span attributes known to hold a version, and the kind of event a new value is. Any other
attribute whose key ends in ``version`` and names a prompt or template, an index, embedding,
retriever or retrieval, a dataset, data, corpus or knowledge base, a model, a config or settings,
or a flag (``retriever.index_version``) counts too; a version of anything else
(``network.protocol.version``, ``service.version`` among span attributes) does not."""
FEATURE_FLAG_KEY = "feature_flag.key"
"""OpenTelemetry feature-flag attribute: the flag evaluated."""
FEATURE_FLAG_VARIANT_KEYS = ("feature_flag.result.variant", "feature_flag.variant")
"""OpenTelemetry attributes holding the variant the flag evaluated to (current, then former
name); a new variant of a flag is a ``flag`` event named after the flag."""

_VERSION_WORDS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"prompt", "template"}), "prompt"),
    (frozenset({"index", "embedding", "embeddings", "retriever", "retrieval"}), "index"),
    (frozenset({"dataset", "data", "corpus", "knowledge"}), "data"),
    (frozenset({"model"}), "model"),
    (frozenset({"config", "configuration", "settings"}), "config"),
    (frozenset({"flag"}), "flag"),
)
_WORD = re.compile(r"[._\-]")

DEFAULT_WINDOW_NS = 30 * 60 * 1_000_000_000
"""Width of each side of the deploy-anchored window (30 minutes): long enough to gather
requests, short enough not to reach the next change."""
DEFAULT_HALF_LIFE_NS = 30 * 60 * 1_000_000_000
"""Lag (event to onset) at which alignment halves (30 minutes): a rollout and the KPI's
aggregation take minutes, an event hours before the onset is a weak suspect."""
EFFECT_SATURATION = 6.0
"""The effect strength is ``min(1, -log10(p) / 6)``: a p-value of one in a million or less counts
fully, p = 0.05 counts 0.22, p = 0.5 counts 0.05."""

_EPOCH_UNITS = ((1e11, 1_000_000_000), (1e14, 1_000_000), (1e17, 1_000), (math.inf, 1))
"""An epoch number's unit from its size: below 1e11 seconds (until the year 5138), below 1e14
milliseconds, below 1e17 microseconds, else nanoseconds."""
_TIME_FIELDS = ("time_ns", "time", "timestamp")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GZIP_MAGIC = b"\x1f\x8b"
_INT64_MAX = 2**63 - 1
_MAX_DIMENSION_VALUES = 50
"""A dimension with more distinct values than this (ids, free text) is not drilled into."""


class _BadEvent(ValueError):
    """One event record is malformed; the message says which field and why."""


# --------------------------------------------------------------------------- reading


def _time_ns(record: Mapping[str, Any]) -> int:
    """The event time from ``time_ns`` (integer nanoseconds), else ``time`` or ``timestamp``
    (ISO-8601, naive meaning UTC, or an epoch number whose unit its size gives)."""
    for field in _TIME_FIELDS:
        raw = record.get(field)
        if raw is None or raw == "":
            continue
        if type(raw) is bool:
            raise _BadEvent(f"{field} {raw!r} is not a time")
        if field == "time_ns":
            try:
                value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
            except ValueError:
                value = None
            if value is None:
                raise _BadEvent(f"time_ns {str(raw)[:64]!r} is not an integer")
        else:
            value = _parse_time(raw, field)
        if not 0 <= value <= _INT64_MAX:
            raise _BadEvent(f"{field} {str(raw)[:64]!r} is before 1970 or after 2262")
        return value
    raise _BadEvent("no time: expected time_ns, time or timestamp")


def _parse_time(raw: Any, field: str) -> int:
    """An ISO-8601 string or an epoch number (as a number or a numeric string) as nanoseconds."""
    integral: int | None = None
    if isinstance(raw, int):
        integral = raw
    elif isinstance(raw, float):
        number = raw
    else:
        text = str(raw).strip()
        if _INTEGER.fullmatch(text):
            integral = int(text)
        else:
            try:
                number = float(text)
            except ValueError:
                return _parse_iso(text, field)
    if integral is not None:
        number = float(integral)
    if not math.isfinite(number):
        raise _BadEvent(f"{field} {raw!r} is not a finite number")
    unit = next(unit for limit, unit in _EPOCH_UNITS if abs(number) < limit)
    return integral * unit if integral is not None else round(number * unit)


def _parse_iso(text: str, field: str) -> int:
    """An ISO-8601 time as nanoseconds since the epoch; a time without offset is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _BadEvent(f"{field} {text[:64]!r} is neither ISO-8601 nor an epoch number") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _text(record: Mapping[str, Any], field: str) -> str | None:
    """A string field; numbers become their decimal text, null and "" become None."""
    raw = record.get(field)
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    raise _BadEvent(f"{field} must be a string, not {type(raw).__name__}")


def _json_object(record: Mapping[str, Any], field: str) -> dict[str, Any]:
    """An object field, given as an object (JSON Lines) or as JSON text (CSV); absent is ``{}``."""
    raw = record.get(field)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _BadEvent(f"{field} {raw[:64]!r} is not JSON") from None
    if not isinstance(raw, dict):
        raise _BadEvent(f"{field} must be a JSON object, not {type(raw).__name__}")
    return raw


def _slice_value(key: str, value: Any) -> str | list[str]:
    """One slice value as a string, or a list of values as a sorted list of distinct strings."""
    if isinstance(value, list):
        if not value:
            raise _BadEvent(f"slices.{key} is an empty list")
        return sorted({_slice_scalar(key, item) for item in value})
    return _slice_scalar(key, value)


def _slice_scalar(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise _BadEvent(f"slices.{key} must be a string, number or list of them")


def _dumps(value: Mapping[str, Any]) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value else "{}"


_KNOWN_FIELDS = frozenset(
    {*_TIME_FIELDS, "kind", "target", "name", "old", "new", "slices", "attributes", "source"}
)


def _decode(record: Mapping[str, Any], default_source: str) -> dict[str, Any]:
    """One record (a JSON object, or a CSV row with empty cells as "") as an event row."""
    time_ns = _time_ns(record)
    kind = (_text(record, "kind") or "other").strip().lower()
    if kind not in EVENT_KINDS:
        raise _BadEvent(f"kind {kind[:64]!r} is not one of {', '.join(EVENT_KINDS)}")
    slices = {}
    for key, value in _json_object(record, "slices").items():
        if not key:
            raise _BadEvent("slices has an empty dimension name")
        slices[key] = _slice_value(key, value)
    attributes = {
        key: value
        for key, value in record.items()
        if key not in _KNOWN_FIELDS and value is not None and value != ""
    }
    attributes.update(_json_object(record, "attributes"))
    return {
        "time_ns": time_ns,
        "kind": kind,
        "target": _text(record, "target"),
        "name": _text(record, "name") or kind,
        "old": _text(record, "old"),
        "new": _text(record, "new"),
        "slices": _dumps(slices),
        "attributes": _dumps(attributes),
        "source": _text(record, "source") or default_source,
    }


def _records(text: str, path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, record)`` for each record of JSON Lines or CSV text (told apart by a leading
    ``{``); a CSV record's cells are strings, an empty cell ``""``."""
    if text.lstrip().startswith("{"):
        # Split on line feeds only: str.splitlines would also split inside a JSON string
        # holding U+2028 and the line numbers would drift.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise TelemetryError(f"not JSON: {exc}", path=path, line=number) from None
            if not isinstance(record, dict):
                raise TelemetryError(
                    f"expected a JSON object, found {type(record).__name__}", path=path, line=number
                )
            yield number, record
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise TelemetryError(f"bad CSV header: {exc}", path=path, line=1) from None
    header = [name.strip() for name in header]
    if not any(name in header for name in _TIME_FIELDS):
        shown = ",".join(header)[:200]
        raise TelemetryError(
            f"event header lacks a time column (time_ns, time or timestamp); found {shown!r}",
            path=path,
            line=1,
        )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TelemetryError(f"bad CSV row: {exc}", path=path, line=reader.line_num) from None
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise TelemetryError(
                f"{len(row)} fields where the header has {len(header)}",
                path=path,
                line=reader.line_num,
            )
        yield reader.line_num, dict(zip(header, row, strict=True))


def read_events(path: str | os.PathLike[str]) -> pa.Table:
    """The change events of a JSON Lines or CSV file (plain or gzip, told apart by the gzip magic
    bytes), as a table of :data:`EVENT_SCHEMA` sorted by time (ties in file order).

    Each record has a time (``time_ns`` in integer nanoseconds, or ``time``/``timestamp`` as
    ISO-8601, a naive time meaning UTC, or an epoch number in s, ms, µs or ns told apart by its
    size) and optionally ``kind`` (one of :data:`EVENT_KINDS`, any case; default ``other``),
    ``target``, ``name`` (default: the kind), ``old``, ``new``, ``slices`` (a JSON object of
    dimension -> value or list of values; in CSV, JSON text), ``attributes`` (a JSON object) and
    ``source`` (default: the file's name). Other fields join the attributes. An empty file has no
    events.

    A malformed record (not JSON, not an object, a CSV row of the wrong width, a bad time, an
    unknown kind, a slices value that is not a string) raises
    :class:`~norecur.errors.TelemetryError` naming the file and line: an event file is small and
    written by hand or by a pipeline, so a bad line is a mistake to fix, not noise to skip.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise TelemetryError(f"cannot read: {exc.strerror or exc}", path=name) from None
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise TelemetryError(f"cannot decompress: {exc}", path=name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TelemetryError(f"not UTF-8 text near byte {exc.start}", path=name) from None
    source = os.path.basename(name)
    rows: dict[str, list[Any]] = {column: [] for column in _NAMES}
    for line, record in _records(text, name):
        try:
            row = _decode(record, source)
        except _BadEvent as exc:
            raise TelemetryError(str(exc), path=name, line=line) from None
        for column in _NAMES:
            rows[column].append(row[column])
    return _sorted_table(rows)


def _sorted_table(rows: Mapping[str, list[Any]]) -> pa.Table:
    table = pa.Table.from_arrays(
        [pa.array(rows[field.name], type=field.type) for field in EVENT_SCHEMA],
        schema=EVENT_SCHEMA,
    )
    if table.num_rows == 0:
        return table
    order = np.argsort(table.column("time_ns").to_numpy(), kind="stable")
    return table.take(pa.array(order))


# --------------------------------------------------------------------------- from spans


def _version_kind(key: str) -> str | None:
    """The event kind of a version-holding attribute key, or None when it holds no version of
    something we track."""
    known = ATTRIBUTE_VERSION_KEYS.get(key)
    if known is not None:
        return known
    if not key.lower().endswith("version"):
        return None
    words = set(_WORD.split(key.lower()))
    for vocabulary, kind in _VERSION_WORDS:
        if words & vocabulary:
            return kind
    return None


def _loads(text: str | None, cache: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    if not text or text == "{}":
        return {}
    if cache is not None and text in cache:
        return cache[text]
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = {}
    if not isinstance(value, dict):
        value = {}
    if cache is not None:
        cache[text] = value
    return value


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def events_from_spans(spans: pa.Table) -> pa.Table:
    """Version-change events derived from a span table (:data:`~norecur.telemetry.SPAN_SCHEMA`).

    Per component (the span's ``service``, else its ``agent_name``, else its ``name``) and
    version key, the first span (by start time) showing a value never seen before there, *after*
    an earlier value, is one event at that span's start: ``old`` is the value seen last before
    it, ``new`` the new one, ``target`` the component, ``name`` the key, ``slices`` ``{}`` (the
    component is named by ``target``; the event touches whatever flows through it) and
    ``attributes`` the trace and span ids of that first span. The first value of a key is the
    baseline, not a change; a value coming back (A, B, A) is not new either.

    The version keys: the resource attribute :data:`SERVICE_VERSION` (a ``deploy``), the model
    columns (:data:`COLUMN_VERSION_KEYS`, a ``model``), the span attributes of
    :data:`ATTRIBUTE_VERSION_KEYS` and similar keys, and feature flags
    (:data:`FEATURE_FLAG_KEY` with a variant, a ``flag`` event named ``feature_flag:<key>``).
    Events are sorted by time, then component and key; ``source`` is ``spans``.
    """
    rows: dict[str, list[Any]] = {column: [] for column in _NAMES}
    if spans.num_rows == 0:
        return _sorted_table(rows)
    order = pc.sort_indices(
        spans.select(["start_ns", "trace_id", "span_id"]),
        sort_keys=[("start_ns", "ascending"), ("trace_id", "ascending"), ("span_id", "ascending")],
    )
    table = spans.take(order)
    columns = {
        name: table.column(name).to_pylist()
        for name in (
            "start_ns",
            "trace_id",
            "span_id",
            "service",
            "agent_name",
            "name",
            "attributes",
            "resource",
            *COLUMN_VERSION_KEYS,
        )
    }
    resources: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[str, str], set[str]] = {}
    last: dict[tuple[str, str], str] = {}
    for row in range(table.num_rows):
        component = columns["service"][row] or columns["agent_name"][row] or columns["name"][row]
        found: list[tuple[str, str, str]] = []
        version = _scalar(_loads(columns["resource"][row], resources).get(SERVICE_VERSION))
        if version is not None:
            found.append((SERVICE_VERSION, "deploy", version))
        for column, (key, kind) in COLUMN_VERSION_KEYS.items():
            value = columns[column][row]
            if value:
                found.append((key, kind, value))
        text = columns["attributes"][row]
        if text and ("version" in text or FEATURE_FLAG_KEY in text):
            attributes = _loads(text)
            for key, raw in sorted(attributes.items()):
                kind = _version_kind(key)
                value = _scalar(raw)
                if kind is not None and value is not None:
                    found.append((key, kind, value))
            flag = _scalar(attributes.get(FEATURE_FLAG_KEY))
            variant = next(
                (
                    _scalar(attributes[name])
                    for name in FEATURE_FLAG_VARIANT_KEYS
                    if name in attributes
                ),
                None,
            )
            if flag is not None and variant is not None:
                found.append((f"feature_flag:{flag}", "flag", variant))
        for key, kind, value in found:
            state = (component, key)
            values = seen.setdefault(state, set())
            if value not in values:
                if values:
                    for column, cell in (
                        ("time_ns", columns["start_ns"][row]),
                        ("kind", kind),
                        ("target", component),
                        ("name", key),
                        ("old", last[state]),
                        ("new", value),
                        ("slices", "{}"),
                        (
                            "attributes",
                            _dumps(
                                {
                                    "span_id": columns["span_id"][row],
                                    "trace_id": columns["trace_id"][row],
                                }
                            ),
                        ),
                        ("source", "spans"),
                    ):
                        rows[column].append(cell)
                values.add(value)
            last[state] = value
    table = _sorted_table(rows)
    return table.take(
        pc.sort_indices(
            table,
            sort_keys=[("time_ns", "ascending"), ("target", "ascending"), ("name", "ascending")],
        )
    )


# --------------------------------------------------------------------------- ranking


@dataclass(frozen=True)
class Effect:
    """How a slice's mean moved across an event's time: the ``window_ns`` before the event
    against the ``window_ns`` after it, with Welch's t-test."""

    slice: str
    """The slice measured: ``dimension=value`` pairs joined by ``", "``, ``*`` for everything."""
    before_mean: float
    after_mean: float
    delta: float
    """``after_mean - before_mean``."""
    relative: float
    """``delta / |before_mean|``; +-inf when the mean before is 0."""
    t: float
    """Welch's t statistic (after minus before)."""
    p_value: float
    """Two-sided p-value of ``t``, times the number of slices tested for the event (Bonferroni),
    capped at 1."""
    before_count: int
    after_count: int
    slices_tested: int
    """Slices with enough records on both sides: the event's own scope and every value of every
    other dimension inside it."""


@dataclass(frozen=True)
class RankedEvent:
    """One change event, scored as an explanation of the change points (see :func:`rank_events`)."""

    time_ns: int
    kind: str
    target: str | None
    name: str
    old: str | None
    new: str | None
    slices: str
    """JSON object of the slices the event touches, as in :data:`EVENT_SCHEMA`."""
    attributes: str
    source: str
    score: float
    """0..1; higher explains the change better."""
    alignment: float
    """0..1: 1 when the event is at the onset, halving every ``half_life_ns`` before it, 0 after
    it (and when there is no change point)."""
    lag_ns: int | None
    """Onset minus event time for the onset it aligns with best (the nearest when it aligns with
    none): positive when the event came first. None without change points."""
    onset_ns: int | None
    """That onset's time. None without change points."""
    effect: Effect | None
    """The strongest before/after move inside the event's slices; None without records, or when
    it could not be measured (the reason says why)."""
    effect_strength: float
    """0..1: ``min(1, -log10(effect.p_value) / EFFECT_SATURATION)``; 0 without an effect."""
    reason: str
    """One line a person can check: the lag, the effect and its slice."""


def _duration(ns: int) -> str:
    seconds = abs(ns) / 1e9
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _align(
    event_ns: int, onsets: Sequence[int], half_life_ns: int, slack_ns: int
) -> tuple[float, int | None, int | None]:
    """``(alignment, lag_ns, onset_ns)`` of an event against the onsets."""
    if not onsets:
        return 0.0, None, None
    best: tuple[float, int, int] | None = None
    for onset in onsets:
        lag = onset - event_ns
        if lag < -slack_ns:
            continue
        alignment = 0.5 ** (max(lag, 0) / half_life_ns)
        if best is None or (alignment, -abs(lag)) > (best[0], -abs(best[1])):
            best = (alignment, lag, onset)
    if best is None:
        onset = min(onsets, key=lambda o: (abs(o - event_ns), o))
        return 0.0, onset - event_ns, onset
    return best


class _Records:
    """Request-level records sorted by time, with dimensions dictionary-encoded once (on first
    use), so that each event's window is two binary searches and each slice a comparison of
    integer codes."""

    def __init__(
        self,
        records: pa.Table,
        time: str,
        value: str,
        dimensions: Sequence[str] | None,
    ) -> None:
        missing = [name for name in (time, value) if name not in records.column_names]
        if missing:
            raise ValueError(
                f"records lack column {', '.join(missing)}; have {', '.join(records.column_names)}"
            )
        value_column = pc.cast(records.column(value), pa.float64())
        time_column = pc.cast(records.column(time), pa.int64())
        values = value_column.fill_null(math.nan).to_numpy(zero_copy_only=False)
        times = time_column.fill_null(0).to_numpy(zero_copy_only=False)
        timed = pc.is_valid(time_column).to_numpy(zero_copy_only=False)
        keep = np.flatnonzero(np.isfinite(values) & timed)
        order = keep[np.argsort(times[keep], kind="stable")]
        self._table = records
        self._order = pa.array(order)
        self.times: npt.NDArray[np.int64] = times[order]
        self.values: npt.NDArray[np.float64] = values[order]
        self.columns = frozenset(records.column_names) - {time, value}
        self._codes: dict[str, tuple[npt.NDArray[np.int64], list[str]]] = {}
        if dimensions is None:
            dimensions = [
                field.name
                for field in records.schema
                if field.name in self.columns
                and field.name != "attributes"
                and (
                    pa.types.is_string(field.type)
                    or pa.types.is_large_string(field.type)
                    or pa.types.is_dictionary(field.type)
                )
            ]
        unknown = sorted(set(dimensions) - self.columns)
        if unknown:
            raise ValueError(f"records lack dimension column {', '.join(unknown)}")
        self.drill = [
            name
            for name in sorted(set(dimensions))
            if len(self.encoded(name)[1]) <= _MAX_DIMENSION_VALUES
        ]

    def encoded(self, name: str) -> tuple[npt.NDArray[np.int64], list[str]]:
        """``(codes, labels)`` of a column in time order, as text: ``labels[codes[i]]`` is row
        ``i``'s value, and a null is the code ``len(labels)``."""
        if name not in self._codes:
            column = pc.cast(self._table.column(name).take(self._order), pa.string())
            encoded = pc.dictionary_encode(column.combine_chunks())
            labels = encoded.dictionary.to_pylist()
            codes = encoded.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)
            self._codes[name] = (codes.astype(np.int64), labels)
        return self._codes[name]


def _welch(
    before: tuple[float, float, float], after: tuple[float, float, float]
) -> tuple[float, float]:
    """``(t, two-sided p)`` of Welch's test from ``(count, mean, variance)`` of each side."""
    n_b, mean_b, var_b = before
    n_a, mean_a, var_a = after
    delta = mean_a - mean_b
    se2 = var_b / n_b + var_a / n_a
    if se2 <= 0.0:
        if delta == 0.0:
            return 0.0, 1.0
        return math.copysign(math.inf, delta), 0.0
    t = delta / math.sqrt(se2)
    df = se2 * se2 / ((var_b / n_b) ** 2 / max(n_b - 1, 1) + (var_a / n_a) ** 2 / max(n_a - 1, 1))
    return t, float(2.0 * stats.t.sf(abs(t), df))


def _summaries(
    codes: npt.NDArray[np.int64], values: npt.NDArray[np.float64], size: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per code 0..size-1: count, mean and sample variance of ``values`` (0 where undefined)."""
    count = np.bincount(codes, minlength=size).astype(np.float64)
    total = np.bincount(codes, weights=values, minlength=size)
    squares = np.bincount(codes, weights=values * values, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        variance = np.where(
            count > 1, (squares - count * mean * mean) / np.maximum(count - 1, 1), 0.0
        )
    return count, mean, np.maximum(variance, 0.0)


def _effect(
    data: _Records,
    event_ns: int,
    slices: Mapping[str, Any],
    window_ns: int,
    min_records: int,
    direction: Literal["both", "up", "down"],
) -> tuple[Effect | None, str]:
    """The strongest before/after move in the event's scope or one of its sub-slices, or None and
    why not."""
    absent = sorted(key for key in slices if key not in data.columns)
    if absent:
        return None, f"records lack the slice column {', '.join(absent)}"
    low = int(np.searchsorted(data.times, event_ns - window_ns, side="left"))
    middle = int(np.searchsorted(data.times, event_ns, side="left"))
    high = int(np.searchsorted(data.times, event_ns + window_ns, side="left"))
    scope = np.ones(high - low, dtype=bool)
    scope_label: list[str] = []
    for key in sorted(slices):
        wanted = [str(v) for v in slices[key]] if isinstance(slices[key], list) else [slices[key]]
        codes, labels = data.encoded(key)
        scope &= np.isin(codes[low:high], [labels.index(v) for v in wanted if v in labels])
        scope_label.append(f"{key}={'|'.join(wanted)}")
    window = data.values[low:high]
    after = np.arange(low, high) >= middle
    # Centre on the window's mean so that sums of squares keep their precision.
    centre = float(window[scope].mean()) if scope.any() else 0.0
    shifted = window - centre
    cells: list[tuple[str, tuple[float, float, float], tuple[float, float, float]]] = []

    def add(label: str, codes: npt.NDArray[np.int64], names: list[str]) -> None:
        """Every value of ``codes`` (``names[code]``; a null, code ``len(names)``, is skipped)
        with enough records on both sides becomes a cell."""
        size = len(names) + 1
        before_stats = _summaries(codes[scope & ~after], shifted[scope & ~after], size)
        after_stats = _summaries(codes[scope & after], shifted[scope & after], size)
        for code in range(len(names)):
            n_b, n_a = before_stats[0][code], after_stats[0][code]
            if n_b < min_records or n_a < min_records:
                continue
            name = ", ".join([*scope_label, f"{label}={names[code]}"] if label else scope_label)
            cells.append(
                (
                    name or "*",
                    (n_b, before_stats[1][code] + centre, before_stats[2][code]),
                    (n_a, after_stats[1][code] + centre, after_stats[2][code]),
                )
            )

    add("", np.zeros(high - low, dtype=np.int64), [""])
    for dimension in data.drill:
        if dimension not in slices:
            codes, labels = data.encoded(dimension)
            add(dimension, codes[low:high], labels)
    if not cells:
        return None, f"fewer than {min_records} records on a side of the event in its slices"
    best: Effect | None = None
    for name, before, after_side in cells:
        t, p = _welch(before, after_side)
        delta = after_side[1] - before[1]
        if (direction == "up" and delta <= 0) or (direction == "down" and delta >= 0):
            continue
        if before[1] != 0.0:
            relative = delta / abs(before[1])
        else:
            relative = 0.0 if delta == 0.0 else math.copysign(math.inf, delta)
        candidate = Effect(
            slice=name,
            before_mean=before[1],
            after_mean=after_side[1],
            delta=delta,
            relative=relative,
            t=t,
            p_value=min(1.0, p * len(cells)),
            before_count=int(before[0]),
            after_count=int(after_side[0]),
            slices_tested=len(cells),
        )
        if best is None or (candidate.p_value, -abs(candidate.t)) < (best.p_value, -abs(best.t)):
            best = candidate
    if best is None:
        return None, f"no slice moved {direction} across the event"
    return best, ""


def _strength(effect: Effect | None) -> float:
    if effect is None:
        return 0.0
    if effect.p_value <= 0.0:
        return 1.0
    return min(1.0, max(0.0, -math.log10(effect.p_value) / EFFECT_SATURATION))


def rank_events(
    events: pa.Table,
    change_points: Sequence[ChangePoint],
    *,
    records: pa.Table | None = None,
    value: str | None = None,
    time: str = "time_ns",
    window_ns: int = DEFAULT_WINDOW_NS,
    half_life_ns: int = DEFAULT_HALF_LIFE_NS,
    slack_ns: int = 0,
    dimensions: Sequence[str] | None = None,
    direction: Literal["both", "up", "down"] = "both",
    min_records: int = 5,
) -> list[RankedEvent]:
    """The events of ``events`` (:data:`EVENT_SCHEMA`) ranked as explanations of
    ``change_points``, best first.

    **Alignment** (0..1), against the onset it fits best: causes precede effects, so an event
    after an onset (by more than ``slack_ns``, the allowance for an onset that is a bucket's
    start) scores 0 for it; one before it scores ``0.5 ** (lag / half_life_ns)``: 1 at the onset,
    0.5 half an hour before (by default), 1/64 three hours before.

    **Effect**, when ``records`` are given (request-level rows: a ``time`` column in integer
    nanoseconds, a numeric ``value`` column, default ``value``, and dimension columns): inside the
    event's slices (all records when it has none), the mean of the ``window_ns`` before the event
    against the ``window_ns`` after it (the deploy-anchored window), by Welch's t-test, in the
    event's whole scope and in each value of every other dimension (``dimensions``, default every
    string column but ``attributes``: booleans are more often outcomes, such as a thumbs-down,
    than slices; a dimension with more than 50 values is not drilled into) with at
    least ``min_records`` records on each side. A change that touches everything may hurt one
    slice only (a prompt that improves most intents and breaks one), so the strongest slice is
    the effect; its p-value is multiplied by the number of slices tested (Bonferroni). With
    ``direction`` ``up`` or ``down`` only moves that way count (``down`` for a score where lower
    is worse). The effect strength is ``min(1, -log10(p) / 6)``.

    **Score**: the mean of alignment and effect strength when both change points and records
    are given; alignment alone without records; effect strength alone without change points;
    0 with neither (the events are then listed in time order). An event whose effect cannot be
    measured (too few records, a slice column the records lack) has strength 0. Ties go to the
    better aligned, then the earlier event, then kind, target and name.
    """
    if window_ns <= 0 or half_life_ns <= 0:
        raise ValueError("window_ns and half_life_ns must be positive")
    if direction not in ("both", "up", "down"):
        raise ValueError(f"direction must be both, up or down, not {direction!r}")
    missing = [name for name in _NAMES if name not in events.column_names]
    if missing:
        raise ValueError(f"events lack column {', '.join(missing)}")
    onsets = sorted({point.time_ns for point in change_points})
    data = _Records(records, time, value or "value", dimensions) if records is not None else None
    ranked: list[RankedEvent] = []
    for row in events.select(list(_NAMES)).to_pylist():
        alignment, lag, onset = _align(row["time_ns"], onsets, half_life_ns, slack_ns)
        parts: list[str] = []
        if onset is None:
            parts.append("no change point to align with")
        elif lag is not None and lag > 0:
            parts.append(
                f"{_duration(lag)} before the onset at {_iso(onset)} (alignment {alignment:.2f})"
            )
        elif lag is not None and lag >= -slack_ns:
            parts.append(f"at the onset at {_iso(onset)} (alignment {alignment:.2f})")
        elif lag is not None:
            parts.append(
                f"{_duration(lag)} after the onset at {_iso(onset)}: a cause precedes its effect"
            )
        effect: Effect | None = None
        if data is not None:
            slices = _loads(row["slices"])
            effect, why = _effect(data, row["time_ns"], slices, window_ns, min_records, direction)
            if effect is None:
                parts.append(why)
            else:
                parts.append(
                    f"{effect.slice} {effect.before_mean:.4g} -> {effect.after_mean:.4g} "
                    f"({effect.relative * 100:+.1f} %, t={effect.t:.1f}, p={effect.p_value:.2g}, "
                    f"{effect.before_count}/{effect.after_count} records)"
                )
        strength = _strength(effect)
        if onsets and data is not None:
            score = (alignment + strength) / 2
        elif onsets:
            score = alignment
        elif data is not None:
            score = strength
        else:
            score = 0.0
        ranked.append(
            RankedEvent(
                **row,
                score=score,
                alignment=alignment,
                lag_ns=lag,
                onset_ns=onset,
                effect=effect,
                effect_strength=strength,
                reason="; ".join(parts),
            )
        )
    ranked.sort(key=lambda r: (-r.score, -r.alignment, r.time_ns, r.kind, r.target or "", r.name))
    return ranked
