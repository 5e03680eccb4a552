"""pattern-shift: a shop whose traces and logs are written as gzip CSV files in the TrainTicket
(Nezha) layout and read back by the real readers, with the fault, and so the moved patterns,
known.

Every checkout is ``frontend GET /checkout -> orders POST /orders``, which calls
``payment POST /pay`` (which calls ``bank POST /charge``) and then ``stock POST /reserve``. Each
service logs a line or two per call, as Java services do: time, level, ``Class#line``, trace and
span id, message.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norecur.rca import default_analyzers
from norecur.rca.analyzers import PatternShift
from norecur.rca.analyzers.latency import WINDOW
from norecur.rca.analyzers.patterns import _binom_cdf, _binom_sf, mask_lines
from norecur.telemetry import SPAN_SCHEMA
from norecur.telemetry.readers import LogsReader, SpanCsvReader

T0 = 1_674_982_000_000_000_000
"""2023-01-29 08:46:40 UTC, in ns."""
MS = 1_000_000
CITIES = ("berlin", "paris", "rome")
NAMES = ("alice", "bob", "carol")
SERVICES = ("frontend", "orders", "payment", "bank", "stock")
TRACE_HEADER = [
    "TraceID",
    "SpanID",
    "ParentID",
    "PodName",
    "OperationName",
    "StartTimeUnixNano",
    "EndTimeUnixNano",
    "Duration",
]
LOG_HEADER = [
    "Timestamp",
    "TimeUnixNano",
    "Node",
    "PodName",
    "Container",
    "TraceID",
    "SpanID",
    "Log",
]


def _pod(service: str) -> str:
    return f"{service}-5f9c7d8b6-x2k4q"


def _clock(ns: int) -> str:
    seconds, fraction = divmod(ns // MS, 1000)
    return (
        f"{(seconds // 3600) % 24:02d}:{(seconds // 60) % 60:02d}:{seconds % 60:02d}.{fraction:03d}"
    )


def _uuid(index: int, salt: int) -> str:
    digits = f"{index * 7919 + salt:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    return path


class _Checkout:
    """The rows of one checkout: spans and log lines, with its ids and start time."""

    def __init__(self, index: int, spans: list[list[str]], logs: list[list[str]]) -> None:
        self.trace = f"{index + 1:032x}"
        self.start = T0 + index * 1000 * MS
        self.ids = {service: f"{index + 1:08x}{n + 1:08x}" for n, service in enumerate(SERVICES)}
        self.spans = spans
        self.logs = logs

    def span(self, service: str, parent: str | None, op: str, begin: int, end: int) -> None:
        self.spans.append(
            [
                self.trace,
                self.ids[service],
                self.ids[parent] if parent else "root",
                _pod(service),
                op,
                str(self.start + begin * MS),
                str(self.start + end * MS),
                str((end - begin) * 1000),
            ]
        )

    def log(self, service: str, at: int, level: str, where: str, text: str) -> None:
        ns = self.start + at * MS
        line = (
            f"{_clock(ns)} {level:5} {where} TraceID: {self.trace} SpanID: {self.ids[service]} "
            + text
        )
        envelope = json.dumps({"log": line + "\n", "stream": "stdout", "time": "t"})
        self.logs.append(
            [
                "t",
                str(ns),
                "10.0.0.1",
                _pod(service),
                "server",
                self.trace,
                self.ids[service],
                envelope,
            ]
        )


def shop(
    tmp_path: Path, name: str, traces: int, *, first: int = 0, fault: str | None = None
) -> tuple[pa.Table, pa.Table]:
    """Spans and logs of ``traces`` checkouts, written as ``<name>_trace.csv.gz`` and
    ``<name>_log.csv.gz`` and read back. ``fault="payment"``: payment throws after its first log
    line (no ``charged`` line, no bank call) and orders logs a WARN and skips stock and its
    completion line. ``fault="stock"``: stock logs a new ERROR line in every other call."""
    spans: list[list[str]] = []
    logs: list[list[str]] = []
    for i in range(first, first + traces):
        order = _uuid(i, 1)
        c = _Checkout(i, spans, logs)
        c.span("frontend", None, "GET /checkout", 0, 100)
        c.log("frontend", 1, "INFO", "c.e.Frontend#10", f"checkout of {i % 4 + 1} items")
        c.span("orders", "frontend", "POST /orders", 5, 90)
        c.log(
            "orders",
            6,
            "INFO",
            "c.e.OrderService#42",
            f"creating order {order} for user '{NAMES[i % 3]}'",
        )
        c.span("payment", "orders", "POST /pay", 10, 40)
        c.log("payment", 11, "INFO", "c.e.PaymentService#20", f"charging card {i * 104729:016x}")
        if fault == "payment":
            c.log("orders", 41, "WARN", "c.e.OrderService#61", f"payment failed for order {order}")
            continue
        c.span("bank", "payment", "POST /charge", 15, 35)
        c.log("bank", 16, "INFO", "c.e.BankGateway#12", f"authorised transaction {i * 7 + 3}")
        c.log(
            "payment",
            38,
            "INFO",
            "c.e.PaymentService#31",
            f"charged {i % 50 + 0.5} to card ending {4000 + i % 9}",
        )
        c.span("stock", "orders", "POST /reserve", 45, 80)
        c.log(
            "stock",
            46,
            "INFO",
            "c.e.StockService#33",
            f"reserved {i % 3 + 1} of item {NAMES[i % 2]} at warehouse {CITIES[i % 3]}",
        )
        if fault == "stock" and i % 2 == 0:
            c.log(
                "stock",
                79,
                "ERROR",
                "c.e.StockService#80",
                f"reservation slow, retry after {i * 10} ms",
            )
        c.log(
            "orders",
            85,
            "INFO",
            "c.e.OrderService#57",
            f"order {order} completed in {i % 20 + 3} ms",
        )
    trace_path = _write(tmp_path / f"{name}_trace.csv.gz", TRACE_HEADER, spans)
    log_path = _write(tmp_path / f"{name}_log.csv.gz", LOG_HEADER, logs)
    return SpanCsvReader().read_table(trace_path), LogsReader().read_table(log_path)


@pytest.fixture
def baseline(tmp_path: Path) -> tuple[pa.Table, pa.Table]:
    return shop(tmp_path, "baseline", 40)


def _fitted(baseline: tuple[pa.Table, pa.Table], **params: float) -> PatternShift:
    spans, logs = baseline
    return PatternShift(**params).fit(spans, logs=logs)


def _summary(candidates: list) -> list[tuple[str, float, list[str]]]:
    return [(c.component, c.score, [item.kind for item in c.evidence]) for c in candidates]


def test_the_service_that_stops_logging_and_calling_is_ranked_first(tmp_path, baseline):
    spans, logs = shop(tmp_path, "incident", 40, first=100, fault="payment")
    candidates = _fitted(baseline).analyze(spans, logs=logs)
    assert {c.trace_id for c in candidates} == {WINDOW}
    assert _summary(candidates) == [
        ("payment", 2.0, ["call_edge_vanished", "log_template_vanished"]),
        (
            "orders",
            1.75,
            [
                "call_edge_vanished",
                "error_rate_up",
                "log_template_vanished",
                "log_template_new",
                "callee_moved",
            ],
        ),
        ("frontend", 0.0, []),
    ]
    top = candidates[0]
    assert top.rank == 1
    assert top.evidence[0].reason == (
        "payment POST /pay: call to bank POST /charge fell: expected 40.0 (40 in the "
        "baseline's 40 calls, scaled to 40), observed 0 (p = 9.1e-13)"
    )
    assert top.evidence[1].reason == (
        'payment POST /pay: log template "<TIME> INFO c.e.PaymentService#31 TraceID: <HEX> '
        'SpanID: <HEX> charged <NUM> to card ending <NUM>" fell: expected 40.0 (40 in the '
        "baseline's 40 calls, scaled to 40), observed 0 (p = 9.1e-13)"
    )
    # the example spans are the payment calls that should have logged and called
    assert top.span_id == "00000065" + "00000003"
    assert top.evidence[0].span_ids == (
        "0000006500000003",
        "0000006600000003",
        "0000006700000003",
    )


def test_a_caller_that_moved_because_its_callee_failed_is_not_ranked_above_it(tmp_path, baseline):
    spans, logs = shop(tmp_path, "incident", 40, first=100, fault="payment")
    candidates = _fitted(baseline).analyze(spans, logs=logs)
    orders = next(c for c in candidates if c.component == "orders")
    assert orders.rank == 2
    discount = orders.evidence[-1]
    assert (discount.kind, discount.value, discount.weight, discount.contribution) == (
        "callee_moved",
        -3.5,
        0.5,
        -1.75,
    )
    assert discount.reason == (
        "orders calls payment (2.00), whose patterns moved too: its own shift may be their "
        "failure propagating"
    )
    # without the discount the caller, which moved more, would be blamed
    undiscounted = _fitted(baseline, caller_discount=0.0).analyze(spans, logs=logs)
    assert [(c.component, c.score) for c in undiscounted[:2]] == [("orders", 3.5), ("payment", 2.0)]


def test_call_patterns_alone_find_the_service_without_logs(tmp_path, baseline):
    spans, _ = shop(tmp_path, "incident", 40, first=100, fault="payment")
    analyzer = PatternShift().fit(baseline[0])
    assert _summary(analyzer.analyze(spans)) == [
        ("payment", 1.0, ["call_edge_vanished"]),
        ("orders", 0.5, ["call_edge_vanished", "callee_moved"]),
        ("frontend", 0.0, []),
    ]


def test_a_new_error_template_blames_its_service(tmp_path, baseline):
    spans, logs = shop(tmp_path, "incident", 40, first=100, fault="stock")
    candidates = _fitted(baseline).analyze(spans, logs=logs)
    assert _summary(candidates) == [
        ("stock", 1.5, ["error_rate_up", "log_template_new"]),
        ("frontend", 0.0, []),
        ("orders", 0.0, []),
        ("payment", 0.0, []),
        ("bank", 0.0, []),
    ]
    assert candidates[0].evidence[0].reason == (
        'stock POST /reserve: ERROR log template "<TIME> ERROR c.e.StockService#80 TraceID: '
        '<HEX> SpanID: <HEX> reservation slow, retry after <NUM> ms" rose: expected 0.0 (0 in '
        "the baseline's 40 calls, scaled to 40), observed 20 (p = 9.5e-07)"
    )
    assert candidates[0].evidence[1].reason == (
        'stock POST /reserve: log template "<TIME> ERROR c.e.StockService#80 TraceID: <HEX> '
        'SpanID: <HEX> reservation slow, retry after <NUM> ms" is new: observed 20 in 40 calls, '
        "never in the baseline's 40 (p = 9.5e-07)"
    )
    assert candidates[0].span_id == "0000006500000005"  # the first call that logged it


def test_a_traffic_drop_alone_blames_no_one(tmp_path, baseline):
    spans, logs = shop(tmp_path, "incident", 10, first=100)
    candidates = _fitted(baseline).analyze(spans, logs=logs)
    # every service still present, none moved (equal scores: in first-span order)
    assert [(c.component, c.score, c.evidence) for c in candidates] == [
        (service, 0.0, ()) for service in SERVICES
    ]


def test_templates_mask_ids_and_numbers_and_keep_the_code_location(baseline):
    analyzer = _fitted(baseline)
    assert analyzer.templates_ == {
        ("bank", "INFO"): (
            "<TIME> INFO c.e.BankGateway#12 TraceID: <HEX> SpanID: <HEX> authorised transaction "
            "<NUM>",
        ),
        ("frontend", "INFO"): (
            "<TIME> INFO c.e.Frontend#10 TraceID: <HEX> SpanID: <HEX> checkout of <NUM> items",
        ),
        ("orders", "INFO"): (
            "<TIME> INFO c.e.OrderService#42 TraceID: <HEX> SpanID: <HEX> creating order <UUID> "
            "for user <STR>",
            "<TIME> INFO c.e.OrderService#57 TraceID: <HEX> SpanID: <HEX> order <UUID> "
            "completed in <NUM> ms",
        ),
        ("payment", "INFO"): (
            "<TIME> INFO c.e.PaymentService#20 TraceID: <HEX> SpanID: <HEX> charging card <HEX>",
            "<TIME> INFO c.e.PaymentService#31 TraceID: <HEX> SpanID: <HEX> charged <NUM> to "
            "card ending <NUM>",
        ),
        # item and warehouse vary from line to line: clustered into one template
        ("stock", "INFO"): (
            "<TIME> INFO c.e.StockService#33 TraceID: <HEX> SpanID: <HEX> reserved <NUM> of "
            "item <*> at warehouse <*>",
        ),
    }


def test_mask_lines_exactly():
    lines = pa.array(
        [
            "2023-01-29 08:48:42.425 WARN  c.e.X#12 TraceID: 49a51828322183eb20bfe4ace3060000 "
            "order 3f2a1c9e-8b05-4f8f-8f94-6c886b3d0e11 for user 'bob' took 12.5 ms, code 0x1F,"
            " train G1234, span=-3\n\tat com.example.Foo.bar(Foo.java:12)",
            'reply "not found" at 16:48:42 (deadbeefcafe01) [0, 50]',
            None,
        ]
    )
    assert mask_lines(lines).to_pylist() == [
        "<DATE> <TIME> WARN c.e.X#12 TraceID: <HEX> order <UUID> for user <STR> took <NUM> ms,"
        " code <HEX>, train G1234, span=<NUM>",
        "reply <STR> at <TIME> (<HEX>) [<NUM>, <NUM>]",
        "",
    ]


def test_long_lines_are_cut_to_their_head(tmp_path):
    spans, logs = shop(tmp_path, "baseline", 4)
    analyzer = PatternShift(max_tokens=8).fit(spans, logs=logs)
    assert analyzer.templates_[("frontend", "INFO")] == (
        "<TIME> INFO c.e.Frontend#10 TraceID: <HEX> SpanID: ...",
    )


def test_unfitted_and_empty_inputs_give_nothing(tmp_path, baseline):
    spans, logs = shop(tmp_path, "incident", 5, first=100, fault="payment")
    assert PatternShift().analyze(spans, logs=logs) == []
    assert PatternShift().fit(None).analyze(spans, logs=logs) == []
    assert PatternShift().fit(SPAN_SCHEMA.empty_table()).analyze(spans, logs=logs) == []
    fitted = _fitted(baseline)
    assert fitted.analyze(SPAN_SCHEMA.empty_table()) == []
    assert fitted.analyze(SPAN_SCHEMA.empty_table(), logs=logs) == []


def test_parameters_are_validated(baseline):
    for params, message in [
        ({"alpha": 0.0}, "alpha must be in"),
        ({"min_shift": 1.5}, "min_shift must be in"),
        ({"similarity": -0.1}, "similarity must be in"),
        ({"max_tokens": 0}, "max_tokens must be an integer"),
        ({"max_evidence": True}, "max_evidence must be an integer"),
        ({"w_edge_new": -1.0}, "w_edge_new must be >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            PatternShift(**params).fit(baseline[0])


def test_registered_with_its_docstring_as_documentation():
    assert default_analyzers().get("pattern-shift") is PatternShift
    doc = PatternShift.__doc__ or ""
    for kind in (
        "log_template_vanished",
        "log_template_new",
        "error_rate_up",
        "call_edge_vanished",
        "call_edge_new",
        "callee_moved",
    ):
        assert kind in doc


@pytest.mark.parametrize(("n", "p"), [(1, 0.5), (7, 0.25), (40, 0.5), (60, 0.9)])
def test_binomial_tails_match_the_exact_sums(n, p):
    def pmf(k: int) -> float:
        return math.comb(n, k) * p**k * (1 - p) ** (n - k)

    for k in range(n + 1):
        assert _binom_cdf(k, n, p) == pytest.approx(sum(pmf(j) for j in range(k + 1)), rel=1e-9)
        assert _binom_sf(k, n, p) == pytest.approx(sum(pmf(j) for j in range(k, n + 1)), rel=1e-9)


@pytest.fixture(scope="module")
def shuffled_world(tmp_path_factory):
    """A fitted analyzer, its baseline and a payment incident (built once for the module)."""
    folder = tmp_path_factory.mktemp("shop")
    baseline = shop(folder, "baseline", 40)
    incident = shop(folder, "incident", 30, first=100, fault="payment")
    return PatternShift().fit(baseline[0], logs=baseline[1]), baseline, incident


def _permuted(table: pa.Table, rng: random.Random) -> pa.Table:
    order = list(range(table.num_rows))
    rng.shuffle(order)
    return table.take(pa.array(order, pa.int64()))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_result(shuffled_world, rng):
    analyzer, (base_spans, base_logs), (spans, logs) = shuffled_world
    expected = analyzer.analyze(spans, logs=logs)
    assert expected[0].component == "payment"
    assert analyzer.analyze(_permuted(spans, rng), logs=_permuted(logs, rng)) == expected
    refit = PatternShift().fit(_permuted(base_spans, rng), logs=_permuted(base_logs, rng))
    assert refit.templates_ == analyzer.templates_
    assert refit.patterns_ == analyzer.patterns_
