"""Which spans failed, and which traces failed: the one definition every analyzer shares.

A span *fails* when any of these says so:

- its status is ``ERROR``;
- its HTTP status is 5xx, or 4xx on a ``CLIENT`` span (OpenTelemetry's HTTP conventions: a 4xx
  is the client's failure, not the server's);
- its gRPC status (``rpc.grpc.status_code``) is not 0 (OK);
- it recorded an ``exception`` event and its status is not ``OK`` (an instrumentation that sets
  ``OK`` after an exception says it handled it);
- a joined log line at ``ERROR`` or ``FATAL`` carries its trace and span id.

A trace *fails* when one of its roots fails (a span whose parent is absent from the trace: the
request the user saw), or when a ``GUARDRAIL`` or ``EVALUATOR`` span fails (the answer was judged
wrong even though no call raised). With logs and no status at all in the trace (span tables from
CSV), a trace also fails when any of its spans logged an error, since then the logs are the only
error signal there is.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "GRPC_STATUS_CODE",
    "JUDGE_KINDS",
    "STEP_KEY",
    "conversation_rows",
    "failed_traces",
    "span_failures",
]

GRPC_STATUS_CODE = "rpc.grpc.status_code"
"""Attribute: the numeric gRPC status code of an RPC span (0 is OK)."""
JUDGE_KINDS = ("GUARDRAIL", "EVALUATOR")
"""AI span kinds whose failure means the answer failed, not a call."""
STEP_KEY = "message.step"
"""Attribute of a conversation step (the ``agent-conversation`` reader writes it): its index."""
_GRPC_KEY = f'"{GRPC_STATUS_CODE}":'


def span_failures(spans: pa.Table, logs: pa.Table | None = None) -> pa.Table:
    """One row per span of ``spans`` (same order): ``failed`` and the signals behind it.

    Columns: ``status`` (status ERROR), ``http`` (failing HTTP status), ``grpc`` (non-OK gRPC
    status), ``exception`` (exception event, status not OK), ``log`` (an error log line),
    ``failed`` (any of them); all boolean, never null.
    """
    status = pc.equal(spans["status_code"], "ERROR")
    http_status = spans["http_status"]
    client = pc.equal(spans["kind"], "CLIENT")
    http = pc.or_(
        pc.greater_equal(http_status, 500),
        pc.and_(client, pc.and_(pc.greater_equal(http_status, 400), pc.less(http_status, 500))),
    )
    grpc = _grpc_failed(spans["attributes"])
    exception = pc.and_(
        pc.greater(spans["exception_count"], 0), pc.not_equal(spans["status_code"], "OK")
    )
    log = _logged_error(spans, logs)
    columns = {
        "status": status,
        "http": http,
        "grpc": grpc,
        "exception": exception,
        "log": log,
    }
    columns = {name: pc.fill_null(values, False) for name, values in columns.items()}
    failed = columns["status"]
    for name in ("http", "grpc", "exception", "log"):
        failed = pc.or_(failed, columns[name])
    return pa.table({**columns, "failed": failed})


def failed_traces(spans: pa.Table, logs: pa.Table | None = None) -> set[str]:
    """Ids of the traces that failed (see the module docstring for the definition)."""
    if spans.num_rows == 0:
        return set()
    failures = span_failures(spans, logs)
    failed = failures["failed"]
    keys = pc.binary_join_element_wise(spans["trace_id"], spans["span_id"], "/")
    parents = pc.binary_join_element_wise(
        spans["trace_id"], pc.fill_null(spans["parent_span_id"], ""), "/"
    )
    root = pc.invert(pc.is_in(parents, value_set=keys))
    judge = pc.fill_null(
        pc.is_in(spans["span_kind_ai"], value_set=pa.array(JUDGE_KINDS, pa.string())), False
    )
    counted = pc.and_(failed, pc.or_(root, judge))
    if logs is not None and logs.num_rows:
        quiet = _traces_without_status(spans)
        counted = pc.or_(counted, pc.and_(failures["log"], quiet))
    return set(pc.unique(spans["trace_id"].filter(counted)).to_pylist())


def _grpc_failed(attributes: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each attributes JSON holds a non-zero ``rpc.grpc.status_code``: a substring test
    first, so only the few RPC spans are parsed."""
    has = pc.fill_null(pc.match_substring(attributes, _GRPC_KEY), False)
    values = [False] * len(attributes)
    if pc.any(has).as_py():
        import orjson

        for index in pc.indices_nonzero(has).to_pylist():
            code = orjson.loads(attributes[index].as_py()).get(GRPC_STATUS_CODE)
            values[index] = isinstance(code, int | str) and str(code) not in ("0", "OK")
    return pa.chunked_array([pa.array(values, pa.bool_())])


def _logged_error(spans: pa.Table, logs: pa.Table | None) -> pa.Array:
    """Whether a log line at ERROR or FATAL names each span's trace and span id."""
    if logs is None or logs.num_rows == 0:
        return pa.array([False] * spans.num_rows, pa.bool_())
    errors = logs.filter(
        pc.fill_null(pc.is_in(logs["level"], value_set=pa.array(["ERROR", "FATAL"])), False)
    )
    logged = pc.binary_join_element_wise(errors["trace_id"], errors["span_id"], "/")
    keys = pc.binary_join_element_wise(spans["trace_id"], spans["span_id"], "/")
    return pc.fill_null(pc.is_in(keys, value_set=logged.combine_chunks()), False)


def _traces_without_status(spans: pa.Table) -> pa.ChunkedArray:
    """Per span: whether no span of its trace set a status (every one ``UNSET``)."""
    set_status = spans["trace_id"].filter(pc.not_equal(spans["status_code"], "UNSET"))
    return pc.invert(pc.is_in(spans["trace_id"], value_set=pc.unique(set_status)))


def conversation_rows(spans: pa.Table) -> pa.ChunkedArray:
    """Per span: whether its trace is a conversation (a span of it carries :data:`STEP_KEY`),
    a sequence of messages rather than a tree of calls."""
    needle = f'"{STEP_KEY}":'
    steps = pc.fill_null(pc.match_substring(spans["attributes"], needle), False)
    if not pc.any(steps).as_py():
        return pa.chunked_array([pa.array([False] * spans.num_rows, pa.bool_())])
    runs = pc.unique(spans["trace_id"].filter(steps))
    return pc.is_in(spans["trace_id"], value_set=runs)
