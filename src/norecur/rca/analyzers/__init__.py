"""The built-in RCA analyzers, one module each, registered like a plugin's would be."""

from norecur.rca.analyzers.agent_steps import AgentStepBlame
from norecur.rca.analyzers.latency import LatencyShift

__all__ = ["ANALYZERS", "AgentStepBlame", "LatencyShift"]

ANALYZERS = (AgentStepBlame, LatencyShift)
"""Every built-in analyzer."""
