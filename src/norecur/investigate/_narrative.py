"""An optional narrative for the draft, written by a model behind any OpenAI-compatible endpoint.

Off by default: everything an investigation produces works without it. When asked for, the
fault report's verdict and the incident are put into one prompt, sent to ``POST
{endpoint}/chat/completions`` (the OpenAI chat-completions shape that vLLM, Ollama, LiteLLM,
Azure and others serve), and the answer is added to the draft's summary *with the model, the
endpoint and the whole prompt recorded beside it*, so a reviewer knows which words a model wrote
and from what. Nothing else in the draft depends on it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from norecur.errors import NorecurError
from norecur.investigate._incident import Incident

__all__ = ["Narrative", "NarrativeError", "narrate", "with_narrative"]

SYSTEM_PROMPT = (
    "You write the summary paragraph of a blameless incident postmortem for an AI system. Use only "
    "the facts given. Name systems and causes, never people. Three to five sentences, plain text."
)
_MARKER = "\n## Summary\n\n"


class NarrativeError(NorecurError):
    """The endpoint could not be reached or answered something that is not a completion."""


@dataclass(frozen=True)
class Narrative:
    """What the model wrote, and everything needed to know where it came from."""

    text: str
    model: str
    endpoint: str
    prompt: str


def _prompt(incident: Incident, report: dict[str, Any]) -> str:
    top = report.get("root_cause")
    reach = report.get("blast_radius", {}).get("traces", {})
    facts = {
        "incident": {"id": incident.id, "title": incident.title, "severity": incident.severity},
        "root_cause": None
        if top is None
        else {
            "component": top["component"],
            "class": top["classification"]["class"],
            "why": top["reason"],
        },
        "blast_radius": reach,
    }
    return "Facts (JSON):\n" + json.dumps(facts, indent=2, sort_keys=True)


def narrate(
    incident: Incident,
    report: dict[str, Any],
    *,
    endpoint: str,
    model: str,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 30.0,
) -> Narrative:
    """Ask the model at ``endpoint`` for the summary paragraph (module docstring)."""
    prompt = _prompt(incident, report)
    body = json.dumps(
        {
            "model": model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
        }
    ).encode()
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/chat/completions",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    key = os.environ.get(api_key_env)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        text = answer["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as exc:
        raise NarrativeError(f"the endpoint answered HTTP {exc.code}", field=endpoint) from None
    except urllib.error.URLError as exc:
        raise NarrativeError(f"cannot reach the endpoint: {exc.reason}", field=endpoint) from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise NarrativeError(f"not a chat completion: {exc}", field=endpoint) from None
    if not isinstance(text, str) or not text.strip():
        raise NarrativeError("the completion is empty", field=endpoint)
    return Narrative(text=" ".join(text.split()), model=model, endpoint=endpoint, prompt=prompt)


def with_narrative(markdown: str, narrative: Narrative) -> str:
    """``markdown`` with the narrative added at the top of its summary, the model, endpoint and
    prompt recorded in an HTML comment beside it (it renders as nothing, and lint ignores it)."""
    if _MARKER not in markdown:
        raise ValueError("the draft has no summary section to add a narrative to")
    prompt = narrative.prompt.replace("--", "- -")
    block = (
        f"Narrative written by model {narrative.model}: {narrative.text}\n\n"
        f"<!-- narrative: model {narrative.model} at {narrative.endpoint}; system prompt: "
        f"{SYSTEM_PROMPT} user prompt: {prompt} -->\n\n"
    )
    return markdown.replace(_MARKER, _MARKER + block, 1)
