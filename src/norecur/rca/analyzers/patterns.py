"""``pattern-shift``: which service's log templates and downstream calls per request moved away
from a fault-free baseline, more than its traffic explains."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import SCORE_DIGITS, Candidate, Evidence
from norecur.rca.analyzers.latency import WINDOW

__all__ = ["ALERT_LEVELS", "MASKS", "WILDCARD", "PatternShift", "mask_lines"]

WILDCARD = "<*>"
"""What a word that varies between lines of one template becomes."""
ALERT_LEVELS = frozenset({"WARN", "ERROR", "FATAL"})
"""Log levels whose rise is evidence of a fault (``error_rate_up``)."""
MASKS: tuple[tuple[str, str], ...] = (
    (r"\"[^\"]*\"|'[^']*'", "<STR>"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<UUID>"),
    (r"\b\d{4}-\d{2}-\d{2}\b", "<DATE>"),
    (r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<TIME>"),
    (r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    (r"\b[0-9a-fA-F]{16,}\b", "<HEX>"),
    (r"(^|[^#\w.])[-+]?\d+(?:\.\d+)?\b", r"\1<NUM>"),
    (r"\b[0-9a-fA-F]{8,}\b", "<HEX>"),
    (r"\s\s+|[\t\r\f\v]", " "),
)
"""The masking steps of :func:`mask_lines`, in order: ``(RE2 pattern, replacement)``, applied to
a message's first line (a stack trace's frames are not the message): quoted values, UUIDs, dates,
times, ``0x`` numbers, hex runs of 16 or more digits (trace and span ids, even those made only
of decimal digits, which are ids, not numbers), standalone numbers (not digits inside a word
such as ``G1234``, nor a code line number after ``#``), then the remaining hex runs of 8 or more
digits (other ids) are masked; whitespace runs become one space."""

_TOKEN = re.compile(r"( ?)(<[A-Z]+>|\w[\w.#$@/-]*|\S)")
"""A masked line's tokens, each with the space before it: a mask, a word, or one other
character."""
_HOLE = "\x00"
"""Stands for a word in a line's skeleton."""
_CF_ITERATIONS = 10_000
_CF_EPSILON = 1e-15
_EXAMPLES = 3
_QUOTED = 120
"""Characters of a template quoted in a reason."""


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One pattern's counts at one operation of one component."""

    count: int
    examples: tuple[str, ...]


class PatternShift(Analyzer):
    """Blames the service whose log templates or downstream calls per request moved away from a
    fault-free baseline, more than its traffic explains: a log line or call that normally follows
    stopped (the method threw or returned early), or a new one, or more warnings and errors.

    Call :meth:`fit` with a baseline (a fault-free window of the same system: spans, and logs
    when there are any), then :meth:`analyze` with the incident's spans and logs. Code-level
    faults often change no latency and set no status; they change *what happens per request*.
    The method follows Nezha (FSE 2023): compare, per service, how often each pattern occurs
    per call against the baseline.

    **Traffic.** Every span gets its component (service, else agent, else span name) and its
    *entry operation*: the name of the nearest span above it (or itself) whose parent is in
    another component or absent, i.e. the request the component was serving. A component's
    traffic is its count of entry spans per entry operation.

    **Log templates.** A log line's template is its first line masked (:data:`MASKS`: quoted
    values, UUIDs, dates, times, numbers, hex ids; the logger's ``Class#line`` token is kept),
    cut to its first ``max_tokens`` tokens (the statement is told by its head; payload dumps
    that follow vary in length; a cut template ends in `` ...``), then clustered like Drain:
    lines of one service and level with the same skeleton (tokens other than words, and the
    first word holding ``#``, else the first word) are merged when at least ``similarity`` of
    their other words agree, the words that differ becoming ``<*>``; lines are taken most
    frequent first, so the clustering does not depend on row order.
    The incident's lines are matched to the baseline's templates without changing them; the
    others form new templates. A line is counted at the entry operation of the span it joins
    (trace and span id); one that joins no span counts at the service level. Lines outside the
    time the spans cover are left out.

    **Call edges.** Every span whose parent is in another component is one call from the
    caller's entry operation to ``callee operation``.

    **Test.** For a pattern counted ``b`` times over ``E_b`` calls of its operation in the
    baseline and ``o`` times over ``E_i`` calls in the incident, the same rate per call in both
    (traffic explains the counts) means ``o ~ Binomial(b + o, E_i / (E_i + E_b))`` (the exact
    conditional test of two Poisson rates). A pattern *vanished* when the lower tail
    ``P(O <= o)`` is significant and its rate fell by at least ``min_shift`` (value: the share
    of the expected rate that is missing); it is *new* when ``b = 0`` and the upper tail
    ``P(O >= o)`` is significant (value 1); an ``error_rate_up`` is a WARN, ERROR or FATAL
    template whose upper tail is significant and whose rate at least ``1 / (1 - min_shift)``-
    folded (value: ``1 - old rate / new rate``; 1 when new). Significance is a family-wise
    error rate of ``alpha`` per window over every test the window allows, by Bonferroni with
    Tarone's refinement for discrete tests (a test whose smallest attainable p-value is above
    the threshold cannot reject, so it does not count in the family). Operations the baseline
    or the incident lacks are not tested (a request type that stopped is traffic, not a fault).

    **Score.** A service scores the sum of its ``max_evidence`` strongest items (evidence
    kinds ``log_template_vanished``, ``log_template_new``, ``error_rate_up``,
    ``call_edge_vanished``, ``call_edge_new``, each with its ``w_*`` weight; a new WARN/ERROR
    template gives both ``log_template_new`` and ``error_rate_up``). A caller's patterns move
    when its callee fails (it logs the failure, skips the calls that would have followed), so a
    service that calls (in the baseline or the incident) a component which itself moved gets a
    ``callee_moved`` item worth ``-caller_discount`` times its score, naming the callee: the
    deepest mover in a chain keeps its full score. Every component with calls in the incident
    gets a window candidate (trace id ``*``; span: an example span of its strongest item, else
    its first entry span), scoring 0 when nothing moved; without a fitted baseline there are
    none.
    """

    name = "pattern-shift"

    def __init__(
        self,
        *,
        alpha: float = 0.01,
        min_shift: float = 0.5,
        similarity: float = 0.5,
        max_tokens: int = 32,
        max_evidence: int = 5,
        caller_discount: float = 0.5,
        w_template_vanished: float = 1.0,
        w_template_new: float = 0.5,
        w_error_rate_up: float = 1.0,
        w_edge_vanished: float = 1.0,
        w_edge_new: float = 0.5,
    ) -> None:
        self.alpha = alpha
        self.min_shift = min_shift
        self.similarity = similarity
        self.max_tokens = max_tokens
        self.max_evidence = max_evidence
        self.caller_discount = caller_discount
        self.w_template_vanished = w_template_vanished
        self.w_template_new = w_template_new
        self.w_error_rate_up = w_error_rate_up
        self.w_edge_vanished = w_edge_vanished
        self.w_edge_new = w_edge_new

    def _validate_params(self) -> None:
        super()._validate_params()
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha!r}")
        if not 0 < self.min_shift <= 1:
            raise ValueError(f"min_shift must be in (0, 1], not {self.min_shift!r}")
        for name in ("similarity", "caller_discount"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)!r}")
        for name in ("max_tokens", "max_evidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
        for name in (
            "w_template_vanished",
            "w_template_new",
            "w_error_rate_up",
            "w_edge_vanished",
            "w_edge_new",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")

    def _fit(self, spans: pa.Table | None, context: Context) -> None:
        """Learn the baseline's templates, traffic and patterns.

        Sets ``templates_`` (``(service, level)`` -> sorted template strings), ``clusters_``
        (the template clusters by skeleton, for matching), ``calls_`` (``(component,
        operation)`` -> entry spans; operation ``""`` is the component's total) and
        ``patterns_`` (``(kind, component, operation, pattern, detail)`` -> count: a ``log``
        pattern is a template, its detail the level; an ``edge`` pattern is ``callee operation``,
        its detail the callee). Without
        spans nothing is learned.
        """
        if spans is None:
            return
        tables = _tables(spans, context.logs)
        mapping, clusters = _mine(_distinct(tables.lines), {}, self.similarity, self.max_tokens)
        self.clusters_ = {key: tuple(tuple(c) for c in found) for key, found in clusters.items()}
        templates: dict[tuple[str, str], set[str]] = defaultdict(set)
        for (service, level, _), template in mapping.items():
            templates[(service, level)].add(template)
        self.templates_ = {key: tuple(sorted(found)) for key, found in sorted(templates.items())}
        self.calls_ = tables.calls
        self.patterns_ = {key: found.count for key, found in _patterns(tables, mapping).items()}

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        calls_base: dict[tuple[str, str], int] | None = getattr(self, "calls_", None)
        if not calls_base or spans.num_rows == 0:
            return []
        tables = _tables(spans, context.logs)
        known = {key: list(found) for key, found in self.clusters_.items()}
        mapping, _ = _mine(_distinct(tables.lines), known, self.similarity, self.max_tokens)
        items = self._items(calls_base, tables, _patterns(tables, mapping))
        return self._candidates(items, tables)

    def _items(
        self,
        calls_base: dict[tuple[str, str], int],
        tables: _Tables,
        observed: dict[tuple[str, str, str, str, str], _Pattern],
    ) -> dict[str, list[Evidence]]:
        """Component -> its significant items (class docstring)."""
        calls_now = tables.calls
        tests: list[_Test] = []
        for key in sorted(set(self.patterns_) | set(observed)):
            kind, comp, op, _, level = key
            base = calls_base.get((comp, op), 0)
            now = calls_now.get((comp, op), 0)
            if base == 0 or now == 0:
                continue
            b = self.patterns_.get(key, 0)
            pattern = observed.get(key)
            o = pattern.count if pattern is not None else 0
            p0 = now / (now + base)
            n = b + o
            if b > 0:
                tests.append(_Test(key, "down", b, o, base, now, (1 - p0) ** n, pattern))
            if b == 0 or (kind == "log" and level in ALERT_LEVELS):
                tests.append(_Test(key, "up", b, o, base, now, p0**n, pattern))
        threshold = _tarone([test.min_p for test in tests], self.alpha)
        items: dict[str, list[Evidence]] = defaultdict(list)
        for test in tests:
            if test.min_p <= threshold:
                items[test.key[1]].extend(self._evidence(test, threshold, tables))
        return items

    def _evidence(self, test: _Test, threshold: float, tables: _Tables) -> Iterable[Evidence]:
        """The evidence items ``test`` gives, if significant and large enough."""
        kind, comp, op, pattern, level = test.key
        rate_base = test.b / test.base
        rate_now = test.o / test.now
        expected = rate_base * test.now
        p0 = test.now / (test.now + test.base)
        n = test.b + test.o
        where = f"{comp} {op}" if op else comp
        counts = (
            f"expected {expected:.1f} ({test.b} in the baseline's {test.base} calls, scaled to "
            f"{test.now}), observed {test.o}"
        )
        what = f"call to {pattern}" if kind == "edge" else f"log template {_quote(pattern)}"
        if test.direction == "down":
            shift = 1 - rate_now / rate_base
            if shift < self.min_shift:
                return
            p = _binom_cdf(test.o, n, p0)
            if p > threshold:
                return
            yield Evidence(
                kind="call_edge_vanished" if kind == "edge" else "log_template_vanished",
                value=round(shift, SCORE_DIGITS),
                weight=self.w_edge_vanished if kind == "edge" else self.w_template_vanished,
                reason=f"{where}: {what} fell: {counts} (p = {p:.1e})",
                span_ids=tables.entries.get((comp, op), ()),
            )
            return
        p = _binom_sf(test.o, n, p0)
        if p > threshold:
            return
        if test.b == 0:
            yield Evidence(
                kind="call_edge_new" if kind == "edge" else "log_template_new",
                value=1.0,
                weight=self.w_edge_new if kind == "edge" else self.w_template_new,
                reason=(
                    f"{where}: {what} is new: observed {test.o} in {test.now} calls, never in "
                    f"the baseline's {test.base} (p = {p:.1e})"
                ),
                span_ids=test.examples,
            )
        if kind == "log" and level in ALERT_LEVELS:
            shift = 1 - rate_base / rate_now
            if shift < self.min_shift:
                return
            yield Evidence(
                kind="error_rate_up",
                value=round(shift, SCORE_DIGITS),
                weight=self.w_error_rate_up,
                reason=f"{where}: {level} {what} rose: {counts} (p = {p:.1e})",
                span_ids=test.examples,
            )

    def _candidates(self, items: dict[str, list[Evidence]], tables: _Tables) -> list[Candidate]:
        """One window candidate per component with calls (class docstring)."""
        kept: dict[str, list[Evidence]] = {}
        raw: dict[str, float] = {}
        for comp, found in items.items():
            found.sort(key=lambda item: (-item.contribution, item.kind, item.reason))
            kept[comp] = found[: self.max_evidence]
            raw[comp] = round(sum(item.contribution for item in kept[comp]), SCORE_DIGITS)
        callees: dict[str, set[str]] = defaultdict(set)
        for kind, comp, _, _, callee in self.patterns_:
            if kind == "edge":
                callees[comp].add(callee)
        for comp, called in tables.callees.items():
            callees[comp] |= called
        candidates = []
        for comp in sorted(tables.first_span):
            evidence = list(kept.get(comp, ()))
            moved = sorted(
                (callee for callee in callees[comp] if raw.get(callee, 0.0) > 0 and callee != comp),
                key=lambda callee: (-raw[callee], callee),
            )
            if evidence and moved and self.caller_discount > 0 and raw[comp] > 0:
                named = ", ".join(f"{callee} ({raw[callee]:.2f})" for callee in moved[:3])
                evidence.append(
                    Evidence(
                        kind="callee_moved",
                        value=-raw[comp],
                        weight=self.caller_discount,
                        reason=(
                            f"{comp} calls {named}, whose patterns moved too: its own shift may "
                            "be their failure propagating"
                        ),
                    )
                )
            top = max(evidence, key=lambda item: item.contribution, default=None)
            span_id = top.span_ids[0] if top is not None and top.span_ids else ""
            candidates.append(
                Candidate.from_evidence(
                    trace_id=WINDOW,
                    component=comp,
                    span_id=span_id or tables.first_span[comp],
                    step=None,
                    evidence=tuple(evidence),
                )
            )
        return candidates


@dataclass(frozen=True, slots=True)
class _Test:
    """One one-sided test of one pattern."""

    key: tuple[str, str, str, str, str]
    direction: str
    b: int
    o: int
    base: int
    now: int
    min_p: float
    pattern: _Pattern | None

    @property
    def examples(self) -> tuple[str, ...]:
        return self.pattern.examples if self.pattern is not None else ()


@dataclass(frozen=True, slots=True)
class _Tables:
    """What one window's spans and logs give: traffic, call edges, log lines to template."""

    calls: dict[tuple[str, str], int]
    """(component, entry operation) -> entry spans; operation ``""`` is the component total."""
    entries: dict[tuple[str, str], tuple[str, ...]]
    """(component, entry operation) -> example entry spans."""
    first_span: dict[str, str]
    """Component -> its first entry span (trace id, start, span id order)."""
    callees: dict[str, set[str]]
    """Component -> the components it called."""
    edges: list[dict[str, Any]]
    """Per (caller, caller operation, callee, callee operation): count and example spans."""
    lines: list[dict[str, Any]]
    """Per (service, entry operation, level, masked line): count and example spans."""


_ENTRY = """
CREATE TEMP TABLE s AS
SELECT trace_id, span_id, parent_span_id, coalesce(service, agent_name, name) AS comp,
       name AS op, start_ns
FROM spans
QUALIFY row_number() OVER (
    PARTITION BY trace_id, span_id ORDER BY start_ns, comp, op, parent_span_id
) = 1;
CREATE TEMP TABLE linked AS
SELECT c.*, p.comp AS parent_comp
FROM s AS c LEFT JOIN s AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id;
CREATE TEMP TABLE entry AS
WITH RECURSIVE e(trace_id, span_id, entry_span, entry_op) AS (
    SELECT trace_id, span_id, span_id, op FROM linked
    WHERE parent_comp IS NULL OR parent_comp <> comp
    UNION
    SELECT c.trace_id, c.span_id, e.entry_span, e.entry_op
    FROM e JOIN linked AS c
      ON c.trace_id = e.trace_id AND c.parent_span_id = e.span_id AND c.parent_comp = c.comp
)
SELECT l.trace_id, l.span_id, l.parent_span_id, l.comp, l.op, l.start_ns, l.parent_comp,
       e.entry_span, e.entry_op
FROM linked AS l JOIN e USING (trace_id, span_id);
"""
"""Every span's component and entry operation (the name of the nearest span at or above it
whose parent is in another component or absent). ``UNION`` (not ``ALL``) makes the recursion
stop even on malformed parent links."""

_CALLS = """
SELECT comp, entry_op AS op, count(*) AS n,
       min_by(span_id, struct_pack(t := trace_id, s := start_ns, i := span_id), 3) AS examples
FROM entry WHERE span_id = entry_span
GROUP BY GROUPING SETS ((comp, entry_op), (comp))
ORDER BY comp, op NULLS FIRST
"""

_EDGES = """
SELECT c.parent_comp AS comp, p.entry_op AS op, c.comp AS callee, c.op AS callee_op,
       count(*) AS n,
       min_by(c.span_id, struct_pack(t := c.trace_id, s := c.start_ns, i := c.span_id), 3)
         AS examples
FROM entry AS c JOIN entry AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
WHERE c.parent_comp <> c.comp
GROUP BY ALL ORDER BY ALL
"""

_LINES = """
SELECT l.service AS comp, coalesce(e.entry_op, '') AS op, coalesce(l.level, '') AS level,
       l.masked, count(*) AS n,
       min_by(e.span_id, struct_pack(t := e.trace_id, s := l.time_ns, i := e.span_id), 3)
         FILTER (WHERE e.span_id IS NOT NULL) AS examples
FROM lines AS l LEFT JOIN entry AS e
  ON e.trace_id = l.trace_id AND e.span_id = l.span_id AND e.comp = l.service
WHERE l.service IS NOT NULL AND l.time_ns BETWEEN $lo AND $hi
GROUP BY ALL ORDER BY comp, op, level, masked
"""


def _tables(spans: pa.Table, logs: pa.Table | None) -> _Tables:
    """Traffic, call edges and masked log lines of one window, on a private single-threaded
    DuckDB connection (one thread: the same results every run)."""
    connection = duckdb.connect()
    try:
        connection.execute("SET threads TO 1")
        columns = ["trace_id", "span_id", "parent_span_id", "service", "agent_name", "name"]
        connection.register("spans", spans.select([*columns, "start_ns"]))
        connection.execute(_ENTRY)
        calls: dict[tuple[str, str], int] = {}
        entries: dict[tuple[str, str], tuple[str, ...]] = {}
        first_span: dict[str, str] = {}
        for row in connection.sql(_CALLS).to_arrow_table().to_pylist():
            op = row["op"] if row["op"] is not None else ""
            calls[(row["comp"], op)] = row["n"]
            entries[(row["comp"], op)] = tuple(row["examples"])
            if op == "":
                first_span[row["comp"]] = row["examples"][0]
        edges = connection.sql(_EDGES).to_arrow_table().to_pylist()
        callees: dict[str, set[str]] = defaultdict(set)
        for row in edges:
            callees[row["comp"]].add(row["callee"])
        lines: list[dict[str, Any]] = []
        if logs is not None and logs.num_rows and spans.num_rows:
            masked = logs.select(["trace_id", "span_id", "time_ns", "service", "level"])
            masked = masked.append_column("masked", mask_lines(logs["message"]))
            connection.register("lines", masked)
            lo = pc.min(spans["start_ns"]).as_py()
            hi = pc.max(spans["end_ns"]).as_py()
            lines = connection.sql(_LINES, params={"lo": lo, "hi": hi}).to_arrow_table().to_pylist()
        return _Tables(calls, entries, first_span, dict(callees), edges, lines)
    finally:
        connection.close()


def mask_lines(messages: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``messages`` with their variable parts masked (:data:`MASKS`), stripped."""
    masked = pc.list_element(pc.split_pattern(pc.fill_null(messages, ""), "\n", max_splits=1), 0)
    for pattern, replacement in MASKS:
        masked = pc.replace_substring_regex(masked, pattern, replacement)
    return pc.utf8_trim_whitespace(masked)


def _skeleton(line: str, max_tokens: int) -> tuple[str, tuple[str, ...]]:
    """The first ``max_tokens`` tokens of a masked line as a skeleton (words replaced by
    :data:`_HOLE`, except the anchor: the first word holding ``#``, else the first word) and
    its other words in order."""
    tokens = _TOKEN.findall(line)
    cut = len(tokens) > max_tokens
    tokens = tokens[:max_tokens]
    is_word = [token[:1].isalnum() or token[:1] == "_" for _, token in tokens]
    anchor = next(
        (i for i, (_, token) in enumerate(tokens) if is_word[i] and "#" in token),
        next((i for i, word in enumerate(is_word) if word), -1),
    )
    parts: list[str] = []
    words: list[str] = []
    for index, (space, token) in enumerate(tokens):
        if is_word[index] and index != anchor:
            parts.append(space + _HOLE)
            words.append(token)
        else:
            parts.append(space + token)
    if cut:
        parts.append(" ...")
    return "".join(parts), tuple(words)


def _fill(skeleton: str, words: Iterable[str | None]) -> str:
    parts = skeleton.split(_HOLE)
    out = [parts[0]]
    for word, part in zip(words, parts[1:], strict=True):
        out.append(word if word is not None else WILDCARD)
        out.append(part)
    return "".join(out)


def _similar(cluster: list[str | None] | tuple[str | None, ...], words: tuple[str, ...]) -> float:
    if not words:
        return 1.0
    return sum(c is None or c == w for c, w in zip(cluster, words, strict=True)) / len(words)


def _distinct(lines: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    """(service, level, masked line) -> count over every operation."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in lines:
        counts[(row["comp"], row["level"], row["masked"])] += row["n"]
    return counts


def _mine(
    counts: dict[tuple[str, str, str], int],
    known: dict[tuple[str, str, str], list[tuple[str | None, ...]]],
    similarity: float,
    max_tokens: int,
) -> tuple[dict[tuple[str, str, str], str], dict[tuple[str, str, str], list[list[str | None]]]]:
    """(service, level, masked line) -> template (class docstring), and the clusters made.

    Lines are taken per skeleton, most frequent first (then by words), and matched to the most
    similar of the ``known`` clusters (which are never changed) when at least ``similarity`` of
    their words agree; the others are clustered anew, a line joining the most similar new
    cluster at that similarity (the words that differ becoming wildcards) or starting one.
    """
    groups: dict[tuple[str, str, str], list[tuple[int, tuple[str, ...], str]]] = defaultdict(list)
    for (service, level, line), count in counts.items():
        skeleton, words = _skeleton(line, max_tokens)
        groups[(service, level, skeleton)].append((count, words, line))
    made: dict[tuple[str, str, str], list[list[str | None]]] = {}
    placed: list[tuple[tuple[str, str, str], str, bool, int]] = []
    for key in sorted(groups):
        base = known.get(key, [])
        fresh: list[list[str | None]] = []
        for _, words, line in sorted(groups[key], key=lambda item: (-item[0], item[1])):
            best = _best(base, words, similarity)
            if best is not None:
                placed.append((key, line, True, best))
                continue
            best = _best(fresh, words, similarity)
            if best is None:
                fresh.append(list(words))
                best = len(fresh) - 1
            else:
                fresh[best] = [
                    c if c == w else None for c, w in zip(fresh[best], words, strict=True)
                ]
            placed.append((key, line, False, best))
        if fresh:
            made[key] = fresh
    mapping = {
        (key[0], key[1], line): _fill(key[2], (known[key] if old else made[key])[index])
        for key, line, old, index in placed
    }
    return mapping, made


def _best(
    clusters: list[list[str | None]] | list[tuple[str | None, ...]],
    words: tuple[str, ...],
    similarity: float,
) -> int | None:
    """Index of the most similar cluster (ties: the earliest), if at least ``similarity``."""
    best, score = None, -1.0
    for index, cluster in enumerate(clusters):
        value = _similar(cluster, words)
        if value > score:
            best, score = index, value
    return best if best is not None and score >= similarity else None


def _patterns(
    tables: _Tables, mapping: dict[tuple[str, str, str], str]
) -> dict[tuple[str, str, str, str, str], _Pattern]:
    """(kind, component, operation, pattern, detail) -> count and example spans: a ``log``
    pattern is a template (detail: its level), an ``edge`` pattern ``callee operation``
    (detail: the callee)."""
    counts: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    examples: dict[tuple[str, str, str, str, str], set[str]] = defaultdict(set)
    for row in tables.edges:
        key = ("edge", row["comp"], row["op"], f"{row['callee']} {row['callee_op']}", row["callee"])
        counts[key] += row["n"]
        examples[key].update(row["examples"])
    for row in tables.lines:
        template = mapping[(row["comp"], row["level"], row["masked"])]
        key = ("log", row["comp"], row["op"], template, row["level"])
        counts[key] += row["n"]
        examples[key].update(row["examples"] or ())
    return {
        key: _Pattern(count, tuple(sorted(examples[key])[:_EXAMPLES]))
        for key, count in counts.items()
    }


def _tarone(min_ps: list[float], alpha: float) -> float:
    """The per-test threshold ``alpha / k`` of Bonferroni with Tarone's refinement: the smallest
    ``k`` such that at most ``k`` tests can reach a p-value of ``alpha / k``."""
    ordered = sorted(min_ps)
    k = 1
    while True:
        threshold = alpha / k
        testable = _count_at_most(ordered, threshold)
        if testable <= k:
            return threshold
        k += 1


def _count_at_most(ordered: list[float], value: float) -> int:
    low, high = 0, len(ordered)
    while low < high:
        middle = (low + high) // 2
        if ordered[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low


def _binom_cdf(k: int, n: int, p: float) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``."""
    if k >= n:
        return 1.0
    if k < 0:
        return 0.0
    return _betainc(n - k, k + 1, 1.0 - p)


def _binom_sf(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return _betainc(k, n - k + 1, p)


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)`` (continued fraction, evaluated
    on the side where it converges fast, so small tails keep their precision)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _fraction(b, a, 1.0 - x) / b


def _fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, _CF_ITERATIONS + 1):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < _CF_EPSILON:
            break
    return result


def _quote(template: str) -> str:
    short = template if len(template) <= _QUOTED else template[: _QUOTED - 3] + "..."
    return f'"{short}"'
