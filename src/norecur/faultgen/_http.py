"""Remote calls between services: the CLIENT span, the callee's SERVER span, retries, timeouts.

These helpers are where failures travel: a callee's failure becomes the client span's HTTP status
(``error.type`` set to the status code, as the HTTP semantic conventions say, and no exception
event, as HTTP client instrumentations do), a slow callee becomes a client-side timeout, and a
retry policy either swallows the failure (the next attempt succeeds) or hands it to the caller,
who raises its own, more generic error.
"""

from __future__ import annotations

from collections.abc import Callable

from norecur.faultgen._trace import CLIENT, ERROR, MS, SERVER, Failure, Scope, Span, Trace

__all__ = [
    "FASTAPI",
    "HTTPX",
    "JAVA_CLIENT",
    "JAVA_SERVER",
    "NOISE_RATE",
    "Handler",
    "blame",
    "call",
    "fail",
    "raise_from",
    "serve",
]

FASTAPI = Scope("opentelemetry.instrumentation.fastapi", "0.50b0")
HTTPX = Scope("opentelemetry.instrumentation.httpx", "0.50b0")
JAVA_SERVER = Scope("io.opentelemetry.tomcat-10.0", "2.10.0-alpha")
JAVA_CLIENT = Scope("io.opentelemetry.spring-web-6.0", "2.10.0-alpha")

NOISE_RATE = 0.0015
"""Chance that any one request to any service fails for an unrelated, transient reason (a reset
connection, a pool hiccup), in the baseline as in the incident."""
_BACKGROUND = {
    "python": (
        ("ConnectionResetError", "[Errno 104] Connection reset by peer"),
        ("sqlalchemy.exc.OperationalError", "server closed the connection unexpectedly"),
        ("anyio.BrokenResourceError", "stream closed while sending the response"),
    ),
    "java": (
        ("java.io.IOException", "Broken pipe"),
        ("org.springframework.dao.QueryTimeoutException", "Query timed out after 1000ms"),
        ("java.lang.IllegalStateException", "Connection pool shut down"),
    ),
}

Handler = Callable[[Trace, Span], Failure | None]
"""Runs inside a SERVER span (given) and returns the failure it answers with, or None."""

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def blame(t: Trace) -> str:
    """Who a slowness-driven failure (a timeout) in ``t`` is charged to: the fault if it acted in
    this trace, else the decoy if it touched it, else background noise."""
    if t.origins:
        return "fault"
    return "decoy" if t.decoy else "noise"


def fail(t: Trace, span: Span, etype: str, message: str, tag: str, status: int = 500) -> Failure:
    """Raise ``etype`` in ``span`` (status ERROR, exception event) and answer ``status``."""
    t.error(span, etype, message)
    return Failure(status, etype, message, tag)


def raise_from(
    t: Trace, span: Span, cause: Failure, etype: str, message: str, status: int = 500
) -> Failure:
    """The caller's own, more generic error for a failed dependency, keeping who caused it."""
    t.error(span, etype, message)
    return Failure(status, etype, message, cause.tag, cause.retryable)


def call(
    t: Trace,
    parent: Span,
    service: str,
    peer: str,
    method: str,
    path: str,
    handler: Callable[[Trace, Span], Failure | None],
    *,
    retries: int = 0,
    timeout_ms: float | None = None,
    backoff_ms: float = 150.0,
    java: bool = False,
    bare: bool = False,
) -> Failure | None:
    """``service`` calls ``peer``: one CLIENT span per attempt, each wrapping ``handler`` (which
    opens the callee's SERVER span). Returns the failure of the last attempt, or None.

    A timeout cuts the client span at ``timeout_ms`` (``error.type=timeout``) while the callee's
    spans run on, as they do in a real system. Retries wait an exponential backoff and carry
    ``http.request.resend_count``. ``bare`` leaves out the CLIENT spans (a caller whose HTTP
    library is not instrumented: the callee's SERVER spans hang directly under ``parent``, one
    per attempt, and the caller records the outcome on ``parent`` itself).
    """
    scope = JAVA_CLIENT if java else HTTPX
    url = f"http://{peer}:8080{path}"
    failure: Failure | None = None
    for attempt in range(retries + 1):
        start = t.now
        if bare:
            span = parent
        else:
            attrs: dict[str, object] = {
                "http.request.method": method,
                "server.address": peer,
                "server.port": 8080,
                "url.full": url,
            }
            if attempt:
                attrs["http.request.resend_count"] = attempt
            span = t.open(parent, service, method, CLIENT, scope, attrs)
        t.work(0.35, 0.3)
        failure = handler(t, span)
        t.work(0.25, 0.3)
        if timeout_ms is not None and t.now - start > timeout_ms * MS:
            t.now = start + int(timeout_ms * MS)
            message = "Read timed out" if java else "timed out"
            if not bare:
                etype = "java.net.SocketTimeoutException" if java else "httpx.ReadTimeout"
                t.error(span, etype, message, error_type="timeout")
            failure = Failure(None, "timeout", message, blame(t))
        elif bare:
            pass
        elif failure is None:
            span.attrs["http.response.status_code"] = 200
        elif failure.status is not None:
            span.attrs["http.response.status_code"] = failure.status
            span.status = ERROR
            span.message = f"{failure.status} {_REASONS.get(failure.status, '')}".strip()
            span.attrs["error.type"] = str(failure.status)
        else:
            t.error(span, failure.etype, failure.message)
        if not bare:
            t.close(span)
        if failure is None:
            return None
        retryable = failure.status is None or failure.status in (429, 500, 502, 503, 504)
        if attempt == retries or not (failure.retryable and retryable):
            return failure
        t.wait(backoff_ms * (2**attempt) * t.rng.uniform(0.8, 1.3))
    return failure


def serve(
    t: Trace,
    parent: Span,
    service: str,
    method: str,
    route: str,
    handler: Handler,
    *,
    path: str | None = None,
    java: bool = False,
) -> Failure | None:
    """The callee's SERVER span around ``handler``; sets the response status (5xx is ERROR,
    4xx stays UNSET per the HTTP semantic conventions) and passes the failure back."""
    scope = JAVA_SERVER if java else FASTAPI
    span = t.open(
        parent,
        service,
        f"{method} {route}",
        SERVER,
        scope,
        {
            "http.request.method": method,
            "http.route": route,
            "url.path": path or route,
            "url.scheme": "http",
            "network.protocol.version": "1.1",
        },
    )
    t.work(0.25, 0.3)
    if t.ctx.get("decoy_errors") == service:
        t.ctx["decoy_errors"] = ""
        failure = _background(t, span, "decoy")
    elif t.rng.random() < NOISE_RATE:
        failure = _background(t, span, "noise")
    else:
        failure = handler(t, span)
    t.work(0.2, 0.3)
    status = 200 if failure is None else (failure.status or 500)
    span.attrs["http.response.status_code"] = status
    if failure is not None:
        failure.status = status
        if status >= 500 and span.status != ERROR:
            span.status = ERROR
            span.message = failure.message
            span.attrs["error.type"] = str(status)
    t.close(span)
    return failure


def _background(t: Trace, span: Span, tag: str) -> Failure:
    """An unrelated transient failure inside ``span`` (noise or the case's decoy)."""
    etype, message = t.rng.choice(_BACKGROUND[span.service.language])
    t.work(1.0, 0.5)
    return fail(t, span, etype, message, tag, t.rng.choice((500, 503)))
