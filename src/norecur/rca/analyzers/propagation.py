"""``error-propagation``: follow a failure from the request the user saw down to where it began."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca._signals import JUDGE_KINDS, conversation_rows, span_failures

__all__ = ["FEATURES", "ErrorPropagation"]

FEATURES = (
    "timeout_callee",
    "unreadable_response",
    "originating_error",
    "retries_exhausted",
    "swallowed_error",
)
"""The named features, in the order their evidence is listed; each has a weight ``w_<feature>``."""

_TIMEOUT = re.compile(r"time[d _-]?out|deadline", re.IGNORECASE)
_UNREADABLE = re.compile(
    r"pars(e|ing|er)|decod|valid|schema|unmarshal|deserial|notreadable|malformed|"
    r"unexpected (token|end)|invalid (json|format)",
    re.IGNORECASE,
)
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
    "exception_count",
    "kind",
)


@dataclass(frozen=True, slots=True)
class _Span:
    trace_id: str
    span_id: str
    parent: str | None
    name: str
    component: str
    start_ns: int
    end_ns: int
    message: str | None
    error_type: str | None
    http_status: int | None
    kind: str
    judge_verdict: bool
    failed: bool
    signals: tuple[str, ...]

    @property
    def errored(self) -> bool:
        """Failed, or answered with an HTTP error status: a server's 4xx is not its own failure
        (OpenTelemetry's HTTP conventions), but it does hand an error to its caller."""
        return self.failed or (self.http_status is not None and self.http_status >= 400)


class ErrorPropagation(Analyzer):
    """Blames the span where a failure began, not the callers it cascaded through.

    A span fails on any of the signals of :mod:`norecur.rca._signals` (status ``ERROR``, a
    failing HTTP or gRPC status, an unhandled exception event, an error line in joined logs).
    In each trace the analyzer walks the failed spans: a failed span none of whose children
    failed or answered with an HTTP error status is where an error *originated*; its failed
    ancestors only passed the error on, so they are the propagation path, not suspects (a server
    span that answered 4xx did not fail by OpenTelemetry's conventions, but it passes the error
    up all the same, so the path runs through it). Each origin is followed up its chain of failed
    ancestors:

    - ``originating_error`` (value 1): the chain reaches a root of the trace, so this error is
      what the user saw. The reason quotes the signals and the path length.
    - ``swallowed_error`` (value 1): the chain stops below a span that did not fail, which
      absorbed the error (handled it, or a retry of the same operation under the same parent
      succeeded). Weighted lower: a swallowed error is a suspect only when nothing reached the
      root, such as an answer judged wrong after a tool error was papered over.
    - ``timeout_callee``: an origin that timed out (``error.type`` or the status message says
      timeout or deadline) and still has children did not fail on its own: the wait was spent
      in its callee. Blame moves to the descendant with the largest self time (duration minus
      its children's union), which gets this evidence instead.
    - ``unreadable_response``: an origin that did not answer 4xx (a server rejecting a malformed
      request) failed to parse or validate (its error type or message says parse, decode,
      validation, schema, deserialise, not readable...) after a call below it succeeded: what
      it could not read was that call's answer. Blame moves to the answer's producer, the deepest server span
      under the last call that ended before the failure (data flows up from where it was
      read).
    - ``retries_exhausted`` (value 1): the origin's operation was tried more than once under
      the same parent and every try failed; added to the last try's evidence.

    A ``GUARDRAIL`` or ``EVALUATOR`` span that failed without an exception is a verdict on the
    answer, not an error of its own: it makes the trace fail but is never an origin, and
    neither is any span above it that failed (it raised because the answer was rejected); the
    cause is whatever produced the answer, which other analyzers look for. Component: the span's
    service, else its agent, else its name. Traces without a failed span give no candidate, and
    neither do conversations (traces whose spans are numbered messages, ``message.step``): a
    message is not a call, and an error in one is not passed up to the message before it.
    """

    name = "error-propagation"

    def __init__(
        self,
        *,
        w_originating_error: float = 1.0,
        w_timeout_callee: float = 1.0,
        w_unreadable_response: float = 1.0,
        w_retries_exhausted: float = 0.1,
        w_swallowed_error: float = 0.3,
    ) -> None:
        self.w_originating_error = w_originating_error
        self.w_timeout_callee = w_timeout_callee
        self.w_unreadable_response = w_unreadable_response
        self.w_retries_exhausted = w_retries_exhausted
        self.w_swallowed_error = w_swallowed_error

    def _validate_params(self) -> None:
        super()._validate_params()
        for key, value in self.get_params().items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{self.name}: {key} must be a number >= 0, got {value!r}")

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        conversations = conversation_rows(spans)
        if pc.any(conversations).as_py():
            spans = spans.filter(pc.invert(conversations))
        failures = span_failures(spans, context.logs)
        failed = failures["failed"]
        if not pc.any(failed).as_py():
            return []
        touched = pc.unique(spans["trace_id"].filter(failed))
        mask = pc.is_in(spans["trace_id"], value_set=touched)
        table = spans.select(list(_COLUMNS)).filter(mask)
        flags = failures.filter(mask)
        candidates: list[Candidate] = []
        for trace in _traces(table, flags):
            candidates.extend(self._trace_candidates(trace))
        return candidates

    def _trace_candidates(self, spans: dict[str, _Span]) -> list[Candidate]:
        children: dict[str | None, list[_Span]] = defaultdict(list)
        for span in spans.values():
            children[span.parent].append(span)
        found: dict[str, list[Evidence]] = defaultdict(list)
        verdicts = _above_verdicts(spans)
        for span in spans.values():
            if not span.failed or span.judge_verdict or span.span_id in verdicts:
                continue
            if any(child.errored for child in children[span.span_id]):
                continue  # it passed on a child's error, or a verdict on its answer
            self._follow(span, spans, children, found)
        candidates = []
        for span_id, evidence in found.items():
            span = spans[span_id]
            order = {feature: index for index, feature in enumerate(FEATURES)}
            evidence.sort(key=lambda item: order[item.kind])
            candidates.append(
                Candidate.from_evidence(
                    trace_id=span.trace_id,
                    component=span.component,
                    span_id=span_id,
                    step=None,
                    evidence=tuple(evidence),
                )
            )
        return candidates

    def _follow(
        self,
        origin: _Span,
        spans: dict[str, _Span],
        children: dict[str | None, list[_Span]],
        found: dict[str, list[Evidence]],
    ) -> None:
        path = [origin.span_id]
        node = origin
        while node.parent in spans and spans[node.parent].errored:
            node = spans[node.parent]
            path.append(node.span_id)
        reached_root = node.parent not in spans
        what = _describe(origin)
        blamed = origin
        producer = _producer(origin, children) if _unreadable(origin) else None
        if producer is not None:
            blamed = producer
            found[blamed.span_id].append(
                Evidence(
                    kind="unreadable_response",
                    value=1.0,
                    weight=self.w_unreadable_response,
                    reason=(
                        f"{origin.component} {origin.name} could not read an answer "
                        f"({origin.error_type or 'parse error'}); the answer came from "
                        f"{blamed.component} {blamed.name}"
                    ),
                    span_ids=(blamed.span_id, *path),
                )
            )
        elif _timed_out(origin) and children[origin.span_id]:
            blamed = _slowest(origin, children)
            found[blamed.span_id].append(
                Evidence(
                    kind="timeout_callee",
                    value=1.0,
                    weight=self.w_timeout_callee,
                    reason=(
                        f"{origin.component} {origin.name} timed out waiting; the time went to "
                        f"{blamed.component} {blamed.name} (largest self time below it)"
                    ),
                    span_ids=(blamed.span_id, *path),
                )
            )
        if reached_root:
            hops = len(path) - 1
            kind, weight = "originating_error", self.w_originating_error
            reason = (
                f"{origin.component} {origin.name} failed first ({what}); the error reached "
                f"the root through {hops} failed caller{'s' if hops != 1 else ''}"
            )
        else:
            absorber = spans[node.parent] if node.parent is not None else node
            kind, weight = "swallowed_error", self.w_swallowed_error
            retried = _retry_recovered(node, children)
            reason = f"{origin.component} {origin.name} failed ({what}); " + (
                "a retry of the same call succeeded"
                if retried
                else f"{absorber.component} {absorber.name} absorbed the error"
            )
        found[origin.span_id if blamed is origin else blamed.span_id].append(
            Evidence(kind=kind, value=1.0, weight=weight, reason=reason, span_ids=tuple(path))
        )
        tries = _tries(origin, children)
        if len(tries) > 1 and all(span.failed for span in tries) and tries[-1] is origin:
            found[blamed.span_id].append(
                Evidence(
                    kind="retries_exhausted",
                    value=1.0,
                    weight=self.w_retries_exhausted,
                    reason=f"{origin.component} {origin.name} failed on all {len(tries)} tries",
                    span_ids=tuple(span.span_id for span in tries),
                )
            )


def _traces(table: pa.Table, flags: pa.Table) -> list[dict[str, _Span]]:
    """The spans of each trace by span id (traces in id order, spans in start order)."""
    columns = {name: table[name].to_pylist() for name in _COLUMNS}
    failed = flags["failed"].to_pylist()
    signal_names = ("status", "http", "grpc", "exception", "log")
    signals = [flags[name].to_pylist() for name in signal_names]
    traces: dict[str, dict[str, _Span]] = {}
    for index, trace_id in enumerate(columns["trace_id"]):
        kind = columns["span_kind_ai"][index]
        exceptions = columns["exception_count"][index]
        span = _Span(
            trace_id=trace_id,
            span_id=columns["span_id"][index],
            parent=columns["parent_span_id"][index],
            name=columns["name"][index],
            component=(
                columns["service"][index] or columns["agent_name"][index] or columns["name"][index]
            ),
            start_ns=columns["start_ns"][index],
            end_ns=columns["end_ns"][index],
            message=columns["status_message"][index],
            error_type=columns["error_type"][index],
            http_status=columns["http_status"][index],
            kind=columns["kind"][index],
            judge_verdict=kind in JUDGE_KINDS and not exceptions,
            failed=failed[index],
            signals=tuple(
                name for name, values in zip(signal_names, signals, strict=True) if values[index]
            ),
        )
        traces.setdefault(trace_id, {})[span.span_id] = span
    return list(traces.values())


def _describe(span: _Span) -> str:
    """The failure signals of ``span`` as a short phrase."""
    parts = []
    if "status" in span.signals:
        parts.append("status ERROR" + (f": {span.message[:120]}" if span.message else ""))
    if "http" in span.signals:
        parts.append(f"HTTP {span.http_status}")
    if "grpc" in span.signals:
        parts.append("gRPC status not OK")
    if "exception" in span.signals:
        parts.append("exception" + (f" {span.error_type}" if span.error_type else ""))
    elif span.error_type and "status" in span.signals:
        parts.append(f"error.type {span.error_type}")
    if "log" in span.signals:
        parts.append("error logged")
    return "; ".join(parts)


def _above_verdicts(spans: dict[str, _Span]) -> set[str]:
    """Ids of the spans above a failed verdict (a judge that rejected the answer)."""
    above: set[str] = set()
    for span in spans.values():
        if not (span.judge_verdict and span.failed):
            continue
        parent = span.parent
        while parent in spans and parent not in above:
            above.add(parent)
            parent = spans[parent].parent
    return above


def _unreadable(span: _Span) -> bool:
    if span.http_status is not None and 400 <= span.http_status < 500:
        return False  # a server rejecting its request as malformed, not a reader of an answer
    return any(_UNREADABLE.search(text) for text in (span.error_type, span.message) if text)


def _producer(origin: _Span, children: dict[str | None, list[_Span]]) -> _Span | None:
    """The deepest server span below the last successful call whose answer ``origin`` read:
    among its own children (calls it made), else among its earlier siblings (steps that ended
    before it started, as a parser after a model call). None when there is no such server."""
    own = [span for span in children[origin.span_id] if span.end_ns <= origin.end_ns]
    earlier = [
        span
        for span in children[origin.parent]
        if span is not origin and span.end_ns <= origin.start_ns
    ]
    for pool in (own, earlier):
        calls = sorted(
            (span for span in pool if not span.failed), key=lambda span: (span.end_ns, span.span_id)
        )
        for call in reversed(calls):
            deepest = _deepest_server(call, children)
            if deepest is not None:
                return deepest
    return None


def _deepest_server(top: _Span, children: dict[str | None, list[_Span]]) -> _Span | None:
    """The server span furthest below ``top`` (ties: the latest to start), or None."""
    best: tuple[int, int, str] | None = None
    chosen = None
    stack = [(top, 0)]
    while stack:
        span, depth = stack.pop()
        if span.kind == "SERVER":
            key = (depth, span.start_ns, span.span_id)
            if best is None or key > best:
                best, chosen = key, span
        stack.extend((child, depth + 1) for child in children[span.span_id])
    return chosen


def _timed_out(span: _Span) -> bool:
    return any(_TIMEOUT.search(text) for text in (span.error_type, span.message) if text)


def _slowest(origin: _Span, children: dict[str | None, list[_Span]]) -> _Span:
    """The descendant of ``origin`` with the largest self time (ties: earliest, then id)."""
    best: tuple[int, int, str] | None = None
    chosen = origin
    stack = list(children[origin.span_id])
    while stack:
        span = stack.pop()
        below = children[span.span_id]
        own = (span.end_ns - span.start_ns) - _union(span, below)
        key = (-own, span.start_ns, span.span_id)
        if best is None or key < best:
            best, chosen = key, span
        stack.extend(below)
    return chosen


def _union(parent: _Span, below: list[_Span]) -> int:
    """Length of the union of the children's intervals, clipped to the parent's."""
    covered, reach = 0, parent.start_ns
    for start, end in sorted((child.start_ns, child.end_ns) for child in below):
        start, end = max(start, reach, parent.start_ns), min(end, parent.end_ns)
        if end > start:
            covered += end - start
            reach = end
    return covered


def _tries(span: _Span, children: dict[str | None, list[_Span]]) -> list[_Span]:
    """Every call of ``span``'s operation under the same parent, in start order."""
    siblings = children[span.parent]
    same = [other for other in siblings if other.name == span.name]
    return sorted(same, key=lambda other: (other.start_ns, other.span_id))


def _retry_recovered(span: _Span, children: dict[str | None, list[_Span]]) -> bool:
    """Whether a later call of the same operation under the same parent succeeded."""
    return any(
        not other.failed and other.start_ns >= span.start_ns and other is not span
        for other in _tries(span, children)
    )
