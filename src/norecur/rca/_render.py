"""The fault report for people: a short text summary, Markdown, and the propagation graph in
Mermaid and Graphviz DOT. Every renderer reads only the JSON document, so what a person reads is
what a tool reads."""

from __future__ import annotations

import re
from typing import Any

from norecur.rca._report import FaultReport

__all__ = ["to_dot", "to_markdown", "to_mermaid", "to_text"]

RANKED_SHOWN = 10
TRACES_SHOWN = 20
_MERMAID_UNSAFE = re.compile(r'["<>`#;{}\[\]()|]')


def to_text(report: FaultReport) -> str:
    """A few lines for a terminal: the verdict, the top suspects, the reach."""
    document = report.document
    inputs = document["inputs"]
    lines = [
        f"{inputs['spans']:,} spans in {inputs['traces']:,} traces "
        f"({inputs['failed_traces']:,} failed), {inputs['log_lines']:,} log lines, "
        f"{inputs['metric_points']:,} metric points"
    ]
    top = document["root_cause"]
    if top is None:
        lines.append("No root cause found: no analyzer blamed any component.")
    else:
        classification = top["classification"]
        lines.append(
            f"Root cause: {top['component']} (score {top['score']:.3f}, "
            f"blame share {top['blame_share']:.0%}), class {classification['class']} "
            f"(confidence {classification['confidence']:.0%}; role {classification['role']})"
        )
        if top["reason"]:
            lines.append(f"  why: {top['reason']}")
    for row in document["ranking"][:5]:
        analyzers = ", ".join(
            f"{name} {share:.3f}" for name, share in sorted(row["evidence_shares"].items())
        )
        lines.append(
            f"  {row['rank']:>2}. {row['component']:<32} {row['score']:.3f}  ({analyzers})"
        )
    reach = document["blast_radius"]
    lines.append(
        f"Blast radius: {_reach(reach['traces'])} traces, {_reach(reach['sessions'])} sessions, "
        f"{_reach(reach['users'])} users"
        + (
            f", {_reach(reach['tenants'])} tenants ({reach['tenants']['attribute']})"
            if reach["tenants"]
            else ""
        )
    )
    skipped = sum(len(file["skipped"]) for file in inputs["files"])
    if skipped or inputs["unreadable"]:
        lines.append(
            f"Skipped: {skipped} malformed record{'s' if skipped != 1 else ''}, "
            f"{len(inputs['unreadable'])} unreadable file"
            f"{'s' if len(inputs['unreadable']) != 1 else ''} (--format json lists them)"
        )
    return "\n".join(lines) + "\n"


def _reach(reach: dict[str, Any]) -> str:
    return f"{reach['affected']:,}/{reach['total']:,}"


def to_markdown(report: FaultReport) -> str:
    """The whole report as Markdown, the graph as a Mermaid block."""
    document = report.document
    out = ["# Fault report", ""]
    top = document["root_cause"]
    if top is None:
        out += ["No analyzer blamed any component.", ""]
    else:
        classification = top["classification"]
        out += [
            f"**Root cause:** `{_md(top['component'])}` ({classification['role']}), class "
            f"**{classification['class']}** (confidence {classification['confidence']:.0%}); "
            f"score {top['score']:.3f}, "
            f"blame share {top['blame_share']:.0%}.",
            "",
        ]
        if top["reason"]:
            out += [f"> {_md(top['reason'])}", ""]
        out += ["## Classification", "", "| Rule | Class | Weight | Reason |", "|---|---|---|---|"]
        out += [
            f"| {vote['rule']} | {vote['class']} | {vote['weight']:.2f} | {_md(vote['reason'])} |"
            for vote in classification["votes"]
        ]
        out.append("")
    out += [
        "## Ranking",
        "",
        "| Rank | Component | Score | Blame share | Evidence shares (Shapley) |",
        "|---|---|---|---|---|",
    ]
    for row in document["ranking"][:RANKED_SHOWN]:
        shares = ", ".join(
            f"{name} {value:.3f}" for name, value in sorted(row["evidence_shares"].items())
        )
        out.append(
            f"| {row['rank']} | `{_md(row['component'])}` | {row['score']:.3f} | "
            f"{row['blame_share']:.0%} | {shares} |"
        )
    out.append("")
    for row in document["ranking"][:3]:
        out += [f"### Evidence against `{_md(row['component'])}`", ""]
        for example in row["examples"]:
            where = "the window" if example["trace_id"] == "*" else f"trace `{example['trace_id']}`"
            out.append(
                f"- {example['analyzer']} in {where}: {_md(example['reason'] or example['kind'])}"
            )
        out.append("")
    out += ["## Propagation", "", "```mermaid", to_mermaid(report).rstrip("\n"), "```", ""]
    reach = document["blast_radius"]
    out += ["## Blast radius", "", "| Population | Affected | Total | Share |", "|---|---|---|---|"]
    for name in ("traces", "sessions", "users", "tenants"):
        value = reach[name]
        if value is None:
            continue
        label = name if name != "tenants" else f"tenants (`{_md(value['attribute'])}`)"
        out.append(
            f"| {label} | {value['affected']:,} | {value['total']:,} | {value['share']:.1%} |"
        )
    out.append("")
    if reach["slices"]:
        out += ["| Slice | Affected traces | Of all affected |", "|---|---|---|"]
        out += [
            f"| {item['dimension']} = `{_md(str(item['value']))}` | {item['affected']:,} of "
            f"{item['total']:,} | {item['share_of_affected']:.0%} |"
            for item in reach["slices"]
        ]
        out.append("")
    if reach["over_time"]:
        out += ["| From (UTC) | Traces | Affected |", "|---|---|---|"]
        out += [
            f"| {bucket['start']} | {bucket['traces']:,} | {bucket['affected']:,} |"
            for bucket in reach["over_time"]
        ]
        out.append("")
    listed = document["per_trace"]["listed"][:TRACES_SHOWN]
    if listed:
        out += [
            "## Per trace",
            "",
            "| Trace | Failed | Blamed | Step | Why |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| `{item['trace_id']}` | {'yes' if item['failed'] else 'no'} | "
            f"`{_md(item['component'])}` | {'' if item['step'] is None else item['step']} | "
            f"{_md(item['reason'])} |"
            for item in listed
        ]
        out.append("")
    inputs = document["inputs"]
    out += ["## Inputs", ""]
    out += [
        f"- `{_md(file['path'])}`: {file['records']:,} records ({file['reader']}), "
        f"{len(file['skipped'])} skipped"
        for file in inputs["files"]
    ]
    out += [f"- unreadable: {_md(line)}" for line in inputs["unreadable"]]
    out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or inline code."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def to_mermaid(report: FaultReport) -> str:
    """The propagation graph as a Mermaid flowchart (root cause highlighted)."""
    graph = report.document["propagation"]
    ids = {node["component"]: node["id"] for node in graph["nodes"]}
    lines = ["flowchart LR"]
    for node in graph["nodes"]:
        label = _MERMAID_UNSAFE.sub("_", node["component"])
        suffix = f" #{node['rank']}" if node["rank"] is not None and node["rank"] <= 3 else ""
        lines.append(f'  {node["id"]}["{label}{suffix}"]')
    for edge in graph["edges"]:
        verb = "error" if edge["kind"] == "error" else "calls"
        arrow = "-.->" if edge["kind"] == "calls" else "==>"
        lines.append(
            f"  {ids[edge['from']]} {arrow}|{verb} in {edge['traces']} traces| {ids[edge['to']]}"
        )
    top = report.document["root_cause"]
    if top is not None and top["component"] in ids:
        lines.append("  classDef root fill:#fdd,stroke:#c00,stroke-width:2px")
        lines.append(f"  class {ids[top['component']]} root")
    return "\n".join(lines) + "\n"


def to_dot(report: FaultReport) -> str:
    """The propagation graph in Graphviz DOT (root cause filled red)."""
    graph = report.document["propagation"]
    top = report.document["root_cause"]
    root = top["component"] if top is not None else None
    lines = ["digraph propagation {", "  rankdir=LR;", "  node [shape=box];"]
    for node in graph["nodes"]:
        style = (
            ', style=filled, fillcolor="#ffdddd", color="#cc0000"'
            if node["component"] == root
            else ""
        )
        suffix = f" #{node['rank']}" if node["rank"] is not None and node["rank"] <= 3 else ""
        lines.append(f"  {node['id']} [label={_dot(node['component'] + suffix)}{style}];")
    ids = {node["component"]: node["id"] for node in graph["nodes"]}
    for edge in graph["edges"]:
        style = "solid" if edge["kind"] == "error" else "dashed"
        label = _dot(f"{edge['kind']} in {edge['traces']} traces")
        lines.append(f"  {ids[edge['from']]} -> {ids[edge['to']]} [label={label}, style={style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot(text: str) -> str:
    """A DOT quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
