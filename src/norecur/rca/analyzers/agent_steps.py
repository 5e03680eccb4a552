"""``agent-step-blame``: which agent, at which step, made the decisive mistake of a failed run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca._signals import conversation_rows
from norecur.telemetry.readers.conversation import CONTENT, STEP

__all__ = ["FEATURES", "AgentStepBlame"]

FEATURES = (
    "wrote_failing_code",
    "first_failure",
    "failed_itself",
    "ignored_failure",
    "repeated_action",
    "unsupported_assumption",
    "final_result_origin",
    "contradicted_later",
    "final_answer",
    "tool_output",
)
"""The named features of a step, in the order their evidence is listed. Each has a weight
parameter ``w_<feature>`` on :class:`AgentStepBlame`."""

CONTENT_KEYS = (CONTENT, "output.value", "gen_ai.output.messages", "input.value")
"""Attributes read as a step's text, the first present one winning: the conversation reader's
message content, then OpenInference output and input values and GenAI output messages."""

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(?P<body>.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_ACKNOWLEDGES = re.compile(
    r"\b(errors?|fail\w*|exceptions?|traceback|fix\w*|issues?|bugs?|problems?|incorrect|wrong|"
    r"mistakes?|debug\w*|resolv\w*|correct(ed|ion)?)\b",
    re.I,
)
_ASSUMES = re.compile(
    r"\b(assum\w*|hypothetical\w*|placeholders?|dummy|mock(ed)?|simulat\w*|fictional|made[- ]up|"
    r"sample data|let'?s say|suppose|for (the sake of )?(illustration|demonstration)|"
    r"(do not|don't|cannot|can't|unable to|not able to) (have )?access)\b",
    re.I,
)
_CONTRADICTS = re.compile(
    r"\b(incorrect|not correct|mistaken|wrong|erroneous|discrepanc\w*|inconsisten\w*|"
    r"do(es)? not match|doesn't match|don't match|contradict\w*|inaccura\w*|misinterpret\w*|"
    r"overlook\w*)\b",
    re.I,
)
_MIN_ACTION_CHARS = 20


@dataclass(frozen=True, slots=True)
class _Step:
    """One span of a trace, as the features see it."""

    span_id: str
    component: str
    step: int
    tool: bool
    failed: bool
    error_type: str | None
    text: str


class AgentStepBlame(Analyzer):
    """Blames the agent and step that made the decisive mistake of a failed agent run.

    What it reads: one trace per conversation (or agent run), one span per step: the
    ``agent-conversation`` reader's output, or any trace whose spans carry their step number
    (``message.step``); traces of calls between services are skipped. A step's text is the first of :data:`CONTENT_KEYS` present.
    Every step becomes a candidate, ranked by a transparent score: the weighted sum of named
    features (:data:`FEATURES`), each weight a constructor parameter. The defaults were fixed
    before measuring anything, from how errors propagate in agent runs, not fitted to labels:

    - ``wrote_failing_code`` (2.0): the step is the last agent step before a tool step that
      failed (status ERROR: traceback, non-zero exit code), so it wrote the code or instruction
      that failed; the error surfaces in the executor, the mistake is upstream. Value 1, or 0.5
      when a later tool run succeeded (the failure was recovered from).
    - ``first_failure`` (1.0): that failure is the first of the trace: the origin, not the
      cascade.
    - ``failed_itself`` (1.0): an agent (not a tool) step whose own status is ERROR, when the
      step before it had not failed (quoting an earlier error is not failing).
    - ``ignored_failure`` (1.5): the first agent step after a failed step neither mentions
      the failure nor submits different code to fix it, but builds on the failed result.
    - ``repeated_action`` (1.5): the step repeats an earlier step's action (its code blocks, else
      its whole text) verbatim: the first repetition starts a loop; later ones are its cascade.
    - ``unsupported_assumption`` (1.0): the step says it assumes, simulates, uses placeholder or
      made-up data, or cannot access what it needs: a claim that rests on nothing.
    - ``final_result_origin`` (1.5 × share): of the result tokens (numbers, **bold** phrases,
      outside fenced code) of the final answer (the last agent step stating any), the share that first appeared at this step (a tool's output is credited
      to the step that wrote the code). A failed run's answer is wrong; where it came from is
      the likeliest mistake.
    - ``contradicted_later`` (1.0 × share): later agent steps say something was wrong
      (incorrect, discrepancy, does not match...), and the result tokens they cite first
      appeared at this step.
    - ``final_answer`` (0.5): the step that states the final answer.
    - ``tool_output`` (-2.0): the step is a tool or executor's output; it runs what it was given,
      so blame goes to the author.

    Ties go to the earlier step, then the span id. The analyzer learns nothing and never reads a
    label, a file name or a step's absolute position.

    Options: ``w_<feature>`` for each feature above (a float; 0 turns a feature off).
    """

    name = "agent-step-blame"

    def __init__(
        self,
        *,
        w_wrote_failing_code: float = 2.0,
        w_first_failure: float = 1.0,
        w_failed_itself: float = 1.0,
        w_ignored_failure: float = 1.5,
        w_repeated_action: float = 1.5,
        w_unsupported_assumption: float = 1.0,
        w_final_result_origin: float = 1.5,
        w_contradicted_later: float = 1.0,
        w_final_answer: float = 0.5,
        w_tool_output: float = -2.0,
    ) -> None:
        self.w_wrote_failing_code = w_wrote_failing_code
        self.w_first_failure = w_first_failure
        self.w_failed_itself = w_failed_itself
        self.w_ignored_failure = w_ignored_failure
        self.w_repeated_action = w_repeated_action
        self.w_unsupported_assumption = w_unsupported_assumption
        self.w_final_result_origin = w_final_result_origin
        self.w_contradicted_later = w_contradicted_later
        self.w_final_answer = w_final_answer
        self.w_tool_output = w_tool_output

    def _validate_params(self) -> None:
        super()._validate_params()
        for key, value in self.get_params().items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.name}: {key} must be a number, got {value!r}")

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        weights = {feature: float(getattr(self, f"w_{feature}")) for feature in FEATURES}
        candidates: list[Candidate] = []
        for trace_id, steps in _traces(_agent_runs(spans)):
            found = _features(steps)
            for index, step in enumerate(steps):
                evidence = tuple(
                    Evidence(
                        kind=feature,
                        value=round(value, 9),
                        weight=weights[feature],
                        reason=reason,
                        span_ids=tuple(span_ids),
                    )
                    for feature in FEATURES
                    for value, reason, span_ids in found[index].get(feature, ())
                    if value != 0
                )
                candidates.append(
                    Candidate.from_evidence(
                        trace_id=trace_id,
                        component=step.component,
                        span_id=step.span_id,
                        step=step.step,
                        evidence=evidence,
                    )
                )
        return candidates


_Found = dict[str, list[tuple[float, str, list[str]]]]


def _agent_runs(spans: pa.Table) -> pa.Table:
    """The spans of the traces this analyzer reads: conversations, where a span carries its
    step number. A trace of calls between services is not a sequence of messages, and its spans
    are not steps."""
    return spans.filter(conversation_rows(spans))


def _traces(spans: pa.Table) -> list[tuple[str, list[_Step]]]:
    columns = spans.select(
        [
            "trace_id",
            "span_id",
            "name",
            "service",
            "agent_name",
            "span_kind_ai",
            "status_code",
            "error_type",
            "attributes",
        ]
    ).to_pylist()
    traces: dict[str, list[_Step]] = {}
    for row in columns:
        attributes: dict[str, Any] = orjson.loads(row["attributes"]) if row["attributes"] else {}
        steps = traces.setdefault(row["trace_id"], [])
        step = attributes.get(STEP)
        text = next((attributes[key] for key in CONTENT_KEYS if key in attributes), "")
        steps.append(
            _Step(
                span_id=row["span_id"],
                component=row["agent_name"] or row["service"] or row["name"],
                step=step if type(step) is int else len(steps),
                tool=row["span_kind_ai"] == "TOOL",
                failed=row["status_code"] == "ERROR",
                error_type=row["error_type"],
                text=text if isinstance(text, str) else orjson.dumps(text).decode(),
            )
        )
    return list(traces.items())


def _features(steps: Sequence[_Step]) -> list[_Found]:
    """For each step, feature name -> ``(value, reason, span ids)`` items (summed per feature)."""
    found: list[_Found] = [{} for _ in steps]

    def add(index: int, feature: str, value: float, reason: str, spans: list[str]) -> None:
        found[index].setdefault(feature, []).append((value, reason, spans))

    authors = _authors(steps)
    _failures(steps, authors, add)
    _repetitions(steps, add)
    for index, step in enumerate(steps):
        if step.tool:
            add(index, "tool_output", 1.0, f"{step.component} only reports a tool's output", [])
        elif (match := _ASSUMES.search(step.text)) is not None:
            add(
                index,
                "unsupported_assumption",
                1.0,
                f"{step.component} rests on an assumption ({match.group(0)!r})",
                [step.span_id],
            )
    _claims(steps, authors, add)
    return found


def _authors(steps: Sequence[_Step]) -> list[int]:
    """For each step, the step credited with its content: itself for an agent step, the nearest
    earlier agent step for a tool step (the one that wrote what the tool ran), else itself."""
    authors, last_agent = [], None
    for index, step in enumerate(steps):
        if not step.tool:
            last_agent = index
        authors.append(last_agent if step.tool and last_agent is not None else index)
    return authors


def _failures(steps: Sequence[_Step], authors: list[int], add: Any) -> None:
    first = True
    for index, step in enumerate(steps):
        if not step.failed:
            continue
        what = step.error_type or "an error"
        if step.tool and authors[index] != index:
            author = authors[index]
            recovered = any(later.tool and not later.failed for later in steps[index + 1 :])
            add(
                author,
                "wrote_failing_code",
                0.5 if recovered else 1.0,
                f"{steps[author].component} wrote what {step.component} ran, which failed with "
                f"{what}" + (" (a later run succeeded)" if recovered else ""),
                [steps[author].span_id, step.span_id],
            )
            if first:
                add(
                    author,
                    "first_failure",
                    1.0,
                    f"the first failure of the run ({what}) ran what {steps[author].component}"
                    " wrote",
                    [steps[author].span_id, step.span_id],
                )
        elif not step.tool and not (index > 0 and steps[index - 1].failed):
            add(
                index,
                "failed_itself",
                1.0,
                f"{step.component} reported {what} itself",
                [step.span_id],
            )
        first = False
        following = next((j for j in range(index + 1, len(steps)) if not steps[j].tool), None)
        if following is not None and not _addresses(steps[following], steps[authors[index]]):
            add(
                following,
                "ignored_failure",
                1.0,
                f"{steps[following].component} went on without addressing the failure "
                f"({what}) at step {step.step}",
                [steps[following].span_id, step.span_id],
            )


def _addresses(step: _Step, author: _Step) -> bool:
    """Whether ``step`` deals with a failure: its prose mentions an error or a fix, or it submits
    code other than the code that failed (an attempt to fix it)."""
    if _ACKNOWLEDGES.search(_FENCE.sub(" ", step.text)):
        return True
    return bool(_FENCE.search(step.text)) and _action(step.text) != _action(author.text)


def _action(text: str) -> str:
    blocks = [match.group("body") for match in _FENCE.finditer(text)]
    action = "\n".join(blocks) if blocks else text
    return _SPACE.sub(" ", action).strip().lower()


def _repetitions(steps: Sequence[_Step], add: Any) -> None:
    seen: dict[str, int] = {}
    flagged: set[str] = set()
    for index, step in enumerate(steps):
        if step.tool:
            continue
        action = _action(step.text)
        if len(action) < _MIN_ACTION_CHARS:
            continue
        if action in seen and action not in flagged:
            flagged.add(action)
            earlier = steps[seen[action]]
            add(
                index,
                "repeated_action",
                1.0,
                f"{step.component} repeated the action of step {earlier.step} verbatim",
                [step.span_id, earlier.span_id],
            )
        seen.setdefault(action, index)


def _tokens(text: str) -> list[str]:
    """Result tokens of a text's prose, in order of appearance, without duplicates: numbers
    (commas dropped) and **bold** phrases (lower-cased). Fenced code is left out: code is an
    action, not a claim (its output, in the tool step, is the claim)."""
    text = _FENCE.sub(" ", text)
    tokens = [match.group(0).replace(",", "").rstrip(".") for match in _NUMBER.finditer(text)]
    tokens += [match.group(1).strip().lower() for match in _BOLD.finditer(text)]
    return list(dict.fromkeys(token for token in tokens if token))


def _claims(steps: Sequence[_Step], authors: list[int], add: Any) -> None:
    origin: dict[str, int] = {}
    per_step: list[list[str]] = []
    for index, step in enumerate(steps):
        tokens = _tokens(step.text)
        per_step.append(tokens)
        for token in tokens:
            origin.setdefault(token, authors[index])
    final = next(
        (i for i in range(len(steps) - 1, -1, -1) if not steps[i].tool and per_step[i]), None
    )
    if final is not None:
        step = steps[final]
        add(
            final,
            "final_answer",
            1.0,
            f"{step.component} states the final result",
            [step.span_id],
        )
        shares = _shares(per_step[final], origin)
        for source, share in sorted(shares.items()):
            add(
                source,
                "final_result_origin",
                share,
                f"{share:.0%} of the final result (step {step.step}) first appeared here",
                [steps[source].span_id, step.span_id],
            )
    for index, step in enumerate(steps):
        if step.tool or not _CONTRADICTS.search(step.text):
            continue
        cited = [token for token in per_step[index] if origin[token] < index]
        for source, share in sorted(_shares(cited, origin).items()):
            if steps[source].component == step.component:
                continue
            add(
                source,
                "contradicted_later",
                share,
                f"{step.component} (step {step.step}) calls into question a result that first "
                "appeared here",
                [steps[source].span_id, step.span_id],
            )


def _shares(tokens: list[str], origin: dict[str, int]) -> dict[int, float]:
    shares: dict[int, float] = {}
    for token in tokens:
        shares[origin[token]] = shares.get(origin[token], 0.0) + 1 / len(tokens)
    return shares
