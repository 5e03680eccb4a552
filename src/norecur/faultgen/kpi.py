"""Request-level quality data with a labelled regression: the chapter's worked example.

:func:`policy_comparison_incident` simulates one day of an insurance policy assistant: every
request has an intent, a tenant, a locale, the model and prompt version that answered, an eval
score in 0..1 and a thumbs-down flag. At 18:00 UTC a prompt deploy (``prompt_version`` v12 ->
v13) lifts the eval score of the other intents by about 8.5 % and drops ``policy_comparison`` by 19 %:
the aggregate goes *up* about 4 % while one slice falls. Change events come with it: the
prompt deploy, and decoys that must not be blamed (an index refresh at 11:30 for the claims
intents, a config change at 15:10 for billing, a model gateway config change at 19:30, after the
onset). Seeded: the same seed gives the same tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pyarrow as pa

__all__ = ["INTENTS", "KpiIncident", "policy_comparison_incident"]

INTENTS = (
    ("policy_lookup", 0.22, 0.81),
    ("policy_comparison", 0.16, 0.78),
    ("claims_status", 0.18, 0.83),
    ("claims_filing", 0.10, 0.76),
    ("billing", 0.12, 0.85),
    ("coverage_question", 0.12, 0.79),
    ("renewal", 0.06, 0.84),
    ("agent_handoff", 0.04, 0.74),
)
"""(intent, share of traffic, mean eval score before the deploy)."""
LOCALES = (("en-IN", 0.55), ("hi-IN", 0.25), ("en-US", 0.12), ("ta-IN", 0.08))
DEPLOY = datetime(2026, 5, 12, 18, 0, tzinfo=UTC)
"""The prompt deploy of the worked example."""
LIFT = 0.085
"""Relative score change of the intents the new prompt improves."""
DROP = -0.19
"""Relative score change of policy_comparison under the new prompt."""
_DAY = datetime(2026, 5, 12, tzinfo=UTC)
_NS = 1_000_000_000


@dataclass(frozen=True)
class KpiIncident:
    """Request rows, change events, and the label."""

    records: pa.Table
    """One row per request: time_ns, intent, tenant, locale, model, prompt_version, score,
    thumbs_down."""
    events: pa.Table
    """Change events: time_ns, kind, target, name, old, new, slices (JSON), attributes (JSON),
    source."""
    label: dict[str, object]
    """The truth: onset, the culprit event, the regressed slice, the class."""


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * _NS


def policy_comparison_incident(seed: int = 2026, requests_per_hour: int = 600) -> KpiIncident:
    """The worked example (module docstring): 06:00–22:00 UTC of one day."""
    rng = random.Random(seed)
    tenants = [f"tenant-{index:02d}" for index in range(40)]
    rows: dict[str, list[object]] = {
        name: []
        for name in (
            "time_ns",
            "intent",
            "tenant",
            "locale",
            "model",
            "prompt_version",
            "score",
            "thumbs_down",
        )
    }
    start, end = _ns(_DAY.replace(hour=6)), _ns(_DAY.replace(hour=22))
    deploy = _ns(DEPLOY)
    count = (end - start) // _NS * requests_per_hour // 3600
    times = sorted(rng.randrange(start, end) for _ in range(count))
    intents = [intent for intent, _, _ in INTENTS]
    shares = [share for _, share, _ in INTENTS]
    means = {intent: mean for intent, _, mean in INTENTS}
    for moment in times:
        intent = rng.choices(intents, shares)[0]
        after = moment >= deploy
        mean = means[intent]
        if after:
            mean *= 1 + (DROP if intent == "policy_comparison" else LIFT)
        score = min(1.0, max(0.0, rng.gauss(mean, 0.08)))
        rows["time_ns"].append(moment)
        rows["intent"].append(intent)
        rows["tenant"].append(rng.choice(tenants))
        rows["locale"].append(
            rng.choices([code for code, _ in LOCALES], [w for _, w in LOCALES])[0]
        )
        rows["model"].append("gpt-4.1-2026-04-14")
        rows["prompt_version"].append("v13" if after else "v12")
        rows["score"].append(round(score, 4))
        rows["thumbs_down"].append(rng.random() < (0.9 - score) * 0.5)
    records = pa.table(
        {
            "time_ns": pa.array(rows["time_ns"], pa.int64()),
            **{
                name: pa.array(rows[name], pa.string())
                for name in ("intent", "tenant", "locale", "model", "prompt_version")
            },
            "score": pa.array(rows["score"], pa.float64()),
            "thumbs_down": pa.array(rows["thumbs_down"], pa.bool_()),
        }
    )
    events = _events()
    before = [score for moment, score in zip(times, rows["score"], strict=True) if moment < deploy]
    after = [score for moment, score in zip(times, rows["score"], strict=True) if moment >= deploy]
    change = (sum(after) / len(after)) / (sum(before) / len(before)) - 1
    label = {
        "onset": DEPLOY.isoformat(),
        "event": "prompt_version v12 -> v13",
        "slice": {"intent": "policy_comparison"},
        "cause_class": "prompt",
        "aggregate_change": round(change, 4),
    }
    return KpiIncident(records=records, events=events, label=label)


def _events() -> pa.Table:
    listed = [
        (
            _DAY.replace(hour=11, minute=30),
            "index",
            "claims-kb",
            "index_version",
            "2026.05.11",
            "2026.05.12",
            {"intent": "claims_status"},
        ),
        (
            _DAY.replace(hour=15, minute=10),
            "config",
            "policy-assistant",
            "billing.max_turns",
            "6",
            "8",
            {"intent": "billing"},
        ),
        (DEPLOY, "prompt", "policy-assistant", "prompt_version", "v12", "v13", {}),
        (_DAY.replace(hour=19, minute=30), "config", "llm-gateway", "timeout_s", "30", "45", {}),
    ]
    return pa.table(
        {
            "time_ns": pa.array([_ns(moment) for moment, *_ in listed], pa.int64()),
            "kind": pa.array([kind for _, kind, *_ in listed], pa.string()),
            "target": pa.array([target for _, _, target, *_ in listed], pa.string()),
            "name": pa.array([name for _, _, _, name, *_ in listed], pa.string()),
            "old": pa.array([old for *_, old, _, _ in listed], pa.string()),
            "new": pa.array([new for *_, new, _ in listed], pa.string()),
            "slices": pa.array(
                [
                    orjson.dumps(slices, option=orjson.OPT_SORT_KEYS).decode()
                    for *_, slices in listed
                ],
                pa.string(),
            ),
            "attributes": pa.array(["{}"] * len(listed), pa.string()),
            "source": pa.array(["faultgen"] * len(listed), pa.string()),
        }
    )
