"""The analyzer interface and the registry of analyzers.

An analyzer keeps a scikit-learn-like contract: every parameter is a keyword argument of
``__init__`` stored verbatim under its own name (so :meth:`Analyzer.get_params` can print it
exactly, and a report can say how it was configured); state learned from data lives in attributes
whose names end in ``_``; and one public method, :meth:`Analyzer.analyze`, takes the canonical span
table and returns ranked :class:`~norecur.rca.Candidate` objects. The base owns what every analyzer
must get right the same way: input order does not matter, empty input gives nothing, and ranking
has explicit tie-breaks.
"""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar, Self

import pyarrow as pa

from norecur.errors import PluginError
from norecur.rca._evidence import Candidate

__all__ = [
    "ENTRY_POINT_GROUP",
    "SORT_KEYS",
    "Analyzer",
    "AnalyzerRegistry",
    "Context",
    "default_analyzers",
    "is_sorted",
    "sort_spans",
]

ENTRY_POINT_GROUP = "norecur.rca_analyzers"
SORT_KEYS = (("trace_id", "ascending"), ("start_ns", "ascending"), ("span_id", "ascending"))
"""The order rows are handed to :meth:`Analyzer._analyze` in, whatever order they came in."""
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SORTED_KEY = b"norecur.sorted_by"
_SORTED_VALUE = ",".join(f"{key} {order}" for key, order in SORT_KEYS).encode()


@dataclass(frozen=True, slots=True)
class Context:
    """What else was observed in the window the spans come from, for analyzers that use it."""

    logs: pa.Table | None = None
    """Log lines (the ``logs`` reader's table), joinable to spans by trace and span id."""
    metrics: pa.Table | None = None
    """Per-service metric series (the ``metric-csv`` reader's long table)."""
    kpis: pa.Table | None = None
    """KPI series: ``time_ns``, ``kpi``, ``value`` and ``attributes`` (labels as JSON)."""
    records: pa.Table | None = None
    """Request-level rows: ``time_ns``, dimension columns and numeric measure columns."""
    events: pa.Table | None = None
    """Change events (deploys, prompt, model, config and index changes): ``EVENT_SCHEMA``."""

    def is_empty(self) -> bool:
        """True when none of the tables holds a row."""
        return all(
            table is None or table.num_rows == 0
            for table in (self.logs, self.metrics, self.kpis, self.records, self.events)
        )


class Analyzer(ABC):
    """Base of every RCA analyzer. Subclasses set ``name``, write the docstring (their user
    documentation), take their parameters as keyword arguments of ``__init__`` stored under the
    same names, and implement :meth:`_analyze`."""

    name: ClassVar[str]

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters and their values, in signature order."""
        signature = inspect.signature(type(self).__init__)
        return {
            parameter: getattr(self, parameter)
            for parameter, spec in signature.parameters.items()
            if parameter != "self" and spec.kind is not inspect.Parameter.VAR_KEYWORD
        }

    def fit(
        self,
        spans: pa.Table | None = None,
        *,
        logs: pa.Table | None = None,
        metrics: pa.Table | None = None,
        kpis: pa.Table | None = None,
        records: pa.Table | None = None,
        events: pa.Table | None = None,
    ) -> Self:
        """Learn from a fault-free baseline of the same system; returns self.

        The parameters are checked, then :meth:`_fit` learns; an analyzer that needs a baseline
        overrides :meth:`_fit` and stores what it learned in attributes whose names end in
        ``_``.
        """
        self._validate_params()
        context = Context(logs=logs, metrics=metrics, kpis=kpis, records=records, events=events)
        self._fit(spans, context)
        return self

    def _fit(self, spans: pa.Table | None, context: Context) -> None:  # noqa: B027
        """Learn from the baseline ``spans`` and ``context``; the base learns nothing (most
        analyzers need no baseline, so this is a hook, not an abstract method)."""

    def analyze(
        self,
        spans: pa.Table,
        *,
        logs: pa.Table | None = None,
        metrics: pa.Table | None = None,
        kpis: pa.Table | None = None,
        records: pa.Table | None = None,
        events: pa.Table | None = None,
    ) -> list[Candidate]:
        """Candidates for the root cause in ``spans`` (the canonical span table), ranked.

        ``logs``, ``metrics``, ``kpis``, ``records`` and ``events``, when given, are what else
        was observed in the same window (:class:`Context`); analyzers that do not use them
        ignore them. Rows are sorted by
        :data:`SORT_KEYS` before the analyzer sees them, so the input order does not matter. The
        result is ordered by trace id, then rank; within a trace, rank 1 is the highest score,
        ties going to the earlier step (an error propagates forward, so of two equally suspect
        steps the earlier is the likelier origin), then to the span id.
        """
        self._validate_params()
        context = Context(logs=logs, metrics=metrics, kpis=kpis, records=records, events=events)
        if spans.num_rows == 0 and context.is_empty():
            return []
        ordered = spans if is_sorted(spans) else sort_spans(spans)
        candidates = sorted(self._analyze(ordered, context), key=_order)
        rank, trace = 0, None
        for candidate in candidates:
            rank = rank + 1 if candidate.trace_id == trace else 1
            trace = candidate.trace_id
            # the candidate was made here, by this call's analyzer: setting its rank in place
            # is safe and, over a hundred thousand candidates, far cheaper than replace()
            object.__setattr__(candidate, "rank", rank)
        return candidates

    def _validate_params(self) -> None:
        """Raise for a parameter the analyzer cannot use: checked at :meth:`analyze`, not in
        ``__init__``, so that ``__init__`` only stores. The base checks that every parameter was
        stored under its own name; subclasses extend it to check values."""
        signature = inspect.signature(type(self).__init__)
        missing = [name for name in list(signature.parameters)[1:] if not hasattr(self, name)]
        if missing:
            raise TypeError(f"{type(self).__name__} does not store {', '.join(missing)}")

    @abstractmethod
    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        """Candidates (rank left 0) for ``spans``, sorted by :data:`SORT_KEYS` (empty only when
        ``context`` is not)."""

    @classmethod
    def summary(cls) -> str:
        """The docstring's first line."""
        return (cls.__doc__ or "").strip().split("\n", 1)[0]

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"


def sort_spans(spans: pa.Table) -> pa.Table:
    """``spans`` in :data:`SORT_KEYS` order, marked so that analyzers do not sort it again."""
    ordered = spans.sort_by(list(SORT_KEYS))
    metadata = {**(ordered.schema.metadata or {}), _SORTED_KEY: _SORTED_VALUE}
    return ordered.replace_schema_metadata(metadata)


def is_sorted(spans: pa.Table) -> bool:
    """Whether ``spans`` came from :func:`sort_spans` (and so is in :data:`SORT_KEYS` order)."""
    return (spans.schema.metadata or {}).get(_SORTED_KEY) == _SORTED_VALUE


def _order(candidate: Candidate) -> tuple[Any, ...]:
    step = candidate.step if candidate.step is not None else -1
    return (candidate.trace_id, -candidate.score, step, candidate.span_id, candidate.component)


class AnalyzerRegistry:
    """Analyzers by name. Refuses malformed and duplicate names and missing docstrings; records
    plugins that fail to load."""

    def __init__(self) -> None:
        self._analyzers: dict[str, type[Analyzer]] = {}
        self.broken: list[PluginError] = []
        """Plugins that failed to load, reported by name and skipped."""

    def register(self, analyzer: type[Analyzer]) -> type[Analyzer]:
        """Add ``analyzer``; usable as a class decorator."""
        if not (isinstance(analyzer, type) and issubclass(analyzer, Analyzer)):
            raise ValueError(f"{analyzer!r} is not a subclass of norecur.rca.Analyzer")
        name = getattr(analyzer, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{analyzer.__name__}: name {name!r} must be lower-kebab-case")
        if name in self._analyzers:
            raise ValueError(f"{analyzer.__name__}: analyzer name {name!r} is already taken")
        if not (analyzer.__doc__ or "").strip():
            raise ValueError(f"{analyzer.__name__}: an analyzer's docstring is its user doc")
        self._analyzers[name] = analyzer
        return analyzer

    def __iter__(self) -> Iterator[type[Analyzer]]:
        return iter(sorted(self._analyzers.values(), key=lambda analyzer: analyzer.name))

    def __len__(self) -> int:
        return len(self._analyzers)

    def __contains__(self, name: object) -> bool:
        return name in self._analyzers

    def get(self, name: str) -> type[Analyzer] | None:
        """The analyzer called ``name``, or None."""
        return self._analyzers.get(name)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register the analyzer classes each entry point of ``group`` resolves to (a sequence).

        A plugin that fails to import or register is recorded in :attr:`broken` and skipped.
        """
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            added: list[type[Analyzer]] = []
            try:
                for analyzer in entry_point.load():
                    self.register(analyzer)
                    added.append(analyzer)
            except Exception as exc:  # a broken plugin must not take analysis down
                for analyzer in added:
                    self._analyzers.pop(analyzer.name, None)
                self.broken.append(
                    PluginError(f"rca analyzer plugin {entry_point.name!r} failed to load: {exc}")
                )


_DEFAULT: AnalyzerRegistry | None = None


def default_analyzers() -> AnalyzerRegistry:
    """The registry of built-in and plugin analyzers, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        from norecur.rca.analyzers import ANALYZERS

        registry = AnalyzerRegistry()
        registry.load_entry_points()
        for analyzer in ANALYZERS:  # built-ins, when the entry points are not installed
            if analyzer.name not in registry:
                registry.register(analyzer)
        _DEFAULT = registry
    return _DEFAULT
