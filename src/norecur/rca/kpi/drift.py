"""What drifted in the data between a baseline snapshot and an incident snapshot, ranked.

:func:`read_snapshot` reads a snapshot (CSV, plain or gzip; Parquet; JSON Lines, plain or gzip)
into an Arrow table; :func:`compare` compares two tables column by column and returns a
:class:`DriftReport` of :class:`DriftFinding` ranked by severity; :func:`suggested_class` maps
the report onto the cause taxonomy. The functions are pure (tables in, findings out) so that the
CLI command and the report render them without recomputing anything.

What is compared, per column present in both tables:

* **schema**: a column only in the new table is ``schema_added``, only in the baseline
  ``schema_removed``; a column whose type *kind* differs is ``schema_retyped``. The kind is the
  Arrow type after :func:`type_kind`'s normalisation: integer widths and signedness merge
  (``int32`` = ``uint64`` = ``integer``), ``string``/``large_string``/``string_view`` merge, a
  dictionary column has its values' kind, timestamp units merge, and the ``null`` type (a column
  that holds only nulls, as CSV inference gives) matches every kind. Integer against float *is*
  a retype (a job that starts writing ``1.0`` for ``1`` changed its output), so is decimal
  against float. Nullability is not part of a kind: a column that gains or loses nulls is a
  null-rate question, not a schema one.
* **null rate** (every column): the share of missing values (null, or NaN in a float column)
  before and after, with a two-proportion z-test on the jump.
* **distribution** of the non-missing values. Numeric columns (integer, float, decimal,
  duration): PSI over ``bins`` quantile bins of the baseline, and the two-sample
  Kolmogorov-Smirnov statistic and p-value (:func:`ks_two_sample`). Categorical columns (string,
  bool, dictionary): PSI over the categories and a chi-square test on the 2 x k contingency
  table, categories whose expected count is under ``min_expected`` in either row pooled into one
  "other" column (merged into the smallest kept category when it is still under); and the
  categories that appear only in the new table (``new_categories``) or only in the baseline
  (``vanished_categories``) with their shares.

Not compared for distribution (listed in :attr:`DriftReport.skipped` with the reason): columns
that look like ids (integer or string columns whose values are nearly all distinct in both
tables: ``id_ratio`` of them, at least :data:`ID_MIN_VALUES` values), time columns (timestamp,
date, time: a baseline and an incident window differ in time by construction), columns of other
types (lists, structs, binary: only their null rate is compared), columns retyped across
families (a number that became a string), and columns with no value on one side.

**The PSI.** ``PSI = sum((q - p) * ln(q / p))`` over the bins, ``p`` the baseline shares and
``q`` the new shares; a share of zero (an empty bin, a category absent on one side) counts as
``epsilon`` (:data:`PSI_EPSILON`, 1e-4) so that the sum stays finite, without renormalising.
The usual reading: under :data:`PSI_MODERATE` (0.1) no meaningful shift, from 0.1 a moderate
one, from :data:`PSI_MAJOR` (0.25) a major one. Null-rate and new/vanished-category findings
measure their effect the same way, as the PSI of a two-bin split (missing vs present; rows in
the new categories vs the rest), so that every finding is on one scale.

**When a finding is reported.** A statistical finding (``distribution``, ``null_rate``,
``new_categories``, ``vanished_categories``) is reported when its PSI is at least ``min_psi``
(0.1, moderate) *and* its test's p-value is under ``alpha`` (0.01): the effect size keeps a
million-row window from reporting trivial shifts that any test finds significant, the p-value
keeps a fifty-row window from reporting the noise that small samples add to the PSI. Schema
findings are always reported.

**Severity** (0..1, the ranking key). A statistical finding scores ``psi / (psi + 0.25)``: 0.29
at the moderate threshold, 0.5 at the major one, 0.8 at a PSI of 1, approaching 1 as the PSI
grows. A schema change scores a fixed value (:data:`SCHEMA_SEVERITY`): a removed column 0.8
(as a PSI of 1), a retyped one 0.7, an added one 0.2 (informational: readers ignore a new
column). A column whose values go bad outranks one that disappears: a missing column breaks
loudly where it is read, a column defaulting to nulls flows on silently. Findings are ranked by
severity, ties by column name, then by kind.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from scipy import stats

from norecur.errors import NorecurError, TelemetryError, escape_controls
from norecur.model import CauseClass

__all__ = [
    "ID_MIN_VALUES",
    "KS_SCIPY_MAX_VALUES",
    "PSI_EPSILON",
    "PSI_MAJOR",
    "PSI_MODERATE",
    "SCHEMA_SEVERITY",
    "DriftError",
    "DriftFinding",
    "DriftKind",
    "DriftReport",
    "SkippedColumn",
    "SnapshotError",
    "compare",
    "ks_two_sample",
    "population_stability_index",
    "read_snapshot",
    "severity_of_psi",
    "suggested_class",
    "two_proportion_z_test",
    "type_kind",
]

PSI_EPSILON: Final = 1e-4
"""The share an empty bin or an absent category counts as in the PSI, so that ``ln(q / p)``
stays finite; small enough that a bin holding 1 % of the rows on one side and none on the other
contributes about 0.046, not infinity."""

PSI_MODERATE: Final = 0.1
"""PSI from which a shift is read as moderate, and the default floor for reporting a finding."""

PSI_MAJOR: Final = 0.25
"""PSI from which a shift is read as major; the PSI at which a finding's severity is 0.5."""

ID_MIN_VALUES: Final = 20
"""The fewest non-missing values a side needs before "nearly all distinct" can mean an id."""

KS_SCIPY_MAX_VALUES: Final = 100_000
"""Up to this many values per side :func:`ks_two_sample` calls :func:`scipy.stats.ks_2samp`;
above it the same statistic comes from the sorted arrays and the p-value from the Kolmogorov
limit distribution, because scipy's finite-n p-value takes most of a second per column there."""

_MAX_BINS: Final = 1000
_MAX_LISTED: Final = 10
"""How many new or vanished categories a finding lists (the largest shares)."""
_SHOWN: Final = 60
"""How many characters of a column name or category a reason sentence shows."""
_SNIFF_BYTES: Final = 64 * 1024
_GZIP_MAGIC: Final = b"\x1f\x8b"
_PARQUET_MAGIC: Final = b"PAR1"
_JSON_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_CSV_SUFFIXES: Final = frozenset({".csv", ".tsv", ".txt"})
_NUMERIC: Final = frozenset({"integer", "float", "decimal", "duration"})
_CATEGORICAL: Final = frozenset({"string", "bool"})
_TEMPORAL_PREFIXES: Final = ("timestamp", "date", "time")
_ID_KINDS: Final = frozenset({"integer", "string"})
_DURATION_SECONDS: Final = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


class DriftError(NorecurError, ValueError):
    """:func:`compare` was given something it cannot compare: not a table, a table with a
    column named twice (``field`` names it), or a parameter out of range (``field`` names the
    parameter)."""


class SnapshotError(DriftError, TelemetryError):
    """A snapshot file cannot be read: ``path`` names the file, ``line`` the line of a text
    format where the problem is (when it can be found), ``field`` the column (when known)."""


class DriftKind(StrEnum):
    """What a :class:`DriftFinding` is about. The order here breaks ties in the ranking."""

    SCHEMA_REMOVED = "schema_removed"
    """The column is in the baseline and not in the new table."""
    SCHEMA_RETYPED = "schema_retyped"
    """The column's type kind (:func:`type_kind`) changed."""
    NULL_RATE = "null_rate"
    """The share of missing values jumped (or fell)."""
    DISTRIBUTION = "distribution"
    """The non-missing values are distributed differently (PSI with KS or chi-square)."""
    NEW_CATEGORIES = "new_categories"
    """Values that the baseline never had take a share of the new table."""
    VANISHED_CATEGORIES = "vanished_categories"
    """Values that took a share of the baseline are gone from the new table."""
    SCHEMA_ADDED = "schema_added"
    """The column is in the new table and not in the baseline."""


_KIND_ORDER: Final = {kind: index for index, kind in enumerate(DriftKind)}

SCHEMA_SEVERITY: Final[Mapping[DriftKind, float]] = {
    DriftKind.SCHEMA_REMOVED: 0.8,
    DriftKind.SCHEMA_RETYPED: 0.7,
    DriftKind.SCHEMA_ADDED: 0.2,
}
"""The fixed severity of a schema finding (see the module docstring for why)."""

_DATA_KINDS: Final = frozenset(
    {
        DriftKind.SCHEMA_REMOVED,
        DriftKind.SCHEMA_RETYPED,
        DriftKind.NULL_RATE,
        DriftKind.NEW_CATEGORIES,
        DriftKind.VANISHED_CATEGORIES,
    }
)
"""Findings that say the data itself broke (as opposed to the traffic changing)."""


@dataclass(frozen=True)
class DriftFinding:
    """One thing that drifted in one column.

    ``statistics`` holds the numbers behind the finding, by kind: ``psi`` for every statistical
    kind; ``ks_statistic`` (numeric) or ``chi2``/``dof`` (categorical) for ``distribution``;
    ``base_null_rate``/``new_null_rate``/``z`` for ``null_rate``; ``share``/``count`` for the
    category kinds; ``base_type``/``new_type`` for the schema kinds. ``p_value`` is the test's
    (None for schema findings); ``categories`` lists ``(value, share)`` for the category kinds,
    largest share first; ``reason`` is one sentence a person can read.
    """

    column: str
    kind: DriftKind
    severity: float
    reason: str
    statistics: Mapping[str, float | int | str | None] = field(hash=False)
    p_value: float | None = None
    categories: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data: keys sorted, floats to six significant digits,
        non-finite floats as None."""
        return {
            "categories": [{"share": _rounded(s), "value": v} for v, s in self.categories],
            "column": self.column,
            "kind": self.kind.value,
            "p_value": _rounded(self.p_value),
            "reason": self.reason,
            "severity": _rounded(self.severity),
            "statistics": {key: _rounded(self.statistics[key]) for key in sorted(self.statistics)},
        }


@dataclass(frozen=True, slots=True)
class SkippedColumn:
    """A column whose distribution was not compared, and why (its null rate still was)."""

    column: str
    reason: str


@dataclass(frozen=True)
class DriftReport:
    """The findings of :func:`compare`, ranked, with the columns it skipped and the parameters it
    ran with (so that a report can print them exactly)."""

    findings: tuple[DriftFinding, ...]
    skipped: tuple[SkippedColumn, ...]
    base_rows: int
    new_rows: int
    parameters: Mapping[str, float | int] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, deterministic for the same input: keys sorted, floats
        rounded to six significant digits, findings in rank order, skipped columns by name."""
        return {
            "base_rows": self.base_rows,
            "findings": [finding.to_dict() for finding in self.findings],
            "new_rows": self.new_rows,
            "parameters": {key: _rounded(self.parameters[key]) for key in sorted(self.parameters)},
            "skipped": [{"column": s.column, "reason": s.reason} for s in self.skipped],
        }


# --------------------------------------------------------------------------------------------
# Reading


def read_snapshot(path: str | os.PathLike[str]) -> pa.Table:
    """The table in the snapshot file ``path``: CSV (``,``; ``.tsv`` tab-separated), Parquet, or
    JSON Lines (one object per line), CSV and JSON Lines plain or gzip.

    The format comes from the content where it can (Parquet's ``PAR1`` magic, gzip's magic) and
    otherwise from the name (``.jsonl``, ``.ndjson``, ``.json`` are JSON Lines; ``.csv``,
    ``.tsv``, ``.txt`` CSV; a ``.gz`` suffix is looked through), else from the first character
    (``{`` is JSON Lines). Column types are inferred (CSV: ``""``, ``NA``, ``NaN``, ``null`` and
    friends are missing). Raises :class:`SnapshotError` naming the file, and for a text format
    the line (and column, when known), for: a file that cannot be opened, is empty, is binary
    or not UTF-8, a truncated gzip stream, a CSV row with the wrong number of fields, a JSON
    line that is not an object, a JSON column whose type changes, a header that names a column
    twice, a file named ``.parquet`` that is not Parquet or a damaged Parquet file.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SnapshotError(f"cannot open: {exc.strerror or exc}", path=name) from None
    if not head:
        raise SnapshotError("file is empty; expected CSV, Parquet or JSON Lines", path=name)
    suffix = _suffix(name)
    if head.startswith(_PARQUET_MAGIC) or suffix in {".parquet", ".pq"}:
        return _checked(_read_parquet(name, head), name, None)
    compressed = head.startswith(_GZIP_MAGIC)
    text = _peek(name, head, compressed)
    if b"\x00" in text:
        line = text[: text.index(b"\x00")].count(b"\n") + 1
        raise SnapshotError("binary data, not UTF-8 text (a NUL byte)", path=name, line=line)
    if suffix in _JSON_SUFFIXES or (suffix not in _CSV_SUFFIXES and text.lstrip()[:1] == b"{"):
        table = _read_json(name, compressed)
    else:
        table = _read_csv(name, compressed, "\t" if suffix == ".tsv" else ",")
    return _checked(table, name, 1)


def _suffix(name: str) -> str:
    """The file's suffix, lower-cased, looking through a trailing ``.gz``."""
    base = os.path.basename(name).lower()
    if base.endswith(".gz"):
        base = base[:-3]
    return os.path.splitext(base)[1]


def _peek(name: str, head: bytes, compressed: bool) -> bytes:
    """The first bytes of the file's text: ``head`` itself, or as much of it as gunzips."""
    if not compressed:
        return head
    try:
        return zlib.decompressobj(wbits=31).decompress(head, _SNIFF_BYTES)
    except zlib.error as exc:
        raise SnapshotError(f"not a valid gzip stream: {exc}", path=name) from None


def _checked(table: pa.Table, path: str, line: int | None) -> pa.Table:
    """``table``, once its column names are known to be UTF-8 and distinct (``line`` is the
    header's, for text formats)."""
    try:
        names = table.column_names
    except UnicodeDecodeError:
        raise SnapshotError("column names are not UTF-8 text", path=path, line=line) from None
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise SnapshotError(
                f"column {_show(column)} is named twice", path=path, line=line, field=column
            )
        seen.add(column)
    return table


def _read_parquet(name: str, head: bytes) -> pa.Table:
    if not head.startswith(_PARQUET_MAGIC):
        raise SnapshotError("not a Parquet file (no PAR1 magic bytes at the start)", path=name)
    try:
        return pq.read_table(name)
    except (pa.ArrowException, OSError, ValueError) as exc:
        message = re.sub(r"^Could not open Parquet input source '.*?': ", "", str(exc))
        raise SnapshotError(f"not a readable Parquet file: {_clip(message)}", path=name) from None


def _input(name: str, compressed: bool) -> pa.NativeFile:
    return pa.input_stream(name, compression="gzip" if compressed else None)


def _read_csv(name: str, compressed: bool, delimiter: str) -> pa.Table:
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        with _input(name, compressed) as stream:
            table = pa_csv.read_csv(stream, parse_options=parse)
    except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
        raise _csv_problem(name, compressed, delimiter, exc) from None
    # CSV inference gives binary only to a column with bytes that are not UTF-8, and keeps such
    # bytes in a header; both are damaged files, found and named by the slow scan.
    try:
        names = table.column_names
    except UnicodeDecodeError:
        names = ["\ufffd"]
    if any(pa.types.is_binary(t) for t in table.schema.types) or any("\ufffd" in n for n in names):
        problem = _scan_csv(name, compressed, delimiter)
        if problem is not None:
            raise problem
    return table


def _csv_problem(name: str, compressed: bool, delimiter: str, exc: BaseException) -> SnapshotError:
    """The error for a CSV file Arrow refused: the first bad line found by a scan with Python's
    csv module, or Arrow's own message when the scan finds nothing."""
    problem = _scan_csv(name, compressed, delimiter)
    if problem is not None:
        return problem
    message = str(exc)
    if "Empty CSV file" in message:
        return SnapshotError("file has no CSV header", path=name)
    if isinstance(exc, OSError | EOFError) and "runcated" in message:
        return SnapshotError("gzip stream ends early (truncated file)", path=name)
    return SnapshotError(f"not valid CSV: {_clip(message)}", path=name)


class _Lines:
    """The lines of a (maybe gzip) text file as str, counting them in :attr:`line`, raising
    :class:`SnapshotError` for a line that is not UTF-8 or a stream that ends early."""

    def __init__(self, name: str, compressed: bool) -> None:
        self.name = name
        self.compressed = compressed
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        opener = gzip.open if self.compressed else open
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        try:
            with opener(self.name, "rb") as stream:
                for raw in stream:
                    self.line += 1
                    try:
                        yield decoder.decode(raw)
                    except UnicodeDecodeError:
                        raise SnapshotError(
                            "not UTF-8 text", path=self.name, line=self.line
                        ) from None
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise SnapshotError(
                        "not UTF-8 text (ends inside a character)", path=self.name, line=self.line
                    ) from None
        except (OSError, EOFError, zlib.error) as exc:
            ended = isinstance(exc, EOFError) or "runcated" in str(exc)
            message = "gzip stream ends early (truncated file)" if ended else f"cannot read: {exc}"
            raise SnapshotError(message, path=self.name, line=self.line + 1) from None


def _scan_csv(name: str, compressed: bool, delimiter: str) -> SnapshotError | None:
    """The first problem in a CSV file found with Python's csv module (slow, so only run once
    Arrow has refused the file): bad bytes, a truncated stream, or a row whose field count is not
    the header's. None when the scan finds nothing wrong."""
    lines = _Lines(name, compressed)
    try:
        rows = csv.reader(lines, delimiter=delimiter, strict=True)
        header = next(rows, None)
        if header is None:
            return None
        for row in rows:
            if row and len(row) != len(header):
                return SnapshotError(
                    f"row has {len(row)} fields; the header has {len(header)}",
                    path=name,
                    line=rows.line_num,
                )
    except SnapshotError as exc:
        return exc
    except csv.Error as exc:
        return SnapshotError(f"not valid CSV: {exc}", path=name, line=lines.line)
    return None


_JSON_ROW: Final = re.compile(r"in row (\d+)")
_JSON_COLUMN: Final = re.compile(r"Column\(/?([^)]*)\) changed from (\w+) to (\w+)")


def _read_json(name: str, compressed: bool) -> pa.Table:
    try:
        with _input(name, compressed) as stream:
            return pa_json.read_json(stream)
    except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
        raise _json_problem(name, compressed, exc) from None


def _json_problem(name: str, compressed: bool, exc: BaseException) -> SnapshotError:
    """The error for a JSON Lines file Arrow refused: the first line that is not a JSON object
    (found by parsing line by line), else the row Arrow names (its rows skip blank lines)."""
    lines = _Lines(name, compressed)
    row = -1
    wanted = _JSON_ROW.search(str(exc))
    target = int(wanted.group(1)) if wanted else None
    target_line: int | None = None
    try:
        for text in lines:
            if not text.strip():
                continue
            row += 1
            if row == target:
                target_line = lines.line
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as bad:
                return SnapshotError(
                    f"not valid JSON: {_clip(str(bad))}", path=name, line=lines.line
                )
            if not isinstance(value, dict):
                kind = type(value).__name__
                return SnapshotError(
                    f"expected a JSON object per line, found {kind}", path=name, line=lines.line
                )
    except SnapshotError as problem:
        return problem
    retyped = _JSON_COLUMN.search(str(exc))
    if retyped:
        column, before, after = retyped.groups()
        return SnapshotError(
            f"values change type from {before} to {after}",
            path=name,
            line=target_line,
            field=column.replace("/", "."),
        )
    if row < 0:
        return SnapshotError("file holds no JSON object", path=name)
    return SnapshotError(f"not valid JSON Lines: {_clip(str(exc))}", path=name, line=target_line)


# --------------------------------------------------------------------------------------------
# Statistics


def population_stability_index(
    base_counts: npt.ArrayLike, new_counts: npt.ArrayLike, *, epsilon: float = PSI_EPSILON
) -> float:
    """The PSI between two histograms over the same bins: ``sum((q - p) * ln(q / p))``, ``p``
    and ``q`` the bins' shares of each total, a share of zero counted as ``epsilon``. 0.0 when a
    side is empty (nothing to compare)."""
    base = np.asarray(base_counts, dtype=np.float64)
    new = np.asarray(new_counts, dtype=np.float64)
    if base.shape != new.shape:
        raise DriftError(f"histograms differ in length: {base.shape} and {new.shape}")
    base_total, new_total = base.sum(), new.sum()
    if base_total <= 0 or new_total <= 0:
        return 0.0
    p = np.maximum(base / base_total, epsilon)
    q = np.maximum(new / new_total, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def _split_psi(base_share: float, new_share: float, epsilon: float) -> float:
    """The PSI of a two-bin split (a share and the rest), from the two shares."""
    return population_stability_index(
        [base_share, 1.0 - base_share], [new_share, 1.0 - new_share], epsilon=epsilon
    )


def severity_of_psi(psi: float) -> float:
    """A PSI mapped onto 0..1: ``psi / (psi + PSI_MAJOR)``; 0.5 at the major threshold."""
    if not psi > 0:
        return 0.0
    if math.isinf(psi):
        return 1.0
    return psi / (psi + PSI_MAJOR)


def two_proportion_z_test(
    base_hits: int, base_total: int, new_hits: int, new_total: int
) -> tuple[float, float]:
    """``(z, two-sided p-value)`` for the difference of two proportions, with the pooled
    standard error; ``(0.0, 1.0)`` when there is no variance to test (a side empty, or both
    proportions 0 or both 1)."""
    if base_total <= 0 or new_total <= 0:
        return 0.0, 1.0
    p1, p2 = base_hits / base_total, new_hits / new_total
    pooled = (base_hits + new_hits) / (base_total + new_total)
    variance = pooled * (1.0 - pooled) * (1.0 / base_total + 1.0 / new_total)
    if variance <= 0.0:
        return 0.0, 1.0
    z = (p2 - p1) / math.sqrt(variance)
    return z, float(min(1.0, 2.0 * stats.norm.sf(abs(z))))


def ks_two_sample(base: npt.ArrayLike, new: npt.ArrayLike) -> tuple[float, float]:
    """``(statistic, p-value)`` of the two-sample Kolmogorov-Smirnov test (two-sided).

    Up to :data:`KS_SCIPY_MAX_VALUES` values per side this is :func:`scipy.stats.ks_2samp`.
    Above it, the statistic is computed the same way (the largest gap between the two empirical
    CDFs, evaluated where either sample has a value) from sorted arrays, and the p-value is the
    Kolmogorov limit ``kstwobign.sf(D * sqrt(n m / (n + m)))``, which at that size agrees with
    scipy's to many digits at a fraction of its cost. NaN must already be removed; ±inf is fine.
    """
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return 0.0, 1.0
    if a.size <= KS_SCIPY_MAX_VALUES and b.size <= KS_SCIPY_MAX_VALUES:
        with warnings.catch_warnings():
            # scipy falls back from the exact p-value to the asymptotic one on some inputs and
            # says so; the fallback is the documented behaviour, not a problem to report.
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation", RuntimeWarning)
            result = stats.ks_2samp(a, b)
        return float(result.statistic), float(min(1.0, max(0.0, result.pvalue)))
    return _ks_sorted(np.sort(a), np.sort(b))


def _ks_sorted(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The KS statistic of two sorted samples and its asymptotic p-value (see
    :func:`ks_two_sample`)."""
    n, m = a.size, b.size
    gap = 0.0
    for own, other, own_n, other_n in ((a, b, n, m), (b, a, m, n)):
        last = np.empty(own_n, dtype=bool)
        np.not_equal(own[1:], own[:-1], out=last[:-1])
        last[-1] = True
        at = np.flatnonzero(last)  # the last copy of each value: the CDF's value there
        own_cdf = (at + 1) / own_n
        other_cdf = np.searchsorted(other, own[at], side="right") / other_n
        gap = max(gap, float(np.max(np.abs(own_cdf - other_cdf))))
    p_value = float(stats.kstwobign.sf(gap * math.sqrt(n * m / (n + m))))
    return gap, min(1.0, max(0.0, p_value))


# --------------------------------------------------------------------------------------------
# Comparing


def type_kind(data_type: pa.DataType) -> str | None:
    """The kind of an Arrow type that a schema comparison looks at, or None for the ``null``
    type (no values, so no kind: it matches every kind).

    Integers of every width and signedness are ``integer``, floats ``float``, decimals
    ``decimal``; ``string``/``large_string``/``string_view`` are ``string``, the binaries
    ``binary``; a dictionary has its values' kind; a timestamp is ``timestamp`` (or ``timestamp
    with time zone``) whatever its unit, and ``date``, ``time``, ``duration`` likewise; nested
    types are spelled from their children's kinds (``list<integer>``).
    """
    t = data_type
    if pa.types.is_null(t):
        return None
    if pa.types.is_dictionary(t):
        return type_kind(t.value_type)
    simple = (
        (pa.types.is_boolean, "bool"),
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "float"),
        (pa.types.is_decimal, "decimal"),
        (pa.types.is_date, "date"),
        (pa.types.is_time, "time"),
        (pa.types.is_duration, "duration"),
    )
    for test, kind in simple:
        if test(t):
            return kind
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return "binary"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp"
    if pa.types.is_map(t):
        return f"map<{type_kind(t.key_type) or 'null'}, {type_kind(t.item_type) or 'null'}>"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    ):
        return f"list<{type_kind(t.value_type) or 'null'}>"
    if pa.types.is_struct(t):
        members = ", ".join(f"{f.name}: {type_kind(f.type) or 'null'}" for f in t)
        return f"struct<{members}>"
    return str(t)


@dataclass(frozen=True, slots=True)
class _Settings:
    bins: int
    alpha: float
    min_psi: float
    min_expected: float
    id_ratio: float
    epsilon: float


def compare(
    base: pa.Table,
    new: pa.Table,
    *,
    bins: int = 10,
    alpha: float = 0.01,
    min_psi: float = PSI_MODERATE,
    min_expected: float = 5.0,
    id_ratio: float = 0.95,
    epsilon: float = PSI_EPSILON,
) -> DriftReport:
    """What drifted from ``base`` (the baseline window) to ``new`` (the incident window), ranked.

    ``bins``: quantile bins of the baseline for a numeric column's PSI (2..1000; fewer when the
    baseline has ties). ``alpha``: the p-value under which a test counts. ``min_psi``: the PSI a
    statistical finding needs (default the moderate threshold). ``min_expected``: the expected
    count under which a category is pooled into "other" for the chi-square test. ``id_ratio``:
    the share of distinct values from which an integer or string column is an id. ``epsilon``:
    the share an empty bin counts as. The module docstring gives the rules; a column named
    twice, a non-table or a parameter out of range raise :class:`DriftError`.
    """
    settings = _settings(bins, alpha, min_psi, min_expected, id_ratio, epsilon)
    for label, table in (("base", base), ("new", new)):
        if not isinstance(table, pa.Table):
            raise DriftError(f"expected a pyarrow Table, got {type(table).__name__}", field=label)
        seen: set[str] = set()
        for column in table.column_names:
            if column in seen:
                raise DriftError(f"{label} table names column {_show(column)} twice", field=column)
            seen.add(column)
    findings: list[DriftFinding] = []
    skipped: list[SkippedColumn] = []
    base_names, new_names = set(base.column_names), set(new.column_names)
    for column in sorted(base_names - new_names):
        kind = type_kind(base.schema.field(column).type) or "null"
        findings.append(_schema(column, DriftKind.SCHEMA_REMOVED, kind, None))
    for column in sorted(new_names - base_names):
        kind = type_kind(new.schema.field(column).type) or "null"
        findings.append(_schema(column, DriftKind.SCHEMA_ADDED, None, kind))
    for column in sorted(base_names & new_names):
        _compare_column(
            column, base.column(column), new.column(column), settings, findings, skipped
        )
    findings.sort(key=lambda f: (-f.severity, f.column, _KIND_ORDER[f.kind]))
    parameters: dict[str, float | int] = {
        "alpha": alpha,
        "bins": bins,
        "epsilon": epsilon,
        "id_ratio": id_ratio,
        "min_expected": min_expected,
        "min_psi": min_psi,
    }
    return DriftReport(
        findings=tuple(findings),
        skipped=tuple(skipped),
        base_rows=base.num_rows,
        new_rows=new.num_rows,
        parameters=parameters,
    )


def _settings(
    bins: int, alpha: float, min_psi: float, min_expected: float, id_ratio: float, epsilon: float
) -> _Settings:
    """The parameters, checked: each out-of-range one raises :class:`DriftError` naming it."""
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= _MAX_BINS:
        raise DriftError(f"must be an integer from 2 to {_MAX_BINS}, got {bins!r}", field="bins")
    checks = (
        ("alpha", alpha, 0.0, 1.0, False),
        ("min_psi", min_psi, 0.0, math.inf, True),
        ("min_expected", min_expected, 0.0, math.inf, True),
        ("id_ratio", id_ratio, 0.0, 1.0, False),
        ("epsilon", epsilon, 0.0, 0.01, False),
    )
    for name, value, low, high, low_closed in checks:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        inside = number and math.isfinite(value) and value <= high
        inside = inside and (value >= low if low_closed else value > low)
        if not inside:
            bounds = f"{'[' if low_closed else '('}{low}, {high}]"
            raise DriftError(f"must be a number in {bounds}, got {value!r}", field=name)
    numbers = (float(alpha), float(min_psi), float(min_expected), float(id_ratio), float(epsilon))
    return _Settings(bins, *numbers)


def _schema(column: str, kind: DriftKind, before: str | None, after: str | None) -> DriftFinding:
    shown = _show(column)
    if kind is DriftKind.SCHEMA_REMOVED:
        reason = f"column {shown} ({before}) is gone from the new data"
    elif kind is DriftKind.SCHEMA_ADDED:
        reason = f"column {shown} ({after}) is new"
    else:
        reason = f"column {shown} changed type from {before} to {after}"
    statistics: dict[str, float | int | str | None] = {}
    if before is not None:
        statistics["base_type"] = before
    if after is not None:
        statistics["new_type"] = after
    return DriftFinding(column, kind, SCHEMA_SEVERITY[kind], reason, statistics)


def _compare_column(
    column: str,
    base: pa.ChunkedArray,
    new: pa.ChunkedArray,
    settings: _Settings,
    findings: list[DriftFinding],
    skipped: list[SkippedColumn],
) -> None:
    """The findings for one column present on both sides (appended to ``findings``)."""
    before, after = type_kind(base.type), type_kind(new.type)
    if before is not None and after is not None and before != after:
        findings.append(_schema(column, DriftKind.SCHEMA_RETYPED, before, after))
    if len(base) == 0 or len(new) == 0:
        side = "baseline" if len(base) == 0 else "new data"
        skipped.append(SkippedColumn(column, f"the {side} has no rows"))
        return
    base_missing, new_missing = _missing(base), _missing(new)
    finding = _null_rate(column, base_missing, len(base), new_missing, len(new), settings)
    if finding is not None:
        findings.append(finding)
    reason = _not_comparable(before, after, len(base) - base_missing, len(new) - new_missing)
    if reason is None and before in _ID_KINDS and after in _ID_KINDS:
        reason = _id_like(base, new, settings.id_ratio)
    if reason is not None:
        skipped.append(SkippedColumn(column, reason))
        return
    if before in _NUMERIC:
        try:
            base_values, new_values = _numbers(base), _numbers(new)
        except (pa.ArrowException, ValueError, OverflowError) as exc:
            skipped.append(SkippedColumn(column, f"values do not convert to numbers: {exc}"))
            return
        finding = _numeric_drift(column, base_values, new_values, settings)
        if finding is not None:
            findings.append(finding)
    else:
        findings.extend(_categorical_drift(column, base, new, settings))


def _not_comparable(
    before: str | None, after: str | None, base_values: int, new_values: int
) -> str | None:
    """Why the distributions of a column cannot be compared, or None when they can."""
    if base_values == 0 or new_values == 0:
        side = "baseline" if base_values == 0 else "new data"
        return f"no values in the {side} (all missing)"
    if before is None or after is None:  # only the null type; cannot happen with values
        return "no values to compare"
    families = [_family(kind) for kind in (before, after)]
    if families[0] != families[1]:
        return f"retyped from {before} to {after}: values not comparable"
    if families[0] == "temporal":
        return "time column: a baseline and an incident window differ in time by construction"
    if families[0] == "other":
        return f"type {before}: only the null rate is compared"
    return None


def _family(kind: str) -> str:
    if kind in _NUMERIC:
        return "numeric"
    if kind in _CATEGORICAL:
        return "categorical"
    if kind.startswith(_TEMPORAL_PREFIXES):
        return "temporal"
    return "other"


def _id_like(base: pa.ChunkedArray, new: pa.ChunkedArray, id_ratio: float) -> str | None:
    """The skip reason for a column whose values are nearly all distinct on both sides."""
    ratios = []
    for array in (base, new):
        values = _decoded(array)
        present = len(values) - values.null_count
        if present < ID_MIN_VALUES:
            return None
        ratios.append(pc.count_distinct(values).as_py() / present)
    if min(ratios) < id_ratio:
        return None
    return (
        f"looks like an id: {_pct(ratios[0])} of baseline values and {_pct(ratios[1])} of new "
        "values are distinct, so its distribution means nothing"
    )


def _decoded(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """``array`` with a dictionary encoding undone (each chunk may have its own dictionary)."""
    if not pa.types.is_dictionary(array.type):
        return array
    chunks = [chunk.dictionary_decode() for chunk in array.chunks]
    return pa.chunked_array(chunks, type=array.type.value_type)


def _missing(array: pa.ChunkedArray) -> int:
    """How many values are missing: nulls, and NaN in a float column."""
    missing = array.null_count
    if pa.types.is_floating(array.type) or (
        pa.types.is_dictionary(array.type) and pa.types.is_floating(array.type.value_type)
    ):
        missing += int(pc.sum(pc.is_nan(_decoded(array))).as_py() or 0)
    return missing


def _numbers(array: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """The present values of a numeric column as float64 (durations in seconds), NaN dropped."""
    array = _decoded(array)
    scale = 1.0
    if pa.types.is_duration(array.type):
        scale = _DURATION_SECONDS[array.type.unit]
        array = array.cast(pa.int64())
    values = pc.drop_null(array.cast(pa.float64())).to_numpy()
    values = values[~np.isnan(values)]
    return values * scale if scale != 1.0 else values


def _null_rate(
    column: str, base_missing: int, base_rows: int, new_missing: int, new_rows: int, s: _Settings
) -> DriftFinding | None:
    before, after = base_missing / base_rows, new_missing / new_rows
    psi = _split_psi(before, after, s.epsilon)
    z, p_value = two_proportion_z_test(base_missing, base_rows, new_missing, new_rows)
    if psi < s.min_psi or p_value >= s.alpha:
        return None
    direction = "rose" if after > before else "fell"
    reason = (
        f"missing values in {_show(column)} {direction} from {_pct(before)} to {_pct(after)} "
        f"(PSI {psi:.3g}, {_reading(psi)}; z {z:.3g}, p {p_value:.3g})"
    )
    statistics: dict[str, float | int | str | None] = {
        "base_null_rate": before,
        "base_nulls": base_missing,
        "new_null_rate": after,
        "new_nulls": new_missing,
        "psi": psi,
        "z": z,
    }
    return DriftFinding(
        column, DriftKind.NULL_RATE, severity_of_psi(psi), reason, statistics, p_value
    )


def _numeric_drift(
    column: str,
    base: npt.NDArray[np.float64],
    new: npt.NDArray[np.float64],
    s: _Settings,
) -> DriftFinding | None:
    """PSI over the baseline's quantile bins, and the KS test, for one numeric column."""
    base, new = np.sort(base), np.sort(new)
    n = base.size
    # Inverted-CDF quantiles: the cut for i/bins is the smallest baseline value whose empirical
    # CDF reaches i/bins, index ceil(i n / bins) - 1, in integers so that no rounding moves it.
    cuts = (np.arange(1, s.bins, dtype=np.int64) * n + s.bins - 1) // s.bins - 1
    edges = np.unique(base[cuts])
    # Right-closed bins (edges[k-1], edges[k]]: a cut value belongs to the bin it closes.
    base_counts = np.diff(np.searchsorted(base, edges, side="right"), prepend=0, append=n)
    new_counts = np.diff(np.searchsorted(new, edges, side="right"), prepend=0, append=new.size)
    psi = population_stability_index(base_counts, new_counts, epsilon=s.epsilon)
    if base.size <= KS_SCIPY_MAX_VALUES and new.size <= KS_SCIPY_MAX_VALUES:
        ks, p_value = ks_two_sample(base, new)
    else:
        ks, p_value = _ks_sorted(base, new)
    if psi < s.min_psi or p_value >= s.alpha:
        return None
    before, after = _median(base), _median(new)
    reason = (
        f"values of {_show(column)} shifted: PSI {psi:.3g} ({_reading(psi)}), KS {ks:.3g} "
        f"(p {p_value:.3g}); median {before:.4g} -> {after:.4g}"
    )
    statistics: dict[str, float | int | str | None] = {
        "base_count": int(base.size),
        "base_median": before,
        "bins": int(edges.size + 1),
        "ks_statistic": ks,
        "new_count": int(new.size),
        "new_median": after,
        "psi": psi,
    }
    return DriftFinding(
        column, DriftKind.DISTRIBUTION, severity_of_psi(psi), reason, statistics, p_value
    )


def _median(values: npt.NDArray[np.float64]) -> float:
    """The median of sorted ``values``."""
    middle = values.size // 2
    if values.size % 2:
        return float(values[middle])
    return float(values[middle - 1] / 2 + values[middle] / 2)


def _category_counts(array: pa.ChunkedArray) -> pa.Table:
    """``value`` (as large strings; booleans as ``true``/``false``) and ``count`` of a
    categorical column's present values."""
    values = pc.drop_null(_decoded(array).cast(pa.large_string()))
    counted = pc.value_counts(values)
    return pa.table(
        {
            "value": counted.field("values") if len(counted) else pa.array([], pa.large_string()),
            "count": counted.field("counts") if len(counted) else pa.array([], pa.int64()),
        }
    )


def _categorical_drift(
    column: str, base: pa.ChunkedArray, new: pa.ChunkedArray, s: _Settings
) -> list[DriftFinding]:
    """PSI and chi-square over the categories, and the new and vanished categories."""
    joined = (
        _category_counts(base)
        .rename_columns(["value", "base"])
        .join(
            _category_counts(new).rename_columns(["value", "new"]), "value", join_type="full outer"
        )
        .sort_by("value")
    )
    values = joined.column("value").to_pylist()
    base_counts = pc.fill_null(joined.column("base"), 0).to_numpy().astype(np.int64)
    new_counts = pc.fill_null(joined.column("new"), 0).to_numpy().astype(np.int64)
    base_total, new_total = int(base_counts.sum()), int(new_counts.sum())
    findings: list[DriftFinding] = []
    psi = population_stability_index(base_counts, new_counts, epsilon=s.epsilon)
    chi2, dof, p_value, pooled = _chi_square(base_counts, new_counts, s.min_expected)
    if psi >= s.min_psi and p_value < s.alpha:
        reason = (
            f"categories of {_show(column)} shifted: PSI {psi:.3g} ({_reading(psi)}), "
            f"chi-square {chi2:.4g} on {dof} dof (p {p_value:.3g})"
        )
        statistics: dict[str, float | int | str | None] = {
            "base_count": base_total,
            "categories": len(values),
            "chi2": chi2,
            "dof": dof,
            "new_count": new_total,
            "pooled": pooled,
            "psi": psi,
        }
        findings.append(
            DriftFinding(
                column, DriftKind.DISTRIBUTION, severity_of_psi(psi), reason, statistics, p_value
            )
        )
    for kind, mask, counts, total, other_total in (
        (DriftKind.NEW_CATEGORIES, base_counts == 0, new_counts, new_total, base_total),
        (DriftKind.VANISHED_CATEGORIES, new_counts == 0, base_counts, base_total, new_total),
    ):
        finding = _category_set(column, kind, values, mask, counts, total, other_total, s)
        if finding is not None:
            findings.append(finding)
    return findings


def _chi_square(
    base_counts: npt.NDArray[np.int64], new_counts: npt.NDArray[np.int64], min_expected: float
) -> tuple[float, int, float, int]:
    """``(chi2, dof, p-value, categories pooled)`` for the 2 x k table, the categories whose
    expected count is under ``min_expected`` in either row pooled into one "other" column; when
    "other" is itself still under, it is merged into the kept category with the fewest rows (the
    first such in value order). scipy's defaults otherwise (Yates' correction on a 2 x 2 table).
    No test (chi2 0, p 1) when fewer than two columns remain."""
    base_total, new_total = int(base_counts.sum()), int(new_counts.sum())
    share_low = min(base_total, new_total) / (base_total + new_total)
    small = (base_counts + new_counts) * share_low < min_expected
    table = np.vstack([base_counts[~small], new_counts[~small]])
    if small.any():
        other = np.array([base_counts[small].sum(), new_counts[small].sum()])
        if other.sum() * share_low < min_expected and table.shape[1] > 0:
            table[:, int(np.argmin(table.sum(axis=0)))] += other
        else:
            table = np.hstack([table, other[:, np.newaxis]])
    if table.shape[1] < 2:
        return 0.0, 0, 1.0, int(small.sum())
    result = stats.chi2_contingency(table)
    p_value = float(result.pvalue)
    return float(result.statistic), int(result.dof), min(1.0, max(0.0, p_value)), int(small.sum())


def _category_set(
    column: str,
    kind: DriftKind,
    values: list[str],
    mask: npt.NDArray[np.bool_],
    counts: npt.NDArray[np.int64],
    total: int,
    other_total: int,
    s: _Settings,
) -> DriftFinding | None:
    """The new (or vanished) categories of a column as one finding, when they matter: their
    share of the side that has them, against zero on the other side."""
    hits = int(counts[mask].sum())
    if hits == 0:
        return None
    share = hits / total
    new = kind is DriftKind.NEW_CATEGORIES
    before, after = (0.0, share) if new else (share, 0.0)
    psi = _split_psi(before, after, s.epsilon)
    if new:
        _, p_value = two_proportion_z_test(0, other_total, hits, total)
    else:
        _, p_value = two_proportion_z_test(hits, total, 0, other_total)
    if psi < s.min_psi or p_value >= s.alpha:
        return None
    index = np.flatnonzero(mask)
    order = sorted(index.tolist(), key=lambda i: (-int(counts[i]), values[i]))
    listed = tuple((values[i], int(counts[i]) / total) for i in order[:_MAX_LISTED])
    shown = ", ".join(f"{_show(value)} {_pct(part)}" for value, part in listed[:3])
    more = f" and {len(order) - 3} more" if len(order) > 3 else ""
    side = "of the new rows" if new else "of the baseline rows"
    verb = "appeared" if new else "vanished"
    reason = (
        f"{len(order)} categor{'y' if len(order) == 1 else 'ies'} of {_show(column)} {verb}, "
        f"{_pct(share)} {side}: {shown}{more} (PSI {psi:.3g}, {_reading(psi)}; p {p_value:.3g})"
    )
    statistics: dict[str, float | int | str | None] = {
        "count": len(order),
        "psi": psi,
        "share": share,
    }
    return DriftFinding(column, kind, severity_of_psi(psi), reason, statistics, p_value, listed)


# --------------------------------------------------------------------------------------------
# Taxonomy


def suggested_class(report: DriftReport) -> tuple[str, str] | None:
    """``("data", reason)`` when the report shows the data itself drifted, else None.

    A removed or retyped column, a null-rate jump, or new or vanished categories are the data
    class in the cause taxonomy (the glossary's "a feature job that defaulted to nulls after an
    upstream schema change"); the reason is the highest-ranked such finding's. A distribution
    shift alone is also the data class, its reason saying that a real change in traffic looks
    the same. Added columns alone, or no findings at all, give None: a new column breaks no
    reader.
    """
    broken = [f for f in report.findings if f.kind in _DATA_KINDS]
    if broken:
        others = len(broken) - 1
        more = f" (and {others} more schema, null-rate or category finding{'s' * (others != 1)})"
        return CauseClass.DATA.value, broken[0].reason + (more if others else "")
    shifted = [f for f in report.findings if f.kind is DriftKind.DISTRIBUTION]
    if shifted:
        return (
            CauseClass.DATA.value,
            f"{shifted[0].reason}; the input data shifted, though a real change in traffic "
            "looks the same",
        )
    return None


# --------------------------------------------------------------------------------------------
# Formatting


def _show(text: str) -> str:
    """``text`` quoted for a one-line sentence: controls escaped, long values cut."""
    text = escape_controls(text)
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 1] + "…"
    return f"'{text}'"


def _clip(message: str) -> str:
    """An outside message shortened to one readable clause."""
    message = escape_controls(message.strip().splitlines()[0] if message.strip() else message)
    return message if len(message) <= 200 else message[:199] + "…"


def _pct(share: float) -> str:
    return f"{share * 100:.3g} %"


def _reading(psi: float) -> str:
    return "major" if psi >= PSI_MAJOR else "moderate" if psi >= PSI_MODERATE else "minor"


def _rounded(value: Any) -> Any:
    """A statistic made JSON-ready: numpy scalars to Python, floats to six significant digits,
    non-finite floats to None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.6g}")
