"""Every error norecur raises on purpose derives from :class:`NorecurError`.

The tree::

    NorecurError                 anything norecur reports as "error: ..." (CLI exit code 2)
    ├── ConfigError              a configuration file or option is invalid
    ├── DocumentError            a postmortem file cannot be read as a postmortem
    │   └── FrontMatterError     its YAML front matter is missing, malformed or of the wrong shape
    ├── PluginError              a registered plugin (rule, reader, ...) failed to load
    ├── StoreError               the store cannot be opened, migrated or written (URL, connection,
    │                            a schema newer than this norecur)
    └── TelemetryError           a trace or log file cannot be read, or one record of it is
                                 malformed (``field`` holds the record: ``resourceSpans[0].
                                 scopeSpans[1].spans[7]``; ``line`` the JSON Lines line)

Two errors of :mod:`norecur.rca.kpi.drift` join this tree from below: ``DriftError``
(``NorecurError`` and ``ValueError``: a bad argument to a drift comparison) and ``SnapshotError``
(``DriftError`` and ``TelemetryError``: a data snapshot cannot be read); and
``norecur.investigate.IncidentError`` (``NorecurError``: an alert payload or incident file
cannot be read, ``field`` naming the JSON path).

Each error carries where it happened (``path``, ``line``, ``field``) so that one line can tell a
person what to fix, and :meth:`NorecurError.one_line` renders that line.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DocumentError",
    "FrontMatterError",
    "NorecurError",
    "PluginError",
    "StoreError",
    "TelemetryError",
    "escape_controls",
]


def escape_controls(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x1b``, ``\\u2028``), so
    it prints as one line and cannot drive a terminal."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


class NorecurError(Exception):
    """Root of norecur's errors: a message plus the place it concerns."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.field = field

    def one_line(self) -> str:
        """``path:line: field: message``, leaving out the parts that are unknown."""
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        # One line, whatever the message holds: control characters from hostile input are escaped.
        return escape_controls(f"{where}{field}{self.message}")

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(NorecurError):
    """A configuration file or option is invalid."""


class DocumentError(NorecurError):
    """A postmortem file cannot be read as a postmortem (encoding, size, binary, structure)."""


class FrontMatterError(DocumentError):
    """The YAML front matter is missing, malformed, or a value has the wrong type."""


class PluginError(NorecurError):
    """A plugin registered through an entry point failed to load."""


class StoreError(NorecurError):
    """The store cannot be opened, migrated or written: a bad URL, an unreachable database, or a
    schema newer than this version of norecur knows."""


class TelemetryError(NorecurError):
    """A telemetry file (traces, logs) cannot be read, or one of its records is malformed.

    ``path`` names the file, ``line`` the JSON Lines line (when the format has lines) and ``field``
    the record inside it, as an index path such as ``resourceSpans[0].scopeSpans[0].spans[3]``.
    A reader raises it for a file it cannot read at all and lists it in its ``ReadReport`` for a
    record it skipped."""
