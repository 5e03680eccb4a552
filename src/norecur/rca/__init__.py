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
from norecur.rca._evidence import Candidate, Evidence

__all__ = [
    "ENTRY_POINT_GROUP",
    "SORT_KEYS",
    "Analyzer",
    "AnalyzerRegistry",
    "Candidate",
    "Context",
    "Evidence",
    "default_analyzers",
]
