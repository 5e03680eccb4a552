"""Cases and suites: a fault plan per case, baseline and incident traces, and the label.

A case is drawn from one ``random.Random`` seeded by ``(seed, case_index)``, so it does not depend
on which other cases are generated, and the same seed gives byte-identical files. Times start at a
fixed epoch (2026-01-05T09:00:00Z, three hours apart per case); ids come from the same generator.

Per case:

* the **baseline** is a fault-free window of traces (with the same background noise as always:
  transient errors, hard questions failing an evaluation, heavy-tailed latency);
* the **incident** is a window of the same system where, inside a sub-window, each trace is hit
  by the fault with some probability (the case's fraction varies), canary faults expose a larger
  share to their fingerprint than they hurt, and transient faults let some retries succeed;
* in about 40 % of cases a **decoy** adds a smaller, unrelated anomaly in another service: a
  latency shift, a burst of transient errors, or a harmless deploy (a new ``service.version``).

The label names the service and the spans where the fault originated and splits the failing
traces into those the fault failed and the others (noise, decoy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from norecur.faultgen import _agent, _llm, _micro
from norecur.faultgen._faults import FAULT_KINDS, TOPOLOGIES, FaultKind, kinds_for
from norecur.faultgen._trace import Service, Trace, encode
from norecur.model import CauseClass

__all__ = [
    "BASE_TIME_NS",
    "DEFAULT_SEED",
    "Case",
    "generate_case",
    "generate_suite",
    "suite_plan",
    "write_suite",
]

BASE_TIME_NS = 1_767_603_600 * 10**9
"""2026-01-05T09:00:00Z: case 0's incident starts here, case ``i``'s ``3 * i`` hours later."""
DEFAULT_SEED = 2026
"""The seed of the published benchmark suite."""

_CASE_SPACING_NS = 3 * 3600 * 10**9
_MODULES: dict[str, ModuleType] = {"llm": _llm, "agent": _agent, "microservice": _micro}
_CLASSES = list(CauseClass)
_DEPLOYS = {
    # kind -> how exposed traces reach the fault's service: a new version or another pod.
    "model_snapshot_drift": "version",
    "model_refusal_drift": "version",
    "model_format_drift": "version",
    "retrieval_empty_results": "version",
    "tool_schema_change": "version",
    "tool_handler_exception": "version",
    "upstream_service_exception": "version",
    "apparatus_evaluator_crash": "version",
    "gateway_401": "pod",
}
_LATENCY = frozenset({"upstream_network_delay", "upstream_cpu_contention", "upstream_db_slow"})
"""Kinds that may leave no failed request at all (only slowness), so a case is never redrawn
for having too few failing traces."""
_NEW_MODELS = (
    "llama-4-scout-17b-16e-instruct",
    "llama-4-maverick-17b-128e-instruct",
    "qwen3-32b",
    "mistral-large-2411",
)
_NEW_EMBEDDINGS = ("text-embedding-3-small", "nomic-embed-text-v1.5", "e5-large-v2")
_NEW_JUDGES = ("gpt-4.1-nano-2025-04-14", "o4-mini-2025-04-16")


@dataclass(frozen=True, slots=True)
class Case:
    """One generated case: two OTLP/JSON documents and the label (kept out of the traces)."""

    incident: bytes
    """The incident window, an OTLP/JSON ``ExportTraceServiceRequest``."""
    baseline: bytes
    """A fault-free window of the same system before the incident."""
    label: dict[str, Any]
    """Ground truth: ``case_id``, ``topology``, ``cause_class``, ``service``, ``fault``,
    ``span_ids``, ``failing_trace_ids``, ``other_failing_trace_ids``, ``fraction``,
    ``description``, ``decoy``, ``window``, ``seed``, ``case_index``."""

    @property
    def case_id(self) -> str:
        """The label's ``case_id`` (also the case's directory name)."""
        return str(self.label["case_id"])


def _rng(seed: int, *parts: object) -> random.Random:
    """A generator seeded from a stable digest of ``seed`` and ``parts`` (never ``hash()``,
    which changes between processes)."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _combos(cause_class: CauseClass, topology: str | None) -> list[tuple[FaultKind, str]]:
    return [
        (kind, name)
        for kind in kinds_for(cause_class)
        for name in kind.topologies
        if topology is None or name == topology
    ]


def _schedule(seed: int, case_index: int) -> CauseClass:
    """The class of case ``case_index`` in a suite: each block of eight consecutive cases holds
    every class once, in a seeded order, so any suite length is balanced to within one."""
    block, slot = divmod(case_index, len(_CLASSES))
    order = list(_CLASSES)
    _rng(seed, "block", block).shuffle(order)
    return order[slot]


def _resolve(
    seed: int,
    case_index: int,
    cause_class: CauseClass | str | None,
    topology: str | None,
    fault: str | None,
) -> tuple[FaultKind, str]:
    if topology is not None and topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {topology!r}; expected one of {', '.join(TOPOLOGIES)}")
    if fault is not None:
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault!r}")
        kind = FAULT_KINDS[fault]
        if cause_class is not None and kind.cause_class != CauseClass(cause_class):
            raise ValueError(f"fault {fault!r} is of class {kind.cause_class.value}")
        if topology is None:
            topology = kind.topologies[case_index % len(kind.topologies)]
        if topology not in kind.services:
            raise ValueError(f"fault {fault!r} does not apply to the {topology} topology")
        return kind, topology
    klass = CauseClass(cause_class) if cause_class is not None else _schedule(seed, case_index)
    combos = _combos(klass, topology)
    if not combos:
        raise ValueError(f"no {klass.value} fault applies to the {topology} topology")
    block = case_index // len(_CLASSES)
    offset = _rng(seed, "offset", klass.value).randrange(len(combos))
    return combos[(block + offset) % len(combos)]


def generate_case(
    seed: int,
    case_index: int,
    *,
    cause_class: CauseClass | str | None = None,
    topology: str | None = None,
    fault: str | None = None,
    n_traces: int | None = None,
    n_baseline: int | None = None,
    decoy: tuple[str, str] | None = None,
) -> Case:
    """Generate case ``case_index`` of the suite seeded ``seed``.

    By default the class, fault kind and topology are the ones :func:`generate_suite` gives this
    index; ``cause_class``, ``topology`` or ``fault`` (a key of ``FAULT_KINDS``) pin them.
    ``n_traces`` is the size of the incident set (default: drawn from 150-250), ``n_baseline``
    of the baseline (default: 120). ``decoy`` = ``(kind, service)`` forces a second, smaller
    anomaly (``latency``, ``errors`` or ``deploy`` in that service) instead of the drawn one, for
    incidents where two things go wrong at once. Raises ValueError for a combination that does
    not exist.
    """
    kind, topology = _resolve(seed, case_index, cause_class, topology, fault)
    rng = _rng(seed, "case", case_index)
    n_traces = n_traces if n_traces is not None else rng.randint(150, 250)
    n_baseline = n_baseline if n_baseline is not None else 120
    if n_traces < 1 or n_baseline < 1:
        raise ValueError("n_traces and n_baseline must be positive")
    generator = _Generator(rng, seed, case_index, kind, topology)
    if decoy is not None:
        if decoy[0] not in ("latency", "errors", "deploy") or decoy[1] not in generator.languages:
            raise ValueError(f"no decoy {decoy[0]!r} in service {decoy[1]!r} for {topology}")
        generator.forced_decoy = decoy
    return generator.run(n_traces, n_baseline)


def suite_plan(seed: int = DEFAULT_SEED, n_cases: int = 240) -> list[dict[str, str]]:
    """What :func:`generate_suite` will generate, without generating it: per case its
    ``case_id``, ``cause_class``, ``fault`` and ``topology``."""
    plan = []
    for index in range(n_cases):
        kind, topology = _resolve(seed, index, None, None, None)
        plan.append(
            {
                "case_id": _case_id(index),
                "cause_class": kind.cause_class.value,
                "fault": kind.name,
                "topology": topology,
            }
        )
    return plan


def _case_id(index: int) -> str:
    return f"case-{index:04d}"


def generate_suite(seed: int = DEFAULT_SEED, n_cases: int = 240) -> Iterator[Case]:
    """The benchmark suite: ``n_cases`` cases balanced over the eight classes (each block of
    eight cases holds every class once), rotating through each class's fault kinds and the
    topologies they apply to."""
    for index in range(n_cases):
        yield generate_case(seed, index)


def write_suite(
    directory: str | Path, seed: int = DEFAULT_SEED, n_cases: int = 240
) -> list[dict[str, Any]]:
    """Write the suite under ``directory``: ``<case_id>/incident.otlp.json``,
    ``<case_id>/baseline.otlp.json`` and ``labels.jsonl`` (one label per line, in case order).
    Returns the labels."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    labels = []
    for case in generate_suite(seed, n_cases):
        folder = root / case.case_id
        folder.mkdir(exist_ok=True)
        (folder / "incident.otlp.json").write_bytes(case.incident)
        (folder / "baseline.otlp.json").write_bytes(case.baseline)
        labels.append(case.label)
    (root / "labels.jsonl").write_bytes(b"".join(orjson.dumps(label) + b"\n" for label in labels))
    return labels


@dataclass(frozen=True, slots=True)
class _Decoy:
    kind: str
    """``latency``, ``errors`` or ``deploy``."""
    service: str
    rate: float
    factor: float


class _Generator:
    """Draws one case's plan and builds its traces."""

    def __init__(
        self, rng: random.Random, seed: int, index: int, kind: FaultKind, topology: str
    ) -> None:
        self.rng = rng
        self.seed = seed
        self.index = index
        self.kind = kind
        self.topology = topology
        self.module = _MODULES[topology]
        self.languages: dict[str, str] = self.module.SERVICES
        self.service = self._fault_service()
        self.pods = {name: self._pods(name) for name in self.languages}
        self.canary: dict[str, Service] = {}
        self.forced_decoy: tuple[str, str] | None = None

    # -- plan --------------------------------------------------------------------------------

    def _fault_service(self) -> str:
        service = self.kind.services[self.topology]
        if service is not None:
            return service
        name = self.kind.name
        if name in ("upstream_db_error", "upstream_db_slow"):
            return self.rng.choice(_micro.DB_TARGETS)
        if name == "data_reference_table":
            return self.rng.choice(_micro.DATA_TARGETS)
        return self.rng.choice(_micro.TARGETS)

    def _version(self) -> tuple[int, int, int]:
        return (self.rng.randint(1, 4), self.rng.randint(0, 30), self.rng.randint(0, 12))

    def _pods(self, name: str) -> list[Service]:
        major, minor, patch = self._version()
        version = f"{major}.{minor}.{patch}"
        return [self._service(name, version) for _ in range(2)]

    def _service(self, name: str, version: str) -> Service:
        suffix = f"{self.rng.getrandbits(40):010x}"
        pod = f"{name}-{suffix[:8]}-{suffix[8:]}{self.rng.getrandbits(16):04x}"
        return Service(name, version, self.languages[name], self.module.NAMESPACE, pod)

    def _bumped(self, name: str) -> Service:
        major, minor, _patch = (int(part) for part in self.pods[name][0].version.split("."))
        return self._service(name, f"{major}.{minor + 1}.0")

    def _context(self) -> dict[str, Any]:
        rng = self.rng
        target = self.service if self.topology == "microservice" else ""
        return {
            "kind": self.kind.name,
            "target": target,
            "persist": rng.uniform(0.35, 0.8),
            "team": "assistant" if self.topology == "llm" else "agents",
            "collection": "help_center_v14",
            "new_collection": "help_center_v9" if "stale" in self.kind.name else "help_center_v15",
            "doc_metadata": '{"source": "help-centre", "updated_at": "2025-12-18"}',
            "doc_metadata_stale": '{"source": "help-centre", "updated_at": "2025-03-02"}',
            "new_model": rng.choice(_NEW_MODELS),
            "new_embedding": rng.choice(_NEW_EMBEDDINGS),
            "new_judge": rng.choice(_NEW_JUDGES),
            "new_policy": "2026.01.1",
            "new_prompt": "v8",
            "template_growth": rng.uniform(1.15, 1.4),
            "tool": rng.choice(_agent.TOOLS),
            "orders_table": "orders_feed_v41",
            "new_orders_table": "orders_feed_v42",
            "data_suffix": "2026q1",
            "delay_ms": rng.uniform(1500.0, 5000.0),
            "slow": rng.uniform(10.0, 40.0),
        }

    def _decoy(self, rate: float) -> _Decoy | None:
        """In 40 % of cases, a smaller anomaly elsewhere: it touches 20-50 % as many traces as
        the fault may hit (the whole incident window, not only the fault's)."""
        rng = self.rng
        if self.forced_decoy is not None:
            kind, service = self.forced_decoy
            return _Decoy(kind, service, rate * 0.5, 2.5)
        if rng.random() >= 0.4:
            return None
        choices = [name for name in self.module.DECOYS if name != self.service]
        service = rng.choice(choices)
        kinds = (
            ("latency", "deploy") if self.kind.name in _LATENCY else ("latency", "errors", "deploy")
        )
        kind = rng.choice(kinds)
        return _Decoy(kind, service, rate * rng.uniform(0.2, 0.5), rng.uniform(1.6, 3.0))

    # -- traces ------------------------------------------------------------------------------

    def run(self, n_traces: int, n_baseline: int) -> Case:
        rng = self.rng
        context = self._context()
        duration = int(rng.uniform(15, 30) * 60 * 10**9)
        start = BASE_TIME_NS + self.index * _CASE_SPACING_NS
        window_start = start + int(duration * rng.uniform(0.0, 0.3))
        window_end = window_start + int((start + duration - window_start) * rng.uniform(0.6, 1.0))
        share = (window_end - window_start) / duration
        fraction = rng.uniform(0.15, 0.55)
        if self.topology == "microservice":
            fraction = min(0.95, fraction * 1.6)
        rate = min(0.95, fraction / share)
        exposure = min(1.0, rate / rng.uniform(0.55, 0.85)) if self.kind.canary else rate
        decoy = self._decoy(rate * share)
        if self.kind.name in _DEPLOYS:
            deploy = _DEPLOYS[self.kind.name]
            self.canary[self.service] = (
                self._bumped(self.service)
                if deploy == "version"
                else self._service(self.service, self.pods[self.service][0].version)
            )
        if decoy is not None and decoy.kind == "deploy":
            self.canary[decoy.service] = self._bumped(decoy.service)
        baseline_start = start - duration - 20 * 60 * 10**9
        baseline = self._traces(n_baseline, baseline_start, duration, context, None)
        incident: list[Trace] = []
        for _ in range(4):
            # Redrawn (deterministically) while the fault fails too few traces to be a case or
            # the decoy fails more than half as many as the fault: a decoy must stay smaller.
            plan = (window_start, window_end, rate, exposure, decoy)
            incident = self._traces(n_traces, start, duration, context, plan)
            failing = sum(1 for t in incident if t.ctx["root_tag"] == "fault" and t.origins)
            decoyed = sum(1 for t in incident if t.ctx["root_tag"] == "decoy")
            enough = self.kind.name in _LATENCY or failing >= min(5, n_traces // 20 + 1)
            smaller = decoyed <= max(1, failing // 2)
            if enough and smaller:
                break
            if not enough:
                rate, exposure = min(0.95, rate * 1.5), min(1.0, exposure * 1.5)
            if not smaller and decoy is not None:
                decoy = dataclasses.replace(decoy, rate=decoy.rate / 3)
        label = self._label(incident, decoy, (window_start, window_end))
        return Case(
            incident=encode(span for t in incident for span in t.spans),
            baseline=encode(span for t in baseline for span in t.spans),
            label=label,
        )

    def _traces(
        self,
        n: int,
        start: int,
        duration: int,
        context: dict[str, Any],
        plan: tuple[int, int, float, float, _Decoy | None] | None,
    ) -> list[Trace]:
        rng = self.rng
        build: Callable[[Trace], None] = self.module.build
        times = sorted(start + int(rng.random() * duration) for _ in range(n))
        names = list(self.languages)
        traces = []
        for when in times:
            services = {name: self.pods[name][rng.random() < 0.5] for name in names}
            t = Trace(rng, f"{rng.getrandbits(128):032x}", when, services)
            t.ctx = dict(context)
            if plan is None:
                t.ctx["kind"] = ""
            else:
                window_start, window_end, rate, exposure, decoy = plan
                if window_start <= when < window_end:
                    draw = rng.random()
                    t.exposed, t.hit = draw < exposure, draw < rate
                if t.exposed and self.service in self.canary:
                    services[self.service] = self.canary[self.service]
                if t.hit and self.kind.name == "upstream_cpu_contention":
                    t.slow[self.service] = context["slow"]
                if decoy is not None and rng.random() < decoy.rate:
                    t.decoy = True
                    if decoy.kind == "latency":
                        t.slow[decoy.service] = decoy.factor
                    elif decoy.kind == "errors":
                        t.ctx["decoy_errors"] = decoy.service
                    else:
                        services[decoy.service] = self.canary[decoy.service]
            build(t)
            traces.append(t)
        return traces

    def _label(
        self,
        incident: list[Trace],
        decoy: _Decoy | None,
        window: tuple[int, int],
    ) -> dict[str, Any]:
        span_ids: list[str] = []
        seen: set[str] = set()
        hit = failing = 0
        failing_ids, other_ids = [], []
        for t in incident:
            for span in t.origins:
                if span.span_id not in seen:
                    seen.add(span.span_id)
                    span_ids.append(span.span_id)
            hit += bool(t.origins)
            tag = t.ctx["root_tag"]
            if tag == "fault" and t.origins:
                failing += 1
                failing_ids.append(t.trace_id)
            elif tag is not None:
                other_ids.append(t.trace_id)
        fraction = round(hit / len(incident), 4)
        begin, end = (_clock(ns) for ns in window)
        description = (
            f"{self.kind.summary} Originated in {self.service}: {hit} of {len(incident)} "
            f"incident traces hit between {begin} and {end} UTC, {failing} of them failing."
        )
        if self.topology == "microservice" and self.kind.name == "data_reference_table":
            description += " The error surfaces in the callers that parse its responses."
        if decoy is not None:
            description += f" Decoy: {_DECOY_TEXT[decoy.kind]} in {decoy.service}."
        return {
            "case_id": _case_id(self.index),
            "topology": self.topology,
            "cause_class": self.kind.cause_class.value,
            "service": self.service,
            "fault": self.kind.name,
            "span_ids": span_ids,
            "failing_trace_ids": failing_ids,
            "other_failing_trace_ids": other_ids,
            "fraction": fraction,
            "description": description,
            "decoy": None if decoy is None else {"kind": decoy.kind, "service": decoy.service},
            "window": {"start": _iso(window[0]), "end": _iso(window[1])},
            "seed": self.seed,
            "case_index": self.index,
        }


_DECOY_TEXT = {
    "latency": "an unrelated latency shift",
    "errors": "a burst of unrelated transient errors",
    "deploy": "an unrelated, harmless deploy",
}


def _clock(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%H:%M")


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
