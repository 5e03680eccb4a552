"""Fault injection: synthetic traces of AI systems with labelled root causes, for tests and
benchmarks.

Three systems (an LLM RAG assistant, a tool-using agent, a TrainTicket-like microservice shop)
are simulated request by request and written as OTLP/JSON. Each case pairs a fault-free baseline
with an incident window in which one injected fault (one of the kinds in :data:`FAULT_KINDS`,
covering all eight :class:`~norecur.model.CauseClass` values) hits a varying share of the traces,
among realistic noise and, sometimes, a decoy anomaly. The label is returned separately; nothing
in the traces names the fault.

    from norecur.faultgen import write_suite
    write_suite("out/faultgen", seed=2026, n_cases=240)

The same seed always gives byte-identical files. See ``_faults`` for every fault kind, what it
injects and the signal it leaves, and ``_suite`` for how a case is drawn.
"""

from norecur.faultgen._faults import FAULT_KINDS, TOPOLOGIES, FaultKind, kinds_for
from norecur.faultgen._suite import (
    BASE_TIME_NS,
    DEFAULT_SEED,
    Case,
    generate_case,
    generate_suite,
    suite_plan,
    write_suite,
)

__all__ = [
    "BASE_TIME_NS",
    "DEFAULT_SEED",
    "FAULT_KINDS",
    "TOPOLOGIES",
    "Case",
    "FaultKind",
    "generate_case",
    "generate_suite",
    "kinds_for",
    "suite_plan",
    "write_suite",
]
