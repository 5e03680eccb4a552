"""Spans in memory while a synthetic trace is built, and their OTLP/JSON encoding.

A topology builds a trace the way the code it imitates runs: :meth:`Trace.open` starts a span at
the trace's clock, :meth:`Trace.work` spends self time (jittered, heavy-tailed), calls to other
services advance the clock, :meth:`Trace.close` ends the span where the clock stands. So durations,
self times and timeouts come out of the same mechanism a real system has, not out of a formula
that a localizer could invert.

:func:`encode` turns the spans of many traces into one ``ExportTraceServiceRequest`` in the OTLP
protobuf JSON mapping (hex ids, 64-bit integers as strings, enums as numbers), grouped by resource
(service and version) and instrumentation scope, serialized with orjson.
"""

from __future__ import annotations

import math
import random
import statistics
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "CLIENT",
    "ERROR",
    "INTERNAL",
    "OK",
    "SERVER",
    "UNSET",
    "Failure",
    "Scope",
    "Service",
    "Span",
    "Trace",
    "encode",
    "stacktrace",
]

INTERNAL, SERVER, CLIENT = 1, 2, 3
"""OTLP ``SpanKind`` numbers used here."""
UNSET, OK, ERROR = 0, 1, 2
"""OTLP ``Status.StatusCode`` numbers."""

MS = 1_000_000
"""Nanoseconds in a millisecond."""
_NORMAL = statistics.NormalDist().samples(4096, seed=20260105)
"""Standard normal quantiles drawn once (a fixed table, so jitter costs one random call)."""


@dataclass(frozen=True, slots=True, eq=False)
class Scope:
    """An instrumentation scope (library name and version) as OTLP records it."""

    name: str
    version: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Service:
    """One resource: a deployed version of a service. A canary deploy is a second instance with
    another ``version`` (and pod), so it becomes its own ``resourceSpans`` entry as in real data.
    Compared by identity: each deployed instance is created once per case."""

    name: str
    version: str
    language: str
    """``python`` or ``java``: picks the SDK attributes and the stack-trace style."""
    namespace: str
    pod: str

    def resource_attributes(self) -> list[dict[str, Any]]:
        """The resource attributes, encoded."""
        sdk_version = "1.29.0" if self.language == "python" else "1.44.1"
        return [
            _kv("service.name", self.name),
            _kv("service.version", self.version),
            _kv("service.namespace", self.namespace),
            _kv("deployment.environment.name", "production"),
            _kv("k8s.pod.name", self.pod),
            _kv("telemetry.sdk.name", "opentelemetry"),
            _kv("telemetry.sdk.language", self.language),
            _kv("telemetry.sdk.version", sdk_version),
        ]


class Span:
    """A span under construction; attributes stay a plain dict until :func:`encode`."""

    __slots__ = (
        "attrs",
        "end",
        "events",
        "kind",
        "message",
        "name",
        "parent_id",
        "scope",
        "service",
        "span_id",
        "start",
        "status",
        "trace_id",
    )

    def __init__(
        self,
        trace_id: str,
        span_id: str,
        parent_id: str,
        service: Service,
        scope: Scope,
        name: str,
        kind: int,
        start: int,
        attrs: dict[str, Any],
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.service = service
        self.scope = scope
        self.name = name
        self.kind = kind
        self.start = start
        self.end = start
        self.attrs = attrs
        self.events: list[dict[str, Any]] = []
        self.status = UNSET
        self.message = ""


@dataclass(slots=True)
class Failure:
    """A request that failed, as its caller sees it: what to record and who really caused it."""

    status: int | None
    """HTTP status the caller received; None when no response came (timeout, refused)."""
    etype: str
    """``error.type`` / exception type the caller records."""
    message: str
    tag: str
    """Who caused it: ``fault``, ``decoy`` or ``noise``. Never written into the traces; it only
    lets the label tell the injected failures from the background ones."""
    retryable: bool = True


@dataclass(slots=True)
class Trace:
    """One trace being built: its id, clock, spans, and the per-trace facts faults act on."""

    rng: random.Random
    trace_id: str
    now: int
    services: dict[str, Service]
    """service name -> the deployed version this trace's request reaches."""
    hit: bool = False
    """The injected fault acts on this trace wherever the request reaches the fault's site (the
    label counts the trace as hit only if it left an origin span)."""
    exposed: bool = False
    """The trace carries the fault's fingerprint (a canary version...), hit or not."""
    decoy: bool = False
    """The case's decoy anomaly touches this trace."""
    attempt: int = 0
    """Attempts at the fault's site so far (a transient fault fails the first one)."""
    slow: dict[str, float] = field(default_factory=dict)
    """service name -> multiplier on its self time (a latency fault, decoy or noise)."""
    spans: list[Span] = field(default_factory=list)
    origins: list[Span] = field(default_factory=list)
    """Spans where the injected fault originated (the label's ``span_ids``)."""
    ctx: dict[str, Any] = field(default_factory=dict)
    """Scenario values a topology threads through the trace (question, documents, quality...)."""
    _stack: list[Span] = field(default_factory=list)

    def new_id(self) -> str:
        """A fresh 64-bit span id (16 hex digits, never all zeros)."""
        return f"{self.rng.getrandbits(64) | 1:016x}"

    def open(
        self,
        parent: Span | None,
        service: str,
        name: str,
        kind: int,
        scope: Scope,
        attrs: dict[str, Any] | None = None,
    ) -> Span:
        """Start a span of ``service`` (its deployed version for this trace) at the clock."""
        span = Span(
            self.trace_id,
            self.new_id(),
            parent.span_id if parent is not None else "",
            self.services[service],
            scope,
            name,
            kind,
            self.now,
            attrs if attrs is not None else {},
        )
        self.spans.append(span)
        self._stack.append(span)
        return span

    def close(self, span: Span, status: int | None = None) -> Span:
        """End ``span`` at the clock (``status`` OK for instrumentations that set it)."""
        span.end = max(self.now, span.start + 1000)
        if status is not None and span.status == UNSET:
            span.status = status
        if self._stack and self._stack[-1] is span:
            self._stack.pop()
        elif span in self._stack:
            self._stack.remove(span)
        return span

    def work(self, ms: float, spread: float = 0.25) -> None:
        """Spend about ``ms`` of self time in the innermost open span: log-normal jitter, a rare
        heavy-tail stall (GC pause, noisy neighbour: 1 in 128, x3-12), times the service's
        slow-down if any. One draw of 20 random bits feeds all three (generation speed)."""
        bits = self.rng.getrandbits(20)
        factor = math.exp(spread * _NORMAL[bits & 4095])
        if bits >> 13 == 0:
            factor *= 3.0 + 9.0 * (bits & 4095) / 4095
        if self.slow and self._stack:
            factor *= self.slow.get(self._stack[-1].service.name, 1.0)
        self.now += int(ms * factor * MS)

    def wait(self, ms: float) -> None:
        """Advance the clock by exactly ``ms`` (a timeout budget, a backoff)."""
        self.now += int(ms * MS)

    def error(
        self,
        span: Span,
        etype: str,
        message: str,
        *,
        exception: bool = True,
        error_type: str | None = None,
    ) -> None:
        """Mark ``span`` failed: status ERROR with ``message``, ``error.type``, and (unless
        ``exception`` is false) an ``exception`` event with a stack trace in the service's
        language."""
        span.status = ERROR
        span.message = message
        span.attrs["error.type"] = error_type or etype
        if exception:
            span.events.append(
                {
                    "timeUnixNano": str(self.now),
                    "name": "exception",
                    "attributes": [
                        _kv("exception.type", etype),
                        _kv("exception.message", message),
                        _kv("exception.stacktrace", stacktrace(span, etype, message)),
                    ],
                }
            )

    def origin(self, span: Span) -> Span:
        """Record ``span`` as one where the injected fault originated."""
        self.origins.append(span)
        return span


def stacktrace(span: Span, etype: str, message: str) -> str:
    """A plausible stack trace for ``etype`` raised in ``span``'s service, Python or Java style.

    Line numbers come from a checksum of the names, so the same error reads the same every time.
    """
    service = span.service.name
    seed = zlib.crc32(f"{service}/{span.name}/{etype}".encode())
    if span.service.language == "java":
        package = "ts." + service.removeprefix("ts-").removesuffix("-service").replace("-", "")
        cls = "".join(part.title() for part in service.removeprefix("ts-").split("-"))
        frames = [
            f"\tat {package}.service.{cls}Impl.handle({cls}Impl.java:{40 + seed % 180})",
            f"\tat {package}.controller.{cls}Controller.route({cls}Controller.java:{30 + seed % 90})",
            "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:883)",
            "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:162)",
        ]
        return f"{etype}: {message}\n" + "\n".join(frames)
    module = service.replace("-", "_")
    return (
        "Traceback (most recent call last):\n"
        f'  File "/app/{module}/handlers.py", line {20 + seed % 140}, in handle\n'
        f"    result = await self._run(request)\n"
        f'  File "/app/{module}/core.py", line {30 + seed % 260}, in _run\n'
        f"    return await step(payload)\n"
        f"{etype}: {message}\n"
    )


def _kv(key: str, value: Any) -> dict[str, Any]:
    """One OTLP ``KeyValue`` in the JSON mapping."""
    return {"key": key, "value": _any(value)}


def _any(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue`` for a Python value (int64 as a string, as the mapping requires; a
    tuple is an array, tuples rather than lists so that attribute values stay hashable)."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, tuple):
        return {"arrayValue": {"values": [_any(item) for item in value]}}
    raise TypeError(f"unsupported attribute value {value!r}")


def encode(spans: Iterable[Span]) -> bytes:
    """Spans as one OTLP/JSON ``ExportTraceServiceRequest``: one ``resourceSpans`` per service
    version, one ``scopeSpans`` per instrumentation scope, in first-seen order (deterministic).

    Encoded attributes are shared between spans with the same key and value (orjson writes a
    shared dict as often as it is referenced), which keeps encoding cheap."""
    groups: dict[Service, dict[Scope, list[dict[str, Any]]]] = {}
    cache: dict[tuple[str, Any], dict[str, Any]] = {}
    for span in spans:
        attributes = []
        append = attributes.append
        for item in span.attrs.items():
            kv = cache.get(item)
            if kv is None:
                kv = cache[item] = _kv(*item)
            append(kv)
        if span.parent_id:
            record: dict[str, Any] = {
                "traceId": span.trace_id,
                "spanId": span.span_id,
                "parentSpanId": span.parent_id,
                "name": span.name,
                "kind": span.kind,
                "startTimeUnixNano": str(span.start),
                "endTimeUnixNano": str(span.end),
                "attributes": attributes,
            }
        else:
            record = {
                "traceId": span.trace_id,
                "spanId": span.span_id,
                "name": span.name,
                "kind": span.kind,
                "startTimeUnixNano": str(span.start),
                "endTimeUnixNano": str(span.end),
                "attributes": attributes,
            }
        if span.events:
            record["events"] = span.events
        if span.status == ERROR:
            record["status"] = {"code": ERROR, "message": span.message}
        elif span.status == OK:
            record["status"] = _STATUS_OK
        else:
            record["status"] = _STATUS_UNSET
        scopes = groups.get(span.service)
        if scopes is None:
            scopes = groups[span.service] = {}
        records = scopes.get(span.scope)
        if records is None:
            records = scopes[span.scope] = []
        records.append(record)
    resource_spans = [
        {
            "resource": {"attributes": service.resource_attributes()},
            "scopeSpans": [
                {"scope": {"name": scope.name, "version": scope.version}, "spans": records}
                for scope, records in scopes.items()
            ],
        }
        for service, scopes in groups.items()
    ]
    return orjson.dumps({"resourceSpans": resource_spans})


_STATUS_OK = {"code": OK}
_STATUS_UNSET: dict[str, Any] = {}
