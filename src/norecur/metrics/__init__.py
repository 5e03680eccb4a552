"""Enforcement signals: closure rate, completion SLO, backlog, cause trends, apparatus updates, MTTx.

Each signal is one function over :class:`SignalData` whose docstring is its definition, precise
enough to recompute by hand; :func:`build_report` runs them all over one window and returns the
JSON-ready document the report renderers draw, and :func:`prometheus_text` exposes it to
Prometheus.
"""

from norecur.metrics._closure import WONT_DO_MODES, WontDoMode, closure_rate
from norecur.metrics._common import NO_TEAM
from norecur.metrics._data import (
    ApparatusRecord,
    FollowUpRecord,
    IncidentRecord,
    PostmortemRecord,
    SignalData,
    load_signal_data,
)
from norecur.metrics._mttx import MEASURES, duration_stats, mttx
from norecur.metrics._periods import quarter_of, quarter_window, trend_start, window_label
from norecur.metrics._prometheus import PROMETHEUS_CONTENT_TYPE, prometheus_text
from norecur.metrics._report import REPORT_VERSION, build_report
from norecur.metrics._slo import completion_slo, postmortem_backlog
from norecur.metrics._trends import (
    APPARATUS_KINDS,
    CAUSE_CLASSES,
    apparatus_updates,
    cause_distribution,
    eval_coverage,
)

__all__ = [
    "APPARATUS_KINDS",
    "CAUSE_CLASSES",
    "MEASURES",
    "NO_TEAM",
    "PROMETHEUS_CONTENT_TYPE",
    "REPORT_VERSION",
    "WONT_DO_MODES",
    "ApparatusRecord",
    "FollowUpRecord",
    "IncidentRecord",
    "PostmortemRecord",
    "SignalData",
    "WontDoMode",
    "apparatus_updates",
    "build_report",
    "cause_distribution",
    "closure_rate",
    "completion_slo",
    "duration_stats",
    "eval_coverage",
    "load_signal_data",
    "mttx",
    "postmortem_backlog",
    "prometheus_text",
    "quarter_of",
    "quarter_window",
    "trend_start",
    "window_label",
]
