"""General OpenTelemetry semantic conventions norecur reads (resource, HTTP, exceptions, users)."""

from __future__ import annotations

__all__ = [
    "ENDUSER_ID",
    "EXCEPTION_EVENT",
    "EXCEPTION_TYPE",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_STATUS_CODE",
    "SERVICE_NAME",
]

SERVICE_NAME = "service.name"
"""Resource attribute: the logical name of the service that emitted the spans."""

HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
"""HTTP response status code. Replaces :data:`HTTP_STATUS_CODE`."""

HTTP_STATUS_CODE = "http.status_code"
"""Deprecated name of :data:`HTTP_RESPONSE_STATUS_CODE`."""

ENDUSER_ID = "enduser.id"
"""Id of the end user (older general convention; OpenInference says ``user.id``)."""

EXCEPTION_EVENT = "exception"
"""Name of the span event that records an exception."""

EXCEPTION_TYPE = "exception.type"
"""Attribute of an exception event: the exception's fully qualified type."""
