"""The canonical span table: documented columns and the batch builder."""

from __future__ import annotations

import pytest

from norecur.telemetry import SPAN_SCHEMA, SpanBatch


def test_every_column_is_documented():
    assert len(SPAN_SCHEMA) == 28
    for field in SPAN_SCHEMA:
        assert field.metadata[b"doc"].strip()


def test_span_batch_builds_and_flushes():
    batch = SpanBatch()
    batch.append(
        trace_id="a" * 32,
        span_id="b" * 16,
        name="n",
        kind="INTERNAL",
        start_ns=1,
        end_ns=2,
        duration_ns=1,
        status_code="UNSET",
        exception_count=0,
        attributes="{}",
        resource="{}",
        source="test",
    )
    assert len(batch) == 1
    table = batch.flush()
    assert table.schema.equals(SPAN_SCHEMA)
    assert table.column("parent_span_id").to_pylist() == [None]
    assert len(batch) == 0
    with pytest.raises(ValueError, match="unknown span columns: bogus"):
        batch.append(bogus=1)
