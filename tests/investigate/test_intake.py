"""Incident intake: real-shaped Alertmanager, PagerDuty v3 and generic payloads become exact
incidents; `norecur incident open/show` run for real; garbage is one line, exit 2, never a
traceback."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norecur.errors import NorecurError
from norecur.investigate import (
    PAYLOAD_READERS,
    Incident,
    IncidentError,
    PayloadReader,
    detect,
    load_incident,
    open_incident,
)
from norecur.investigate._intake import MAX_PAYLOAD_BYTES, severity_rank

PAYLOADS = Path(__file__).parent / "payloads"
NORECUR = Path(sys.executable).parent / "norecur"


def ns(text: str) -> int:
    """Nanoseconds of an ISO 8601 time, worked out apart from the code under test."""
    match = re.fullmatch(r"(.*?)(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})", text)
    assert match is not None, text
    base, fraction, zone = match.groups()
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def encoded(data: Any) -> bytes:
    return json.dumps(data).encode()


def error_of(data: Any) -> str:
    """The one line ``open_incident`` fails with for ``data`` (JSON-encoded unless bytes)."""
    with pytest.raises(IncidentError) as caught:
        open_incident(data if isinstance(data, bytes) else encoded(data))
    return str(caught.value)


def run(*args: object, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``norecur ARGS`` for real, colour off and wide; never raises on a non-zero exit."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [str(NORECUR), *map(str, args)],
        cwd=cwd,
        env=env,
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        check=False,
    )


def assert_one_error_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr == f"error: {expected}\n"
    assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------------------------
# Alertmanager
# --------------------------------------------------------------------------------------------

AM_GROUP_KEY = '{}/{team=~"assistant|search"}:{namespace="assistant"}'
AM_LABELS = {
    "cluster": "prod-eu",
    "namespace": "assistant",
    "annotations.runbook_url": "https://runbooks.example.com/rag-api/latency",
    "annotations.summary": "RAG answers are slow",
    "alertmanager.receiver": "llm-oncall",
    "alertmanager.groupKey": AM_GROUP_KEY,
    "alertmanager.externalURL": "http://alertmanager.example.com:9093",
    "alertmanager.alerts": "3",
}
AM_ID = "am-f3cf0205d75b6b16"


def test_ns_helper_agrees_with_a_known_instant():
    assert ns("2026-01-01T00:00:00Z") == 1_767_225_600_000_000_000
    assert ns("2026-01-01T01:00:00.5+01:00") == 1_767_225_600_500_000_000


def test_alertmanager_firing_group_is_one_incident():
    """Three alerts, one already resolved: earliest start, still open, worst severity, the
    union of the services, the team of the worst alert."""
    incident = open_incident(PAYLOADS / "alertmanager_firing.json")
    assert incident == Incident(
        id=AM_ID,
        title="RAG answers are slow",
        start_ns=ns("2026-11-21T14:04:10Z"),
        end_ns=None,
        alert_ns=ns("2026-11-21T14:04:10Z"),
        services=("rag-api", "reranker", "vector-search"),
        severity="critical",
        team="search",
        source="alertmanager",
        labels={**AM_LABELS, "alertmanager.status": "firing"},
    )
    assert incident.start_ns == 1_795_269_850_000_000_000


def test_alertmanager_resolved_group_closes_the_same_incident():
    firing = open_incident(PAYLOADS / "alertmanager_firing.json")
    resolved = open_incident(PAYLOADS / "alertmanager_resolved.json")
    assert resolved == Incident(
        id=AM_ID,
        title="RAG answers are slow",
        start_ns=ns("2026-11-21T14:04:10Z"),
        end_ns=ns("2026-11-21T14:41:15.5Z"),
        alert_ns=ns("2026-11-21T14:04:10Z"),
        services=("rag-api", "reranker", "vector-search"),
        severity="critical",
        team="search",
        source="alertmanager",
        labels={**AM_LABELS, "alertmanager.status": "resolved"},
    )
    assert resolved.id == firing.id


def test_alertmanager_single_alert_titles_by_alertname_and_keeps_milliseconds():
    assert open_incident(PAYLOADS / "alertmanager_single.json") == Incident(
        id="am-5c921d8bc88239c1",
        title="ProbeFailure",
        start_ns=ns("2026-02-06T13:08:45.828Z"),
        alert_ns=ns("2026-02-06T13:08:45.828Z"),
        services=("http_checks",),
        severity="critical",
        team=None,
        source="alertmanager",
        labels={
            "alertname": "ProbeFailure",
            "instance": "https://chat.example.org",
            "job": "http_checks",
            "monitor": "master",
            "severity": "critical",
            "annotations.description": (
                "Instance https://chat.example.org has been down for over 5m. Job: http_checks"
            ),
            "alertmanager.receiver": "sms",
            "alertmanager.status": "firing",
            "alertmanager.groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
            "alertmanager.externalURL": "http://alertmanager.example.org:9093",
            "alertmanager.alerts": "1",
        },
    )


def _group(*alerts: dict[str, Any], **top: Any) -> dict[str, Any]:
    """An Alertmanager payload of ``alerts`` (each: labels plus optional start/end/status)."""
    body: dict[str, Any] = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "g"}
    body["alerts"] = [
        {
            "status": alert.get("status", "firing"),
            "labels": alert["labels"],
            "annotations": alert.get("annotations", {}),
            "startsAt": alert.get("start", "2026-11-21T14:00:00Z"),
            "endsAt": alert.get("end", "0001-01-01T00:00:00Z"),
        }
        for alert in alerts
    ]
    body.update(top)
    return body


def test_nanoseconds_survive_and_zones_are_applied():
    incident = open_incident(
        encoded(
            _group(
                {"labels": {"alertname": "A"}, "start": "2026-11-21T14:05:00.123456789Z"},
                {"labels": {"alertname": "B"}, "start": "2026-11-21T15:05:00.123456788+01:00"},
            )
        )
    )
    assert incident.start_ns == ns("2026-11-21T14:05:00Z") + 123_456_788
    assert incident.title == "A, B"


@pytest.mark.parametrize(
    ("severities", "worst"),
    [
        (["warning", "P1", "info"], "P1"),
        (["high", "critical", "warning"], "critical"),
        (["sev3", "SEV2"], "SEV2"),
        (["made-up", "low"], "low"),
        (["zeta", "alpha"], "alpha"),
        (["Warning", "ERROR"], "ERROR"),
        (["p0", "critical"], "p0"),
    ],
)
def test_severity_is_the_worst(severities, worst):
    alerts = [{"labels": {"alertname": "A", "severity": s}} for s in severities]
    assert open_incident(encoded(_group(*alerts))).severity == worst


def test_severity_rank_scale():
    assert [
        severity_rank(s)
        for s in ("P0", "critical", "P1", "high", "P2", "warn", "P3", "low", "info")
    ] == [0, 1, 1, 2, 2, 3, 3, 4, 5]
    assert severity_rank("unheard-of") == 6


def test_services_take_the_first_service_label_of_each_alert():
    incident = open_incident(
        encoded(
            _group(
                {"labels": {"service": "checkout", "job": "kubernetes-pods"}},
                {"labels": {"service_name": "payments", "app": "x"}},
                {"labels": {"app": "reranker", "job": "y"}},
                {"labels": {"job": "rag-api"}},
                {"labels": {"service": " ", "instance": "10.0.0.1:9090"}},
            )
        )
    )
    assert incident.services == ("checkout", "payments", "rag-api", "reranker")
    assert incident.title == "alert group"


def test_team_is_that_of_the_worst_alert_and_common_labels_are_computed_when_absent():
    incident = open_incident(
        encoded(
            _group(
                {"labels": {"alertname": "A", "severity": "warning", "team": "web", "env": "p"}},
                {"labels": {"alertname": "B", "severity": "critical", "env": "p"}},
                {"labels": {"alertname": "C", "severity": "critical", "team": "db", "env": "p"}},
            )
        )
    )
    assert incident.team == "db"
    assert {k: v for k, v in incident.labels.items() if "." not in k} == {"env": "p"}


def test_alert_order_and_key_order_do_not_change_the_incident():
    original = payload("alertmanager_firing.json")
    shuffled = dict(reversed(list(copy.deepcopy(original).items())))
    shuffled["alerts"] = [dict(reversed(list(a.items()))) for a in reversed(shuffled["alerts"])]
    assert open_incident(encoded(shuffled)) == open_incident(encoded(original))


def test_without_group_key_the_id_comes_from_the_fingerprints_then_the_labels():
    body = payload("alertmanager_firing.json")
    del body["groupKey"]
    by_fingerprints = open_incident(encoded(body)).id
    for alert in body["alerts"]:
        del alert["fingerprint"]
    by_labels = open_incident(encoded(body)).id
    assert len({by_fingerprints, by_labels, AM_ID}) == 3
    assert by_fingerprints.startswith("am-")
    assert by_labels == open_incident(encoded(body)).id


def test_resolved_alerts_without_end_leave_the_end_unknown():
    body = _group({"labels": {"alertname": "A"}, "status": "resolved"}, status="resolved")
    assert open_incident(encoded(body)).end_ns is None


def test_truncated_alerts_are_recorded():
    body = _group({"labels": {"alertname": "A"}}, truncatedAlerts=12)
    assert open_incident(encoded(body)).labels["alertmanager.truncatedAlerts"] == "12"


# --------------------------------------------------------------------------------------------
# PagerDuty v3
# --------------------------------------------------------------------------------------------

PD_LABELS = {
    "pagerduty.urgency": "high",
    "pagerduty.priority": "P2",
    "pagerduty.escalation_policy": "Assistant on-call",
    "pagerduty.service_id": "PF9KMXH",
    "pagerduty.teams": "Assistant Platform",
    "pagerduty.incident_key": "d3640fbd41094207a1c11e58e46b1662",
    "pagerduty.number": "4242",
    "pagerduty.html_url": "https://acme.pagerduty.com/incidents/Q2KJ3N8VT5RM1A",
}


def test_pagerduty_triggered():
    assert open_incident(PAYLOADS / "pagerduty_triggered.json") == Incident(
        id="Q2KJ3N8VT5RM1A",
        title="Assistant answers cite the wrong policy documents",
        start_ns=ns("2026-11-21T14:06:02Z"),
        end_ns=None,
        alert_ns=ns("2026-11-21T14:06:02Z"),
        services=("Assistant API",),
        severity="P2",
        team="Assistant Platform",
        source="pagerduty",
        labels={
            **PD_LABELS,
            "pagerduty.event_type": "incident.triggered",
            "pagerduty.event_id": "01DVUTP4PZ4KXS0VY3YB2VQ7T1",
            "pagerduty.status": "triggered",
        },
    )


def test_pagerduty_resolved_ends_when_the_event_occurred():
    assert open_incident(PAYLOADS / "pagerduty_resolved.json") == Incident(
        id="Q2KJ3N8VT5RM1A",
        title="Assistant answers cite the wrong policy documents",
        start_ns=ns("2026-11-21T14:06:02Z"),
        end_ns=ns("2026-11-21T15:02:47.9Z"),
        alert_ns=ns("2026-11-21T14:06:02Z"),
        services=("Assistant API",),
        severity="P2",
        team="Assistant Platform",
        source="pagerduty",
        labels={
            **PD_LABELS,
            "pagerduty.event_type": "incident.resolved",
            "pagerduty.event_id": "01DVUVB8H2N7W6D3ZQX1ZJ0K4R",
            "pagerduty.status": "resolved",
        },
    )


def test_pagerduty_without_priority_uses_urgency_and_acknowledged_stays_open():
    body = payload("pagerduty_triggered.json")
    body["event"]["event_type"] = "incident.acknowledged"
    body["event"]["data"].update(status="acknowledged", priority=None, urgency="low", teams=[])
    incident = open_incident(encoded(body))
    assert (incident.severity, incident.team, incident.end_ns) == ("low", None, None)


# --------------------------------------------------------------------------------------------
# Generic
# --------------------------------------------------------------------------------------------


def test_generic_full():
    assert open_incident(PAYLOADS / "generic.json") == Incident(
        id="INC-2026-0042",
        title="Refund bot promised refunds outside the policy",
        start_ns=ns("2026-11-21T08:15:00Z"),
        end_ns=1_795_255_200 * 1_000_000_000,
        services=("policy-index", "refund-bot"),
        severity="SEV2",
        team="support-ai",
        source="generic",
        labels={"region": "eu-west-1", "reported_by": "customer support"},
    )


def test_generic_minimal_hashes_its_id_from_title_and_start():
    incident = open_incident(PAYLOADS / "generic_minimal.json")
    assert incident == Incident(
        id="inc-b7bddf43a4f9e059",
        title="Summaries drop the last paragraph",
        start_ns=1_763_716_500_123_000_000,
    )


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (1_763_716_500, 1_763_716_500_000_000_000),
        (1_763_716_500.25, 1_763_716_500_250_000_000),
        (1_763_716_500_123, 1_763_716_500_123_000_000),
        (1_763_716_500_123_456, 1_763_716_500_123_456_000),
        (1_763_716_500_123_456_789, 1_763_716_500_123_456_789),
        ("1763716500", 1_763_716_500_000_000_000),
        ("1.7637165e9", 1_763_716_500_000_000_000),
        ("2025-11-21T09:15:00", ns("2025-11-21T09:15:00Z")),
        ("2025-11-21 09:15:00.5z", ns("2025-11-21T09:15:00.5Z")),
        ("2025-11-21T11:15+02:00", ns("2025-11-21T09:15:00Z")),
        ("2025-11-21T04:15:00-0500", ns("2025-11-21T09:15:00Z")),
        ("2025-11-21", ns("2025-11-21T00:00:00Z")),
        (0, 0),
    ],
)
def test_generic_times(start, expected):
    assert open_incident(encoded({"title": "t", "start": start})).start_ns == expected


def test_generic_single_service_string():
    body = {"title": "t", "start": 0, "services": "checkout"}
    assert open_incident(encoded(body)).services == ("checkout",)


# --------------------------------------------------------------------------------------------
# Detection, registry, options
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("alertmanager_firing.json", "alertmanager"),
        ("alertmanager_single.json", "alertmanager"),
        ("pagerduty_triggered.json", "pagerduty"),
        ("pagerduty_resolved.json", "pagerduty"),
        ("generic.json", "generic"),
        ("generic_minimal.json", "generic"),
    ],
)
def test_detect_by_shape(name, reader):
    assert detect(payload(name)) == reader
    assert open_incident(PAYLOADS / name, format=reader) == open_incident(PAYLOADS / name)


def test_registry_names_docs_and_interface():
    assert list(PAYLOAD_READERS) == ["alertmanager", "pagerduty", "generic"]
    for name, reader in PAYLOAD_READERS.items():
        assert isinstance(reader, PayloadReader)
        assert reader.name == name
        assert "Detected by" in (type(reader).__doc__ or "")
        assert reader.summary()
    with pytest.raises(TypeError):
        PAYLOAD_READERS["x"] = PAYLOAD_READERS["generic"]  # type: ignore[index]


def test_registry_refuses_bad_and_taken_names():
    from norecur.investigate._intake import _register

    class Taken(PayloadReader):
        """Doc."""

        name = "generic"

    class Bad(PayloadReader):
        """Doc."""

        name = "Not Kebab"

    class Undocumented(PayloadReader):
        name = "undocumented"

    for reader, message in [(Taken, "taken"), (Bad, "kebab"), (Undocumented, "user doc")]:
        with pytest.raises(ValueError, match=message):
            _register(reader)
    assert list(PAYLOAD_READERS) == ["alertmanager", "pagerduty", "generic"]


def test_id_option_replaces_the_id_and_is_checked():
    opened = open_incident(PAYLOADS / "alertmanager_firing.json", id="INC-2026-0100")
    assert opened.id == "INC-2026-0100"
    with pytest.raises(IncidentError) as caught:
        open_incident(PAYLOADS / "alertmanager_firing.json", id="a b")
    assert str(caught.value) == (
        "id: 'a b' is not an incident id (letters, digits, '.', '_', ':', '-'; at most 128, "
        "starting with a letter or digit)"
    )


def test_unknown_format_and_the_wrong_reader():
    with pytest.raises(IncidentError) as caught:
        open_incident(PAYLOADS / "generic.json", format="nagios")
    assert str(caught.value) == (
        "format: unknown payload format 'nagios'; known: auto, alertmanager, pagerduty, generic"
    )
    with pytest.raises(IncidentError) as caught:
        open_incident(PAYLOADS / "alertmanager_single.json", format="generic")
    assert str(caught.value) == (
        f"{PAYLOADS / 'alertmanager_single.json'}: receiver: unknown field; known: end, id, "
        "labels, services, severity, start, team, title"
    )


def test_error_is_a_norecur_error_naming_file_and_field():
    with pytest.raises(NorecurError) as caught:
        open_incident(b'{"title": "t", "start": "soon"}', name="hook.json")
    error = caught.value
    assert isinstance(error, IncidentError)
    assert (error.path, error.field) == ("hook.json", "start")


# --------------------------------------------------------------------------------------------
# Malformed payloads: one line naming the field
# --------------------------------------------------------------------------------------------


def _am(change) -> dict[str, Any]:
    body = payload("alertmanager_single.json")
    change(body)
    return body


def _pd(change) -> dict[str, Any]:
    body = payload("pagerduty_triggered.json")
    change(body)
    return body


def _alert0(body: dict[str, Any]) -> dict[str, Any]:
    return body["alerts"][0]


def _data(body: dict[str, Any]) -> dict[str, Any]:
    return body["event"]["data"]


MALFORMED = {
    "version 3": (
        _am(lambda b: b.update(version="3")),
        "version: webhook payload version '3' is not supported; expected \"4\"",
    ),
    "alerts not an array": (
        _am(lambda b: b.update(alerts={"0": {}})),
        "alerts: expected an array, got object",
    ),
    "no alerts": (_am(lambda b: b.update(alerts=[])), "alerts: no alerts in the payload"),
    "alert not an object": (
        _am(lambda b: b["alerts"].append("x")),
        "alerts[1]: expected an object, got string",
    ),
    "missing startsAt": (
        _am(lambda b: _alert0(b).pop("startsAt")),
        "alerts[0].startsAt: missing",
    ),
    "startsAt a number": (
        _am(lambda b: _alert0(b).update(startsAt=1700000000)),
        "alerts[0].startsAt: expected an ISO 8601 time, got number",
    ),
    "startsAt words": (
        _am(lambda b: _alert0(b).update(startsAt="yesterday")),
        "alerts[0].startsAt: 'yesterday' is not a time (use ISO 8601, such as "
        "2026-11-21T14:05:00Z)",
    ),
    "month 13": (
        _am(lambda b: _alert0(b).update(startsAt="2026-13-01T00:00:00Z")),
        "alerts[0].startsAt: '2026-13-01T00:00:00Z' is not a valid time: month must be in 1..12",
    ),
    "zone 25h": (
        _am(lambda b: _alert0(b).update(startsAt="2026-11-01T00:00:00+25:00")),
        "alerts[0].startsAt: '2026-11-01T00:00:00+25:00' has no valid zone offset",
    ),
    "zero startsAt": (
        _am(lambda b: _alert0(b).update(startsAt="0001-01-01T00:00:00Z")),
        "alerts[0].startsAt: the zero time: the alert has no start",
    ),
    "before 1970": (
        _am(lambda b: _alert0(b).update(startsAt="1969-12-31T23:59:59Z")),
        "alerts[0].startsAt: '1969-12-31T23:59:59Z' is before 1970 or after 2262",
    ),
    "after 2262": (
        _am(lambda b: _alert0(b).update(startsAt="2263-01-01T00:00:00Z")),
        "alerts[0].startsAt: '2263-01-01T00:00:00Z' is before 1970 or after 2262",
    ),
    "bad endsAt": (
        _am(lambda b: _alert0(b).update(status="resolved", endsAt="2026-02-30T00:00:00Z")),
        "alerts[0].endsAt: '2026-02-30T00:00:00Z' is not a valid time: day is out of range for "
        "month",
    ),
    "ends before start": (
        _am(lambda b: _alert0(b).update(status="resolved", endsAt="2026-02-06T13:00:00Z")),
        "alerts[0].endsAt: the alerts end before the first one starts",
    ),
    "status pending": (
        _am(lambda b: _alert0(b).update(status="pending")),
        "alerts[0].status: 'pending' is neither firing nor resolved",
    ),
    "label a number": (
        _am(lambda b: _alert0(b)["labels"].update(severity=2)),
        "alerts[0].labels.severity: expected a string, got number",
    ),
    "labels an array": (
        _am(lambda b: _alert0(b).update(labels=["a"])),
        "alerts[0].labels: expected an object, got array",
    ),
    "commonLabels null value": (
        _am(lambda b: b["commonLabels"].update(team=None)),
        "commonLabels.team: expected a string, got null",
    ),
    "truncatedAlerts text": (
        _am(lambda b: b.update(truncatedAlerts="3")),
        "truncatedAlerts: '3' is not a count",
    ),
    "pd service event": (
        _pd(lambda b: b["event"].update(event_type="service.updated")),
        "event.event_type: 'service.updated' is not an incident event (incident.triggered, "
        "incident.resolved...)",
    ),
    "pd note": (
        _pd(
            lambda b: b["event"].update(
                event_type="incident.annotated", data={"type": "incident_note"}
            )
        ),
        "event.data.type: 'incident_note' is not an incident: incident.annotated does not carry "
        "one; send incident.triggered or incident.resolved",
    ),
    "pd no times": (
        _pd(lambda b: (_data(b).pop("created_at"), b["event"].pop("occurred_at"))),
        "event.data.created_at: missing (and so is event.occurred_at)",
    ),
    "pd resolved without occurred_at": (
        _pd(lambda b: (_data(b).update(status="resolved"), b["event"].pop("occurred_at"))),
        "event.occurred_at: missing: a resolved incident needs it",
    ),
    "pd missing title": (_pd(lambda b: _data(b).pop("title")), "event.data.title: missing"),
    "pd id with a space": (
        _pd(lambda b: _data(b).update(id="P 1")),
        "event.data.id: 'P 1' is not an incident id (letters, digits, '.', '_', ':', '-'; at "
        "most 128, starting with a letter or digit)",
    ),
    "pd teams object": (
        _pd(lambda b: _data(b).update(teams={"summary": "x"})),
        "event.data.teams: expected an array, got object",
    ),
    "pd number text": (
        _pd(lambda b: _data(b).update(number="4242")),
        "event.data.number: expected an integer, got string",
    ),
    "pd v2 webhook": (
        {"messages": [{"event": "incident.trigger", "incident": {}}]},
        "messages: a PagerDuty v1/v2 webhook; only v3 webhooks (an event envelope) are read",
    ),
    "generic typo": (
        {"title": "t", "start": 0, "servcies": ["a"]},
        "servcies: unknown field; did you mean 'services'?",
    ),
    "generic start boolean": (
        {"title": "t", "start": True},
        "start: expected an ISO 8601 time or an epoch number, got boolean",
    ),
    "generic start negative": (
        {"title": "t", "start": -5},
        "start: -5 is before 1970 or not a number",
    ),
    "generic start huge": (
        {"title": "t", "start": "1e30"},
        "start: '1e30' is after 2262",
    ),
    "generic start NaN": (
        {"title": "t", "start": "NaN"},
        "start: 'NaN' is not a time (use ISO 8601, such as 2026-11-21T14:05:00Z)",
    ),
    "generic end before start": (
        {"title": "t", "start": 100, "end": 50},
        "end: ends before it starts",
    ),
    "generic service number": (
        {"title": "t", "start": 0, "services": ["a", 1]},
        "services[1]: expected a string, got number",
    ),
    "generic blank title": ({"title": "  ", "start": 0}, "title: is blank"),
    "generic labels number": (
        {"title": "t", "start": 0, "labels": {"a": 1}},
        "labels.a: expected a string, got number",
    ),
    "unknown shape": (
        {"alert": "x"},
        "cannot tell the payload's format: expected an Alertmanager webhook (alerts, version "
        '"4"), a PagerDuty v3 webhook (event.event_type) or {"title", "start", ...}; name it '
        "with --format",
    ),
    "top-level array": ([1, 2], "the payload is a JSON array; expected an object"),
    "hostile key": (
        {"title": "t", "start": 0, "a\nb\x1b[2J\u2028": 1},
        "a\\nb\\x1b[2J\\u2028: unknown field; known: end, id, labels, services, severity, "
        "start, team, title",
    ),
    "hostile value": (
        {"title": "t", "start": "\x1b]0;pwned\x07\r\n"},
        "start: '\\x1b]0;pwned\\x07\\r\\n' is not a time (use ISO 8601, such as "
        "2026-11-21T14:05:00Z)",
    ),
    "long value is cut": (
        {"title": "t", "start": "x" * 5000},
        "start: '" + "x" * 59 + "...xx' is not a time (use ISO 8601, such as 2026-11-21T14:05:00Z)",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_payload_is_one_line_naming_the_field(case):
    body, expected = MALFORMED[case]
    assert error_of(body) == f"<bytes>: {expected}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "<bytes>: empty; expected a JSON object"),
        (b" \n\t", "<bytes>: empty; expected a JSON object"),
        (b"{", "<bytes>:1: not JSON: "),
        (b'{"title": "t",\n "start": NaN}', "<bytes>:2: not JSON: "),
        (b"\xff\xfe{}", "<bytes>:1: not JSON: "),
        (b'{"title": "\\ud800", "start": 0}', "<bytes>:1: not JSON: "),
        (b"[" * 100_000 + b"]" * 100_000, "<bytes>:1: not JSON: "),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "<bytes>: larger than 16 MiB; not read"),
        (b"\x00\x01binary", "<bytes>:1: not JSON: "),
    ],
)
def test_unreadable_bytes_are_one_line(data, expected):
    message = error_of(data)
    assert message.startswith(expected)
    assert "\n" not in message


def test_a_byte_order_mark_is_tolerated():
    data = b"\xef\xbb\xbf" + (PAYLOADS / "generic.json").read_bytes()
    assert open_incident(data) == open_incident(PAYLOADS / "generic.json")


def test_hostile_strings_are_kept_verbatim_in_the_incident():
    title = "Refunds \x1b[31mred\x1b[0m\nsecond line \u2028 \x00"
    incident = open_incident(encoded({"title": title, "start": 0, "team": "t\r"}))
    assert (incident.title, incident.team) == (title, "t\r")


def test_a_missing_file_and_a_folder(tmp_path):
    with pytest.raises(IncidentError) as caught:
        open_incident(tmp_path / "nope.json")
    assert str(caught.value) == f"{tmp_path / 'nope.json'}: cannot read: No such file or directory"
    with pytest.raises(IncidentError) as caught:
        open_incident(tmp_path)
    assert str(caught.value) == f"{tmp_path}: cannot read: Is a directory"


# --------------------------------------------------------------------------------------------
# Incident files
# --------------------------------------------------------------------------------------------


def test_load_incident_round_trips(tmp_path):
    for name in sorted(p.name for p in PAYLOADS.glob("*.json")):
        incident = open_incident(PAYLOADS / name)
        path = tmp_path / f"{name}.incident.json"
        path.write_text(json.dumps(incident.to_dict(), sort_keys=True), encoding="utf-8")
        assert load_incident(path) == incident


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"title": "t", "start_ns": 0}, "id: missing"),
        ({"id": "a", "title": "t", "start_ns": "0"}, "start_ns: expected nanoseconds (an integer from 0 to 2**63-1), got string"),
        ({"id": "a", "title": "t", "start_ns": -1}, "start_ns: expected nanoseconds (an integer from 0 to 2**63-1), got number"),
        ({"id": "a", "title": None, "start_ns": 0}, "title: is null"),
        ({"id": "a", "title": "t", "start_ns": 0, "services": "x"}, "services: expected an array, got string"),
        ({"id": "a", "title": "t", "start_ns": 0, "labels": {"k": []}}, "labels.k: expected a string, got array"),
        ({"id": 1, "title": "t", "start_ns": 0}, "id: expected a string, got number"),
        (payload("generic.json"), "an alert payload, not an incident: open it with norecur incident open"),
        ([], "expected an object, got array"),
    ],
)  # fmt: skip
def test_load_incident_names_the_bad_field(document, expected):
    with pytest.raises(IncidentError) as caught:
        load_incident(encoded(document), name="incident.json")
    assert str(caught.value) == f"incident.json: {expected}"


# --------------------------------------------------------------------------------------------
# The CLI, run for real
# --------------------------------------------------------------------------------------------

FIRING_SUMMARY = (
    f"{AM_ID} | RAG answers are slow | 2026-11-21T14:04:10Z..(open) | services: rag-api, "
    "reranker, vector-search | severity: critical | team: search | source: alertmanager"
)


def test_cli_open_writes_sorted_json_and_prints_one_summary_line(tmp_path):
    done = run(
        "incident", "open", PAYLOADS / "alertmanager_firing.json", "-o", "inc.json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == FIRING_SUMMARY + "\n"
    assert done.stderr == ""
    text = (tmp_path / "inc.json").read_text(encoding="utf-8")
    written = json.loads(text)
    assert list(written) == sorted(written)
    assert list(written["labels"]) == sorted(written["labels"])
    assert written == open_incident(PAYLOADS / "alertmanager_firing.json").to_dict()
    assert text.endswith("}\n")


def test_cli_open_to_stdout_puts_the_summary_on_stderr(tmp_path):
    done = run("incident", "open", PAYLOADS / "pagerduty_resolved.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["end_ns"] == ns("2026-11-21T15:02:47.9Z")
    assert done.stderr == (
        "Q2KJ3N8VT5RM1A | Assistant answers cite the wrong policy documents | "
        "2026-11-21T14:06:02Z..2026-11-21T15:02:47.9Z (56m45s) | services: Assistant API | "
        "severity: P2 | team: Assistant Platform | source: pagerduty\n"
    )


def test_cli_open_reads_stdin_with_format_and_id(tmp_path):
    done = run(
        "incident",
        "open",
        "-",
        "--format",
        "generic",
        "--id",
        "INC-7",
        cwd=tmp_path,
        stdin=(PAYLOADS / "generic_minimal.json").read_bytes(),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "INC-7"
    assert done.stderr == (
        "INC-7 | Summaries drop the last paragraph | 2025-11-21T09:15:00.123Z..(open) | "
        "services: - | severity: - | team: - | source: generic\n"
    )


def test_cli_show_text_and_json(tmp_path):
    opened = run("incident", "open", PAYLOADS / "generic.json", "-o", "g.json", cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr
    done = run("incident", "show", "g.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [
        ("id", "INC-2026-0042"),
        ("title", "Refund bot promised refunds outside the policy"),
        ("start", "2026-11-21T08:15:00Z"),
        ("end", "2026-11-21T10:00:00Z"),
        ("alerted", "-"),
        ("duration", "1h45m"),
        ("services", "policy-index, refund-bot"),
        ("severity", "SEV2"),
        ("team", "support-ai"),
        ("source", "generic"),
        ("labels", ""),
        ("  region", "eu-west-1"),
        ("  reported_by", "customer support"),
    ]
    assert done.stdout == "".join(f"{k:<13}  {v}".rstrip() + "\n" for k, v in rows)
    as_json = run("incident", "show", "g.json", "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0
    assert as_json.stdout == (tmp_path / "g.json").read_text(encoding="utf-8")


def test_cli_hostile_title_stays_on_one_line_and_cannot_drive_the_terminal(tmp_path):
    hostile = {"title": "ok\x1b[2J\nrm -rf /\u2028", "start": 0, "team": "\x07"}
    (tmp_path / "h.json").write_text(json.dumps(hostile), encoding="utf-8")
    done = run("incident", "open", "h.json", "-o", "out.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(f"{hostile['title']}\x000".encode()).hexdigest()
    expected_id = f"inc-{digest[:16]}"
    assert done.stdout == (
        f"{expected_id} | ok\\x1b[2J\\nrm -rf /\\u2028 | 1970-01-01T00:00:00Z..(open) | "
        "services: - | severity: - | team: \\x07 | source: generic\n"
    )
    assert (
        json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["title"] == hostile["title"]
    )
    shown = run("incident", "show", "out.json", cwd=tmp_path)
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout
    assert "\x07" not in shown.stdout
    assert len(shown.stdout.splitlines()) == 10


def _write(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("not.json", b"alert fired!", "not.json:1: not JSON: unexpected character"),
        ("empty.json", b"", "empty.json: empty; expected a JSON object"),
        (
            "types.json",
            json.dumps(
                _am(lambda b: _alert0(b).update(labels={"severity": ["critical"]}))
            ).encode(),
            "types.json: alerts[0].labels.severity: expected a string, got array",
        ),
        (
            "no_start.json",
            json.dumps(_am(lambda b: _alert0(b).pop("startsAt"))).encode(),
            "no_start.json: alerts[0].startsAt: missing",
        ),
        (
            "bad_time.json",
            json.dumps(_pd(lambda b: _data(b).update(created_at="2026-11-21T25:00:00Z"))).encode(),
            "bad_time.json: event.data.created_at: '2026-11-21T25:00:00Z' is not a valid time: "
            "hour must be in 0..23",
        ),
        (
            "hostile.json",
            b'{"title": "t", "start": "\\u001b[31m\\nnow"}',
            "hostile.json: start: '\\x1b[31m\\nnow' is not a time (use ISO 8601, such as "
            "2026-11-21T14:05:00Z)",
        ),
        (
            "huge.json",
            b'{"title": "' + b"a" * MAX_PAYLOAD_BYTES + b'", "start": 0}',
            "huge.json: larger than 16 MiB; not read",
        ),
    ],
)
def test_cli_open_garbage_is_one_line_exit_2(tmp_path, name, data, expected):
    done = run("incident", "open", _write(tmp_path, name, data), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: {expected}")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_cli_usage_errors_are_one_line_exit_2(tmp_path):
    assert_one_error_line(
        run("incident", "open", "missing.json", cwd=tmp_path),
        "missing.json: cannot read: No such file or directory",
    )
    assert_one_error_line(
        run("incident", "open", PAYLOADS / "generic.json", "--format", "zabbix", cwd=tmp_path),
        "format: unknown payload format 'zabbix'; known: auto, alertmanager, pagerduty, generic",
    )
    assert_one_error_line(
        run("incident", "open", PAYLOADS / "generic.json", "--id", "../etc", cwd=tmp_path),
        "id: '../etc' is not an incident id (letters, digits, '.', '_', ':', '-'; at most 128, "
        "starting with a letter or digit)",
    )
    assert_one_error_line(
        run("incident", "show", PAYLOADS / "generic.json", cwd=tmp_path),
        f"{PAYLOADS / 'generic.json'}: an alert payload, not an incident: open it with norecur "
        "incident open",
    )
    assert_one_error_line(
        run(
            "incident",
            "open",
            PAYLOADS / "generic.json",
            "-o",
            tmp_path / "no" / "x.json",
            cwd=tmp_path,
        ),
        f"{tmp_path / 'no' / 'x.json'}: cannot write: No such file or directory",
    )
    assert not (tmp_path / "no").exists()


def test_cli_help_lists_the_incident_commands(tmp_path):
    done = run("incident", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "open" in done.stdout
    assert "show" in done.stdout
    opened = run("incident", "open", "--help", cwd=tmp_path)
    assert "norecur incident open alert.json -o incident.json" in opened.stdout


# --------------------------------------------------------------------------------------------
# Fuzz: any payload is an incident or one IncidentError line, never anything else
# --------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "2026-11-21T14:05:00Z",
            "2026-11-21T14:05:00.999999999999+14:00",
            "9999-12-31T23:59:59Z",
            "firing",
            "resolved",
            "incident.resolved",
            "incident",
            "4",
            "1e309",
            "-0",
            "\x1b[2J",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
SAMPLES = sorted(p.name for p in PAYLOADS.glob("*.json"))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _opened_or_one_line(data: bytes) -> None:
    try:
        incident = open_incident(data)
    except IncidentError as exc:
        line = exc.one_line()
        assert "\n" not in line
        assert "\r" not in line
        assert "failed unexpectedly" not in line, line
        return
    assert isinstance(incident, Incident)
    assert incident.end_ns is None or incident.end_ns >= incident.start_ns
    assert incident == open_incident(data)
    assert load_incident(json.dumps(incident.to_dict()).encode()) == incident


@FUZZ
@given(value=JSON)
def test_fuzz_any_json_value(value):
    _opened_or_one_line(json.dumps(value).encode())


@FUZZ
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_fuzz_one_field_of_a_real_payload_replaced(sample, data):
    body = payload(sample)
    where = data.draw(st.sampled_from(_paths(body)), label="path")
    new = data.draw(JSON, label="value")
    if not where:
        body = new
    else:
        holder = body
        for step in where[:-1]:
            holder = holder[step]
        if data.draw(st.booleans(), label="delete") and isinstance(holder, dict):
            del holder[where[-1]]
        else:
            holder[where[-1]] = new
    _opened_or_one_line(json.dumps(body).encode())


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_any_bytes(data):
    _opened_or_one_line(data)
