"""The built-in RCA analyzers, one module each, registered like a plugin's would be."""

from norecur.rca.analyzers.agent_patterns import AgentPatterns
from norecur.rca.analyzers.agent_steps import AgentStepBlame
from norecur.rca.analyzers.change import NewValues
from norecur.rca.analyzers.events import ChangeEvents
from norecur.rca.analyzers.kpi import KpiShift
from norecur.rca.analyzers.latency import LatencyShift
from norecur.rca.analyzers.patterns import PatternShift
from norecur.rca.analyzers.propagation import ErrorPropagation
from norecur.rca.analyzers.resource import ResourceAnomaly
from norecur.rca.analyzers.spectrum import SpectrumLocalizer

__all__ = [
    "ANALYZERS",
    "AgentPatterns",
    "AgentStepBlame",
    "ChangeEvents",
    "ErrorPropagation",
    "KpiShift",
    "LatencyShift",
    "NewValues",
    "PatternShift",
    "ResourceAnomaly",
    "SpectrumLocalizer",
]

ANALYZERS = (
    AgentPatterns,
    AgentStepBlame,
    ChangeEvents,
    ErrorPropagation,
    KpiShift,
    LatencyShift,
    NewValues,
    PatternShift,
    ResourceAnomaly,
    SpectrumLocalizer,
)
"""Every built-in analyzer."""
