"""``spectrum``: which service, operation, model, tool or prompt version the failing traces share
and the passing ones avoid (spectrum-based fault localization over a window of traces)."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import SCORE_DIGITS, Candidate, Evidence
from norecur.rca._signals import JUDGE_KINDS, failed_traces, span_failures
from norecur.rca.analyzers.latency import WINDOW

__all__ = [
    "COVERAGES",
    "DIMENSIONS",
    "FORMULAS",
    "ORIGIN",
    "PROMPT_NAME",
    "PROMPT_TEMPLATE_VERSION",
    "PROMPT_VERSION",
    "SpectrumLocalizer",
]

FORMULAS = ("ochiai", "tarantula", "dstar")
"""Values of :attr:`SpectrumLocalizer.formula`."""
COVERAGES = ("trace", "failed-span")
"""Values of :attr:`SpectrumLocalizer.coverage`."""
DIMENSIONS = ("service", "model", "tool", "prompt_version", "attribute", "operation")
"""The kinds of program element (evidence kinds are ``spectrum_<dimension>``), in the order that
names a service when several of its elements are equally suspicious: the service itself first,
since a finer element that covers the same traces (the one model a service calls) says nothing
more, and naming it would suggest a concentration that is not there; then the configuration
values a change touches (model, tool, prompt version, attribute), then the operation that
carries them."""
PROMPT_TEMPLATE_VERSION = "llm.prompt_template.version"
"""OpenInference attribute: the version of the prompt template an LLM span rendered."""
PROMPT_NAME = "gen_ai.prompt.name"
"""GenAI (MCP) attribute: the name of the prompt a span used."""
PROMPT_VERSION = "gen_ai.prompt.version"
"""Attribute: the version of the prompt named by :data:`PROMPT_NAME`."""
ORIGIN = "spectrum_origin"
"""Evidence kind of the tie-breaking term (see :class:`SpectrumLocalizer`)."""
_EXAMPLES = 3
"""Example span ids kept per element: spans that failed themselves first."""
_JUMPS = 32
"""Pointer-jumping rounds when measuring depth: enough for a chain of 2**32 spans, and a bound
when a malformed trace's parents form a cycle."""
_FAMILIES = ("service", "operation", "model", "tool", "prompt_version")
"""The element columns of the coded table, ``c0``, ``c1``...; ``attribute_keys`` add one
``attribute`` column each."""

_PARENTS = """
SELECT c.rid, min(p.rid) AS parent
FROM incident AS c LEFT JOIN incident AS p ON p.tidx = c.tidx AND p.span_id = c.parent_span_id
GROUP BY c.rid ORDER BY c.rid
"""
"""The row of each span's parent (null for a root; a duplicated span id resolves to its first
row). ``rid`` is the row number in :data:`~norecur.rca.SORT_KEYS` order, ``tidx`` the trace's
index."""

_ELEMENTS = """
WITH sc AS ({cover}), occ AS (
    {union}
), per_trace AS (
    SELECT family, code, tidx, bool_or(trace_failed) AS tf, bool_or(cover) AS cf,
           bool_or(cover AND failed) AS ff
    FROM occ GROUP BY family, code, tidx
), counts AS (
    SELECT family, code,
           count(*) FILTER (WHERE tf AND cf) AS e_f, count(*) FILTER (WHERE NOT tf) AS e_p,
           count(*) FILTER (WHERE tf AND ff) AS e_self
    FROM per_trace GROUP BY family, code HAVING count(*) FILTER (WHERE tf AND cf) > 0
), owners AS (
    SELECT family, code, comp, count(*) AS n, sum(depth)::BIGINT AS depth
    FROM occ GROUP BY family, code, comp
), examples AS (
    SELECT family, code,
           min_by(rid, rid + CASE WHEN failed THEN 0 ELSE $rows END, {examples}) AS examples
    FROM occ WHERE cover GROUP BY family, code
)
SELECT c.family, c.code, c.e_f, c.e_p, c.e_self, o.comp, o.n, o.depth, x.examples
FROM counts AS c JOIN owners AS o USING (family, code) JOIN examples AS x USING (family, code)
ORDER BY c.family, c.code, o.comp
"""
"""Per program element (family, code) that a failing trace covers: e_f, e_p, e_self (failing
traces in which a span of it failed itself), example rows from the failing traces it is counted
in (spans that failed themselves first), and per service its span count and summed depth."""
_COVER_TRACE = "SELECT *, trace_failed AS cover FROM codes"
_COVER_FAILED_SPAN = """
SELECT c.*, c.trace_failed AND (c.failed OR NOT t.located) AS cover
FROM codes AS c JOIN (SELECT tidx, bool_or(located) AS located FROM codes GROUP BY tidx) AS t
  USING (tidx)
"""
_OCCURRENCE = (
    "SELECT {family} AS family, c{family}::BIGINT AS code, comp, tidx, rid, failed, trace_failed, "
    "cover, depth FROM sc WHERE c{family} IS NOT NULL AND comp IS NOT NULL"
)


@dataclass(frozen=True, slots=True)
class _Element:
    """One program element: its spectrum, where it runs, and its suspiciousness."""

    dimension: str
    scope: str
    value: str
    component: str
    e_f: int
    e_p: int
    e_self: int
    depth: float
    examples: tuple[str, ...]
    suspiciousness: float = 0.0

    @property
    def origin(self) -> float:
        """How much the element looks like the origin of the failures it shares: half the
        share of its failing traces in which it failed itself, half its mean call depth ``d``
        as ``d / (1 + d)`` (0 at the root)."""
        raised = self.e_self / self.e_f if self.e_f else 0.0
        return round(0.5 * raised + 0.5 * self.depth / (1.0 + self.depth), SCORE_DIGITS)

    def label(self) -> str:
        """How a reason names the element."""
        if self.dimension == "operation":
            return f"operation {self.value!r} of {self.scope}"
        if self.dimension == "attribute":
            return f"{self.scope}={self.value}"
        return f"{self.dimension.replace('_', ' ')} {self.value}"

    def order(self) -> tuple[Any, ...]:
        """Most suspect first; ties in :data:`DIMENSIONS` order, then to the likelier origin,
        then by name."""
        return (
            -self.suspiciousness,
            DIMENSIONS.index(self.dimension),
            -self.origin,
            self.scope,
            self.value,
        )


class SpectrumLocalizer(Analyzer):
    """Ranks services by how well their program elements separate failing from passing traces.

    Spectrum-based fault localization (SBFL) over a window of many traces. Each trace is a test
    run: it *fails* by the shared definition in :mod:`norecur.rca._signals` (a failed root, or a
    failed guardrail or evaluator span; logs, when given, count). Its *coverage* is the set of
    program elements it executed, in six dimensions:

    - ``service``: the span's ``service``, else its ``agent_name``, else its name;
    - ``operation``: the span name within its service;
    - ``model``: ``response_model``, else ``request_model``;
    - ``tool``: ``tool_name``;
    - ``prompt_version``: ``llm.prompt_template.version`` (OpenInference), or
      ``gen_ai.prompt.name`` with ``gen_ai.prompt.version`` (written ``name@version``);
    - ``attribute``: the value of each key in ``attribute_keys`` (a data source, an index
      version...), written ``key=value``.

    For every element, ``e_f`` and ``e_p`` count the failing and passing traces that cover it, out
    of ``n_f`` failing and ``n_p`` passing traces, and ``formula`` turns them into a
    suspiciousness in 0..1:

    - ``ochiai`` (Abreu, Zoeteweij, van Gemund 2006, "An evaluation of similarity coefficients
      for software fault localization"): ``e_f / sqrt(n_f * (e_f + e_p))``. The default: in
      their evaluation it localized better than Tarantula and Jaccard, and it has no parameter.
    - ``tarantula`` (Jones, Harrold 2005, "Empirical evaluation of the Tarantula automatic
      fault-localization technique"): ``(e_f/n_f) / (e_f/n_f + e_p/n_p)``. It compares ratios
      only, so an element that one failing trace and no passing one covers scores 1, however
      rare: noisy when failures are few.
    - ``dstar`` (Wong, Debroy, Gao, Li 2014, "The DStar method for effective software fault
      localization"): ``D = e_f^k / (e_p + n_f - e_f)`` with ``k = dstar_power`` (2 by default,
      as in most of the paper's experiments; a larger ``k`` weighs ``e_f`` more). ``D`` is
      unbounded, so the value is ``D`` divided by its largest value over the window's elements:
      the most suspect element scores 1, the others the fraction of it they reach. A perfect
      separator (every failing trace and no passing one covers it) has a zero denominator, read
      as 1/2: less than the least non-zero denominator (1), so it stays above every other
      element, as DStar's infinity says, and scores 1.

    With ``relative=True`` (what ``norecur rca`` uses; classic SBFL, the default, does not) the
    value is what the element has beyond an element
    that every trace covers, which carries no information (its suspiciousness ``s0`` is
    ``sqrt(n_f / (n_f + n_p))`` for Ochiai, 1/2 for Tarantula)::

        value = max(0, (s - s0) / (1 - s0))

    so the frontend every request passes through scores 0, not the 0.6 raw Ochiai gives it when
    a third of the traces fail, and a combiner reading scores as evidence is not misled.

    ``coverage`` says when a failing trace covers an element. With ``"trace"`` (the default) it
    does when it executed a span of the element: classic SBFL. With ``"failed-span"`` it does
    only when a span of the element itself failed (``span_failures``), so a sibling that ran
    beside the failure is not blamed; a failing trace in which nothing below the root failed but
    a guardrail or evaluator (a wrong answer, no call raised) still covers all it executed, since
    then the run itself is the only evidence. The default is ``"trace"`` because in agent runs a
    fault often surfaces downstream of its element, not in it: a bad prompt version makes the
    model emit bad tool arguments, and the *tool* span fails; span coverage then blames the tool,
    trace coverage the prompt version. Use ``"failed-span"`` for services that raise where they
    break and pass the error up to their callers.

    SBFL's known weakness is that every caller of a faulty element covers the same failing
    traces as the element, and an element on every trace (the frontend, the root agent) ties
    with a faulty one that is on every trace too: their spectra are identical, so no formula can
    tell them apart. The tie rule reads the call tree instead: of equally suspicious elements,
    the likelier origin ranks first, by its *origin* value in 0..1::

        origin = 0.5 * e_self / e_f + 0.5 * d / (1 + d)

    where ``e_self`` counts the failing traces in which a span of the element itself failed and
    ``d`` is the mean depth of the element's spans (the root is 0). An error propagates up, so
    its origin is the deepest element that failed: callers that passed it on fail as well but
    sit higher, and a sibling that merely ran beside it did not fail. Of two elements that never
    failed (a silent fault), the deeper, being more specific, goes first.

    Candidates are window-level (every trace id is ``"*"``), one per service owning at least one
    element a failing trace covers; a model, tool, prompt version or attribute belongs to the
    service owning most of the spans that carry it. A service is as suspect as its most suspect
    element, so its score is::

        w_suspiciousness * suspiciousness(top element) + w_origin * origin(top element)

    with ``w_origin`` tiny (1e-6), so that the origin value only orders equal suspiciousness
    (summing the elements instead would favour services with more operations). A service's top
    element is its most suspicious one, ties going in :data:`DIMENSIONS` order (the service
    itself first: a finer element leads only when it is more suspicious), then by origin, then
    by name. The evidence is one item ``spectrum_<dimension>`` per element of the service, the
    most suspect first (at most ``max_evidence``; only the first is weighted, the others carry
    weight 0 and show what else of the service is suspect), each quoting ``e_f/n_f``,
    ``e_p/n_p`` and the formula, with up to 3 example span ids from the failing traces it is
    counted in (spans that failed themselves first, then in trace and start order); then one
    ``spectrum_origin`` item for the top element. Candidates with equal scores are ordered by
    span id, as for every analyzer.

    SBFL needs both outcomes: with no failing trace, or no passing trace, there is nothing to
    contrast and the result is empty. The analyzer learns nothing (``fit`` is the base's) and
    runs in DuckDB over integer codes of the elements, single-threaded so that the same input
    gives the same output.

    Options: ``formula``, ``dstar_power`` (``k`` above, > 0), ``coverage``, ``attribute_keys``
    (a tuple of extra attribute keys whose values are elements), ``max_evidence`` (element
    items per candidate, >= 1), ``w_suspiciousness`` and ``w_origin`` (>= 0).
    """

    name = "spectrum"

    def __init__(
        self,
        *,
        formula: str = "ochiai",
        dstar_power: float = 2.0,
        coverage: str = "trace",
        attribute_keys: tuple[str, ...] = (),
        max_evidence: int = 5,
        relative: bool = False,
        w_suspiciousness: float = 1.0,
        w_origin: float = 1e-6,
    ) -> None:
        self.formula = formula
        self.dstar_power = dstar_power
        self.coverage = coverage
        self.attribute_keys = attribute_keys
        self.max_evidence = max_evidence
        self.relative = relative
        self.w_suspiciousness = w_suspiciousness
        self.w_origin = w_origin

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.formula not in FORMULAS:
            raise ValueError(f"formula must be one of {', '.join(FORMULAS)}, not {self.formula!r}")
        if self.coverage not in COVERAGES:
            raise ValueError(
                f"coverage must be one of {', '.join(COVERAGES)}, not {self.coverage!r}"
            )
        if not _number(self.dstar_power) or not self.dstar_power > 0:
            raise ValueError(f"dstar_power must be a number > 0, not {self.dstar_power!r}")
        if not isinstance(self.attribute_keys, tuple) or not all(
            isinstance(key, str) and key and '"' not in key and "\\" not in key
            for key in self.attribute_keys
        ):
            raise ValueError(
                "attribute_keys must be a tuple of non-empty attribute keys without quotes or "
                f"backslashes, not {self.attribute_keys!r}"
            )
        if not isinstance(self.relative, bool):
            raise ValueError(f"relative must be True or False, not {self.relative!r}")
        if isinstance(self.max_evidence, bool) or not isinstance(self.max_evidence, int):
            raise ValueError(f"max_evidence must be an integer >= 1, not {self.max_evidence!r}")
        if self.max_evidence < 1:
            raise ValueError(f"max_evidence must be an integer >= 1, not {self.max_evidence!r}")
        for name in ("w_suspiciousness", "w_origin"):
            value = getattr(self, name)
            if not _number(value) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, not {value!r}")

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        if spans.num_rows == 0:
            return []
        trace_ids = spans["trace_id"].combine_chunks()
        tidx, firsts = _trace_index(trace_ids)
        failing = failed_traces(spans, context.logs)
        trace_failed = pc.is_in(
            pc.take(trace_ids, firsts), value_set=pa.array(sorted(failing), pa.string())
        )
        n_f = len(failing)
        n_p = len(firsts) - n_f
        if n_f == 0 or n_p == 0:
            return []
        rows = _row_numbers(spans.num_rows)
        ids = pa.table(
            {
                "rid": rows,
                "tidx": tidx,
                "span_id": spans["span_id"],
                "parent_span_id": spans["parent_span_id"],
                "attributes": spans["attributes"],
            }
        )
        failed = span_failures(spans, context.logs)["failed"]
        connection = duckdb.connect()
        try:
            connection.execute("SET threads TO 1")  # aggregates in one order: the same bytes
            # the extraction below has no ORDER BY: its rows must come back in input order
            connection.execute("SET preserve_insertion_order = true")
            connection.register("incident", ids)
            depth = _depths(connection.sql(_PARENTS).to_arrow_table()["parent"].combine_chunks())
            extracted = connection.sql(self._extract_sql(), params=self._extract_params())
            values = [column.combine_chunks() for column in extracted.to_arrow_table().columns]
            connection.unregister("incident")
            dictionaries, codes = _encode(spans, values)
            judge = pc.fill_null(
                pc.is_in(spans["span_kind_ai"], value_set=pa.array(JUDGE_KINDS, pa.string())),
                False,
            )
            located = pc.and_(pc.and_(failed, pc.greater(depth, 0)), pc.invert(judge))
            codes.update(
                rid=rows,
                tidx=tidx,
                failed=failed,
                trace_failed=pc.take(trace_failed, tidx),
                depth=depth,
                located=located,
            )
            connection.register("codes", pa.table(codes))
            found = connection.sql(
                self._elements_sql(len(dictionaries)), params={"rows": spans.num_rows}
            ).to_arrow_table()
        finally:
            connection.close()
        span_ids = spans["span_id"]
        elements = self._score(
            _elements(found, dictionaries, span_ids, self.attribute_keys), n_f, n_p
        )
        by_service: dict[str, list[_Element]] = defaultdict(list)
        for element in elements:
            if element.suspiciousness > 0:  # relative scores leave uninformative elements at 0
                by_service[element.component].append(element)
        return [
            self._candidate(service, sorted(found, key=_Element.order), n_f, n_p)
            for service, found in sorted(by_service.items())
        ]

    def _score(self, elements: list[_Element], n_f: int, n_p: int) -> list[_Element]:
        """``elements`` with their suspiciousness in 0..1 (see the class docstring)."""
        if self.formula == "ochiai":
            raw = [e.e_f / math.sqrt(n_f * (e.e_f + e.e_p)) for e in elements]
        elif self.formula == "tarantula":
            raw = [(e.e_f / n_f) / (e.e_f / n_f + e.e_p / n_p) for e in elements]
        else:
            raw = [
                float(e.e_f) ** self.dstar_power / ((e.e_p + n_f - e.e_f) or 0.5) for e in elements
            ]
            top = max(raw, default=1.0)
            raw = [value / top for value in raw]
        if self.relative:
            floor = self._uninformative(n_f, n_p, elements)
            raw = [max(0.0, (value - floor) / (1.0 - floor)) if floor < 1 else 0.0 for value in raw]
        return [
            dataclasses.replace(element, suspiciousness=round(value, SCORE_DIGITS))
            for element, value in zip(elements, raw, strict=True)
        ]

    def _uninformative(self, n_f: int, n_p: int, elements: list[_Element]) -> float:
        """The suspiciousness ``formula`` gives an element every trace covers."""
        if self.formula == "ochiai":
            return math.sqrt(n_f / (n_f + n_p))
        if self.formula == "tarantula":
            return 0.5
        top = max(
            (float(e.e_f) ** self.dstar_power / ((e.e_p + n_f - e.e_f) or 0.5) for e in elements),
            default=1.0,
        )
        return (float(n_f) ** self.dstar_power / (n_p or 0.5)) / top

    def _covered(self, element: _Element, n_f: int) -> str:
        """How the failing traces cover ``element``, in words."""
        counted = f"{element.e_f} of {n_f} failing traces"
        if self.coverage == "trace":
            return f"{counted} executed it"
        silent = element.e_f - element.e_self
        if not silent:
            return f"{counted} failed in it"
        if not element.e_self:
            return f"{counted} ran it and failed without a located error"
        return (
            f"{counted} count it ({element.e_self} failed in it, {silent} ran it and failed "
            "without a located error)"
        )

    def _formula(self) -> str:
        if self.formula == "dstar":
            return f"DStar (power {self.dstar_power:g}) relative to the top element"
        return self.formula.capitalize()

    def _candidate(self, service: str, elements: list[_Element], n_f: int, n_p: int) -> Candidate:
        top = elements[0]
        evidence = [
            Evidence(
                kind=f"spectrum_{element.dimension}",
                value=element.suspiciousness,
                weight=self.w_suspiciousness if index == 0 else 0.0,
                reason=(
                    f"{element.label()}: {self._covered(element, n_f)}, "
                    f"{element.e_p} of {n_p} passing traces ran it "
                    f"({self._formula()} {element.suspiciousness:.3f})"
                ),
                span_ids=element.examples,
            )
            for index, element in enumerate(elements[: self.max_evidence])
        ]
        evidence.append(
            Evidence(
                kind=ORIGIN,
                value=top.origin,
                weight=self.w_origin,
                reason=(
                    f"{top.label()} failed itself in {top.e_self} of the {top.e_f} failing "
                    f"traces it is counted in and runs at mean call depth {top.depth:.2f} "
                    "(the root is 0): of equally suspect elements, the one that raised and "
                    "runs deeper is the likelier origin"
                ),
                span_ids=top.examples[:1],
            )
        )
        return Candidate.from_evidence(
            trace_id=WINDOW,
            component=service,
            span_id=top.examples[0],
            step=None,
            evidence=tuple(evidence),
        )

    def _extract_sql(self) -> str:
        """Prompt version, then each of ``attribute_keys``, per row; JSON is parsed only in
        rows whose text holds the quoted key."""

        def extract(needle: str, path: str) -> str:
            return (
                f"CASE WHEN contains(attributes, {needle}) "
                f"THEN json_extract_string(attributes, {path}) END"
            )

        def known(key: str) -> str:
            return extract(f"'\"{key}\"'", f"'$.\"{key}\"'")

        name = known(PROMPT_NAME)
        version = f"coalesce({known(PROMPT_VERSION)}, {known(PROMPT_TEMPLATE_VERSION)})"
        columns = [
            f"CASE WHEN {name} IS NULL THEN {version} "
            f"ELSE {name} || coalesce('@' || {version}, '') END AS prompt"
        ]
        columns += [
            f"{extract(f'$needle{index}', f'$path{index}')} AS attr{index}"
            for index in range(len(self.attribute_keys))
        ]
        return f"SELECT {', '.join(columns)} FROM incident"

    def _extract_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for index, key in enumerate(self.attribute_keys):
            params[f"needle{index}"] = f'"{key}"'
            params[f"path{index}"] = f'$."{key}"'
        return params

    def _elements_sql(self, families: int) -> str:
        return _ELEMENTS.format(
            cover=_COVER_TRACE if self.coverage == "trace" else _COVER_FAILED_SPAN,
            union="\n    UNION ALL ".join(
                _OCCURRENCE.format(family=family) for family in range(families)
            ),
            examples=_EXAMPLES,
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _row_numbers(count: int) -> pa.Array:
    """0, 1, ... count - 1, without a Python loop."""
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count)), 1)


def _trace_index(trace_ids: pa.Array) -> tuple[pa.Array, pa.Array]:
    """For ``trace_ids`` sorted (so each trace's rows are contiguous): each row's trace index,
    and the first row of each trace."""
    count = len(trace_ids)
    change = pc.not_equal(trace_ids.slice(1), trace_ids.slice(0, count - 1))
    starts = pa.concat_arrays([pa.array([True]), change.cast(pa.bool_())])
    tidx = pc.subtract(pc.cumulative_sum(starts.cast(pa.int64())), 1)
    return tidx, pc.indices_nonzero(starts)


def _depths(parents: pa.Array) -> pa.Array:
    """Each row's depth in its trace's call tree (a root is 0), from each row's parent row, by
    pointer jumping: every round adds the distance to the ancestor reached and jumps twice as
    far, so a chain of ``d`` spans takes ``log2 d`` vectorized rounds, not a walk per span."""
    distance = pc.is_valid(parents).cast(pa.int64())
    ancestor = parents
    for _ in range(_JUMPS):
        if ancestor.null_count == len(ancestor):
            break
        distance = pc.add(distance, pc.fill_null(pc.take(distance, ancestor), 0))
        ancestor = pc.take(ancestor, ancestor)
    return distance


def _encode(
    spans: pa.Table, extracted: list[pa.Array]
) -> tuple[list[list[Any]], dict[str, pa.Array]]:
    """Each element column as integer codes (``c0``, ``c1``..., by :data:`_FAMILIES`, then one
    per attribute key) plus ``comp``, the service code, and the dictionaries decoding them (an
    operation's code is ``service code * len(names) + name code``). Grouping integers instead of
    strings is what keeps a million spans fast."""
    service = pc.coalesce(spans["service"], spans["agent_name"], spans["name"])
    model = pc.coalesce(spans["response_model"], spans["request_model"])
    columns = [service, spans["name"], model, spans["tool_name"], *extracted]
    encoded = [pc.dictionary_encode(column.combine_chunks()) for column in _chunked(columns)]
    names = len(encoded[1].dictionary)
    comp = encoded[0].indices.cast(pa.int64())
    operation = pc.add(pc.multiply(comp, names), encoded[1].indices.cast(pa.int64()))
    codes = [comp, operation, *(column.indices for column in encoded[2:])]
    dictionaries = [column.dictionary.to_pylist() for column in encoded]
    return dictionaries, {"comp": comp, **{f"c{index}": code for index, code in enumerate(codes)}}


def _chunked(columns: list[Any]) -> list[pa.ChunkedArray]:
    return [
        column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
        for column in columns
    ]


def _elements(
    found: pa.Table,
    dictionaries: list[list[Any]],
    span_ids: pa.ChunkedArray,
    attribute_keys: tuple[str, ...],
) -> list[_Element]:
    """Decode the aggregated rows: one element per (family, code), its service the one owning
    most of its spans (ties to the name first in order), its depth the mean over all its
    spans."""
    services = dictionaries[0]
    names = dictionaries[1]
    grouped: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for row in found.to_pylist():
        grouped[(row["family"], row["code"])].append(row)
    elements = []
    for (family, code), rows in grouped.items():
        owner = min(rows, key=lambda row: (-row["n"], services[row["comp"]]))
        if family == 1:
            comp, name = divmod(code, len(names))
            dimension, scope, value = "operation", services[comp], names[name]
        elif family < len(_FAMILIES):
            dimension, scope, value = _FAMILIES[family], "", dictionaries[family][code]
        else:
            key = attribute_keys[family - len(_FAMILIES)]
            dimension, scope, value = "attribute", key, dictionaries[family][code]
        elements.append(
            _Element(
                dimension=dimension,
                scope=scope,
                value=str(value),
                component=services[owner["comp"]],
                e_f=owner["e_f"],
                e_p=owner["e_p"],
                e_self=owner["e_self"],
                depth=sum(row["depth"] for row in rows) / sum(row["n"] for row in rows),
                examples=tuple(span_ids[rid].as_py() for rid in owner["examples"]),
            )
        )
    return elements
