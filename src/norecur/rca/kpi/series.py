"""KPI series and request records from files: Prometheus range-query JSON, CSV (gzip too),
Parquet and JSON Lines, into the long KPI table (``time_ns``, ``kpi``, ``value``,
``attributes``) or a records table with an integer ``time_ns`` column.

Times may be integers (seconds, milliseconds, microseconds or nanoseconds since the epoch, told
apart by magnitude), Arrow timestamps, or ISO 8601 text (UTC when no zone is given).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from norecur.errors import TelemetryError
from norecur.rca.kpi.drift import read_snapshot

__all__ = ["KPI_SCHEMA", "read_kpi_series", "read_records", "to_time_ns"]

KPI_SCHEMA = pa.schema(
    [
        pa.field("time_ns", pa.int64(), nullable=False),
        pa.field("kpi", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=True),
        pa.field("attributes", pa.string(), nullable=False),
    ],
    metadata={"norecur.schema": "kpi", "norecur.schema_version": "1"},
)
"""The long KPI table: one row per point of a named series; ``attributes`` holds its labels."""
_TIME_COLUMNS = ("time_ns", "timestamp", "time", "ts", "min", "minute", "date")


def to_time_ns(column: pa.ChunkedArray | pa.Array, *, path: str, name: str) -> pa.Array:
    """``column`` as nanoseconds since the epoch (module docstring for what is accepted)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        return pc.cast(pc.cast(column, pa.timestamp("ns", tz="UTC")), pa.int64())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False)
        top = float(abs(values).max()) if len(values) else 0.0
        scale = 1 if top >= 1e17 else 1_000 if top >= 1e14 else 1_000_000 if top >= 1e11 else 10**9
        return pa.array((values * scale).astype("int64"), pa.int64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        out = []
        for index, text in enumerate(column.to_pylist()):
            try:
                moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
            except ValueError:
                raise TelemetryError(
                    f"row {index + 1}: {name}: not a time: {str(text)[:40]!r}", path=path
                ) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
            seconds = delta.days * 86_400 + delta.seconds
            out.append(seconds * 1_000_000_000 + delta.microseconds * 1_000)
        return pa.array(out, pa.int64())
    raise TelemetryError(f"{name}: a time column cannot be of type {kind}", path=path)


def _time_column(table: pa.Table, path: str, time: str | None) -> str:
    if time is not None:
        if time not in table.column_names:
            raise TelemetryError(f"no column {time!r}", path=path)
        return time
    found = next((name for name in _TIME_COLUMNS if name in table.column_names), None)
    if found is None:
        raise TelemetryError(
            f"no time column (one of {', '.join(_TIME_COLUMNS)}); name it with --time", path=path
        )
    return found


def read_records(path: str | os.PathLike[str], *, time: str | None = None) -> pa.Table:
    """Request-level rows from CSV, Parquet or JSON Lines, with the time as ``time_ns``."""
    label = os.fspath(path)
    table = read_snapshot(path)
    column = _time_column(table, label, time)
    stamps = to_time_ns(table[column], path=label, name=column)
    rest = table.drop_columns([column]) if column != "time_ns" else table.drop_columns(["time_ns"])
    return rest.append_column("time_ns", stamps)


def read_kpi_series(
    path: str | os.PathLike[str], *, time: str | None = None, value: str = "value"
) -> pa.Table:
    """A KPI series file as the long KPI table (:data:`KPI_SCHEMA`)."""
    label = os.fspath(path)
    head = Path(path).read_bytes()[:1].strip() if Path(path).is_file() else b""
    if head in (b"{",):
        return _prometheus(Path(path), label)
    table = read_snapshot(path)
    column = _time_column(table, label, time)
    if value not in table.column_names:
        raise TelemetryError(f"no value column {value!r}", path=label)
    names = (
        pc.cast(table["kpi"], pa.string())
        if "kpi" in table.column_names
        else pa.array([Path(label).stem] * table.num_rows, pa.string())
    )
    return pa.Table.from_arrays(
        [
            to_time_ns(table[column], path=label, name=column),
            names,
            pc.cast(table[value], pa.float64()),
            pa.array(["{}"] * table.num_rows, pa.string()),
        ],
        schema=KPI_SCHEMA,
    )


def _prometheus(path: Path, label: str) -> pa.Table:
    """A Prometheus ``query_range`` answer: one series per result, named by its labels."""
    try:
        document: Any = orjson.loads(path.read_bytes())
        results = document["data"]["result"]
        if document["data"].get("resultType") != "matrix":
            raise TypeError("resultType is not matrix")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise TelemetryError(f"not a Prometheus range-query answer: {exc}", path=label) from None
    columns: dict[str, list[Any]] = {"time_ns": [], "kpi": [], "value": [], "attributes": []}
    for number, result in enumerate(results):
        labels = result.get("metric", {})
        name = labels.get("__name__", "series") + (
            "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") + "}"
            if len(labels) > ("__name__" in labels)
            else ""
        )
        for point in result.get("values", []):
            try:
                stamp, text = point
                number_value = float(text)
            except (TypeError, ValueError):
                raise TelemetryError(
                    f"result {number + 1}: bad point {str(point)[:40]!r}", path=label
                ) from None
            columns["time_ns"].append(round(float(stamp) * 1e9))
            columns["kpi"].append(name)
            columns["value"].append(number_value)
            columns["attributes"].append(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode())
    return pa.table(columns, schema=KPI_SCHEMA)
