"""The optional narrative: a real OpenAI-compatible HTTP server on loopback answers; the draft
records the model, the endpoint and the prompt beside the text, and lints no worse."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from norecur.faultgen import generate_case
from norecur.investigate import Incident
from norecur.investigate._collect import Sources
from norecur.investigate._investigate import investigate
from norecur.investigate._narrative import NarrativeError, narrate

ANSWER = "The orchestrator's new prompt template made answers fail the faithfulness check."


class _Completions(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body})
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            return
        payload = json.dumps(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Completions.received = []
    server = HTTPServer(("127.0.0.1", 0), _Completions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _case(tmp_path: Path) -> tuple[Incident, Sources]:
    case = generate_case(
        2026, 2, cause_class="prompt", fault="prompt_template_regression", n_traces=60
    )
    (tmp_path / "incident.json").write_bytes(case.incident)
    (tmp_path / "baseline.json").write_bytes(case.baseline)
    start = 1_767_603_600_000_000_000
    incident = Incident(
        id="INC-2026-0105",
        title="Answers regressed",
        start_ns=start - 3_600 * 10**9,
        end_ns=start + 3 * 3_600 * 10**9,
        alert_ns=start,
        severity="P2",
        team="assistant",
        services=("chat-api",),
    )
    return incident, Sources(
        telemetry=(tmp_path / "incident.json",), baseline=(tmp_path / "baseline.json",)
    )


def test_the_narrative_is_added_with_its_model_and_prompt(tmp_path, endpoint):
    incident, sources = _case(tmp_path)
    plain = investigate(incident, sources, tmp_path / "plain", today=date(2026, 1, 6))
    told = investigate(
        incident,
        sources,
        tmp_path / "told",
        today=date(2026, 1, 6),
        narrator=(endpoint, "local-llama"),
    )
    (request,) = _Completions.received
    assert request["body"]["model"] == "local-llama"
    assert request["body"]["messages"][0]["role"] == "system"
    draft = told.draft.read_text()
    assert f"Narrative written by model local-llama: {ANSWER}" in draft
    assert f"<!-- narrative: model local-llama at {endpoint}; system prompt: " in draft
    assert "user prompt: Facts (JSON):" in draft  # the prompt, recorded
    assert [f.code for f in told.gaps] == [f.code for f in plain.gaps]
    assert "Narrative written" not in plain.draft.read_text()  # off by default


def test_an_unreachable_or_wrong_endpoint_is_one_typed_error(tmp_path, endpoint):
    incident, _ = _case(tmp_path)
    with pytest.raises(NarrativeError, match="cannot reach the endpoint"):
        narrate(
            incident, {"root_cause": None}, endpoint="http://127.0.0.1:9/v1", model="m", timeout=2
        )
    with pytest.raises(NarrativeError, match="the endpoint answered HTTP 404"):
        narrate(incident, {"root_cause": None}, endpoint=endpoint + "/wrong", model="m")
