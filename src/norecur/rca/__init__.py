"""Faults out: analyzers that read the canonical span table and rank root-cause candidates.

An analyzer (:class:`Analyzer`) takes its parameters in the constructor only, returns ranked
:class:`Candidate` objects whose score is the sum of named, weighted :class:`Evidence`, and is
registered by name, its docstring being its user documentation (:func:`default_analyzers`).
"""

from norecur.rca._analyzer import (
    ENTRY_POINT_GROUP,
    SORT_KEYS,
    Analyzer,
    AnalyzerRegistry,
    Context,
    default_analyzers,
)
from norecur.rca._classify import CLASS_RULES, Classification, ClassRule, Clues, classify
from norecur.rca._combine import Ranked, combine
from norecur.rca._diagnose import DEFAULT_WEIGHTS, default_engine_analyzers, diagnose
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca._report import FAULT_REPORT_SCHEMA, SCHEMA_VERSION, FaultReport
from norecur.rca._signals import failed_traces, span_failures

__all__ = [
    "CLASS_RULES",
    "DEFAULT_WEIGHTS",
    "ENTRY_POINT_GROUP",
    "FAULT_REPORT_SCHEMA",
    "SCHEMA_VERSION",
    "SORT_KEYS",
    "Analyzer",
    "AnalyzerRegistry",
    "Candidate",
    "ClassRule",
    "Classification",
    "Clues",
    "Context",
    "Evidence",
    "FaultReport",
    "Ranked",
    "classify",
    "combine",
    "default_analyzers",
    "default_engine_analyzers",
    "diagnose",
    "failed_traces",
    "span_failures",
]
