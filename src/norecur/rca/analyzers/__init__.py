"""The built-in RCA analyzers, one module each, registered like a plugin's would be."""

from norecur.rca.analyzers.agent_steps import AgentStepBlame

__all__ = ["ANALYZERS", "AgentStepBlame"]

ANALYZERS = (AgentStepBlame,)
"""Every built-in analyzer."""
