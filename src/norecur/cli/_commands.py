"""The commands. Each one parses its options, calls the library, and prints."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from norecur import __version__
from norecur.cli._app import app
from norecur.cli._output import write_output
from norecur.cli._show import show_postmortem
from norecur.config import OPTIONS, Config, find_config, load_config
from norecur.document import (
    front_matter_schema,
    new_postmortem,
    read_postmortem,
    render_html,
    render_parsed,
)
from norecur.errors import ConfigError, NorecurError
from norecur.lint import DOC_SECTIONS, REPORTERS, Linter, default_registry, doc_sections
from norecur.metrics import build_report, load_signal_data
from norecur.report import render_html as render_report_html
from norecur.report import render_markdown as render_report_markdown
from norecur.store import open_store, sync


class LintFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class ShowFormat(StrEnum):
    text = "text"
    json = "json"


class RenderTarget(StrEnum):
    md = "md"
    html = "html"


class DocFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _config(config_path: Path | None, near: Path) -> Config:
    if config_path is not None:
        if not config_path.is_file():
            raise ConfigError("config file not found", path=str(config_path))
        return load_config(config_path)
    return load_config(find_config(near))


def _codes(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(code.strip().upper() for code in value.split(",") if code.strip())


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise NorecurError(f"{option} expects a date such as 2026-05-19, got {value!r}") from None


@app.command()
def lint(
    paths: Annotated[list[Path], typer.Argument(help="Postmortem files or folders (recursive).")],
    output_format: Annotated[
        LintFormat, typer.Option("--format", "-f", help="Output format.")
    ] = LintFormat.text,
    config_path: Annotated[
        Path | None, typer.Option("--config", help="A norecur.toml or pyproject.toml.")
    ] = None,
    select: Annotated[
        str | None, typer.Option(help="Comma-separated codes or prefixes to run.")
    ] = None,
    ignore: Annotated[
        str | None, typer.Option(help="Comma-separated codes or prefixes to skip.")
    ] = None,
    today: Annotated[str | None, typer.Option(help="Date to treat as today (SLO rules).")] = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: CPU count).")
    ] = None,
) -> None:
    """Check postmortems against the contract.

    Exit 0 when clean, 1 with findings, 2 when a file cannot be read or the usage is wrong.

    Example: [bold]norecur lint postmortems/ --format sarif > norecur.sarif[/bold]
    """
    config = _config(config_path, paths[0] if paths else Path.cwd())
    overrides: dict[str, object] = {}
    if (selected := _codes(select)) is not None:
        overrides["select"] = selected
    if (ignored := _codes(ignore)) is not None:
        overrides["ignore"] = config.ignore + ignored
    if overrides:
        config = _replace(config, **overrides)
    linter = Linter(config, today=_parse_date(today, "--today"))
    for broken in linter.registry.broken:
        print(f"warning: {broken.one_line()}", file=sys.stderr)
    result = linter.lint_paths(paths, jobs=jobs)
    reporter = REPORTERS[output_format.value]()
    sys.stdout.write(reporter.report(result, linter.registry))
    if result.errors and output_format is not LintFormat.text:
        for error in result.errors:
            print(error.one_line(), file=sys.stderr)
    raise typer.Exit(result.exit_code)


def _replace(config: Config, **changes: object) -> Config:
    checked = Config.from_mapping({k: list(v) for k, v in changes.items()})  # type: ignore[call-overload]
    return replace(config, **{key: getattr(checked, key) for key in changes})


@app.command()
def new(
    incident_id: Annotated[
        str, typer.Argument(metavar="ID", help="Incident id, e.g. INC-2026-0512.")
    ],
    directory: Annotated[Path, typer.Option("--dir", help="Folder to write into.")] = Path("."),
    title: Annotated[str | None, typer.Option(help="Title for the H1 line.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a complete postmortem template, ID.md, with guidance in comments.

    Example: [bold]norecur new INC-2026-0512 --dir postmortems[/bold]
    """
    try:
        text = new_postmortem(incident_id, today=date.today(), title=title)
    except ValueError as exc:
        raise NorecurError(str(exc)) from None
    target = directory / f"{incident_id}.md"
    if target.exists() and not force:
        raise NorecurError("file exists; use --force to overwrite", path=str(target))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NorecurError(f"cannot write: {exc.strerror or exc}", path=str(target)) from None
    print(f"wrote {target}; fill it in, then run: norecur lint {target}")


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="A postmortem file.")],
    output_format: Annotated[
        ShowFormat, typer.Option("--format", "-f", help="text for people, json for tools.")
    ] = ShowFormat.text,
) -> None:
    """Render a postmortem readably in the terminal, or as JSON.

    Example: [bold]norecur show postmortems/INC-2026-0512.md[/bold]
    """
    parsed = read_postmortem(file)
    if output_format is ShowFormat.json:
        pm = parsed.postmortem
        payload = {**pm.front_matter(), "narrative": pm.narrative.model_dump()}
        print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
        return
    show_postmortem(parsed)


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="A postmortem file.")],
    to: Annotated[RenderTarget, typer.Option("--to", help="Output format.")] = RenderTarget.html,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Render a postmortem as normalised Markdown or as one self-contained HTML page.

    Normalising writes fields in canonical order and the parts in template order; YAML
    comments (suppression comments included) are not kept.

    Example: [bold]norecur render INC-2026-0512.md --to html -o INC-2026-0512.html[/bold]
    """
    parsed = read_postmortem(file)
    if to is RenderTarget.md:
        text = render_parsed(parsed)
    else:
        parsed.require_no_issues("render")
        text = render_html(parsed.postmortem, version=__version__)
    write_output(text, output)


@app.command()
def rule(
    code: Annotated[str | None, typer.Argument(help="A rule code (PM501) or name.")] = None,
    all_rules: Annotated[bool, typer.Option("--all", help="Every rule.")] = False,
    output_format: Annotated[DocFormat, typer.Option("--format", "-f")] = DocFormat.text,
) -> None:
    """Explain a lint rule: what it checks, why, an example, what to write instead, options.

    Example: [bold]norecur rule PM508[/bold]
    """
    registry = default_registry()
    if all_rules:
        rules = list(registry)
    elif code is not None:
        found = registry.get(code.strip())
        if found is None:
            raise NorecurError(f"no rule {code!r}; `norecur rule --all` lists them")
        rules = [found]
    else:
        raise NorecurError("give a rule code, or --all")
    if output_format is DocFormat.json:
        print(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "severity": r.severity.value,
                        "summary": r.summary(),
                        **{k.lower().replace(" ", "_"): v for k, v in doc_sections(r).items()},
                    }
                    for r in rules
                ],
                indent=2,
            )
        )
        return
    if output_format is DocFormat.markdown:
        sys.stdout.write(_rules_markdown(rules, full_page=all_rules))
        return
    for index, r in enumerate(rules):
        if index:
            print()
        print(f"{r.code} {r.name} ({r.severity.value})")
        print(r.summary())
        for heading, body in doc_sections(r).items():
            print(f"\n{heading}:")
            for line in body.splitlines():
                print(f"    {line}" if line else "")


def _rules_markdown(rules: list, *, full_page: bool) -> str:
    out: list[str] = []
    if full_page:
        out.append("# Lint rules\n")
        out.append(
            "Generated by `norecur rule --all --format markdown` from each rule's docstring; "
            "do not edit by hand.\n"
        )
        out.append("| Code | Name | Severity | Summary |\n|---|---|---|---|")
        out.extend(
            f"| [{r.code}](#{r.code.lower()}) | {r.name} | {r.severity.value} | {r.summary()} |"
            for r in rules
        )
        out.append("")
    for r in rules:
        out.append(f"## {r.code}\n\n**{r.name}** ({r.severity.value}): {r.summary()}\n")
        for heading in DOC_SECTIONS:
            body = doc_sections(r).get(heading, "")
            out.append(f"### {heading}\n\n{body}\n")
    return "\n".join(out)


@app.command()
def schema(
    fault_report: Annotated[
        bool,
        typer.Option("--fault-report", help="The fault report of norecur rca, not the postmortem."),
    ] = False,
) -> None:
    """Print the JSON Schema of the postmortem front matter (for editors and CI), or of the fault report.

    Example: [bold]norecur schema > postmortem.schema.json[/bold]
    """
    if fault_report:
        from norecur.rca import FAULT_REPORT_SCHEMA

        print(json.dumps(FAULT_REPORT_SCHEMA, indent=2))
        return
    print(json.dumps(front_matter_schema(), indent=2))


@app.command("config-docs", hidden=True)
def config_docs() -> None:
    """Print docs/configuration.md from the option declarations.

    Example: [bold]norecur config-docs > docs/configuration.md[/bold]
    """
    out = [
        "# Configuration\n",
        "Generated by `norecur config-docs` from the option declarations; do not edit by hand.\n",
        "Options live in `norecur.toml` (top level) or under `[tool.norecur]` in `pyproject.toml`, "
        "found from the linted path upwards; `--config FILE` names one explicitly.\n",
        "| Option | Type | Default | Meaning |\n|---|---|---|---|",
    ]
    for option in OPTIONS:
        default = option.default
        if isinstance(default, tuple):
            default = list(default)
        shown = "unset" if default is None else f"`{json.dumps(default)}`"
        allowed = f" Allowed: {option.allowed}." if option.allowed else ""
        out.append(f"| `{option.name}` | {option.type} | {shown} | {option.meaning}{allowed} |")
    out.append("\n## Example\n\n```toml\n[tool.norecur]")
    out.extend(option.example for option in OPTIONS if option.example)
    out.append("```\n")
    sys.stdout.write("\n".join(out))


# The examples span 2026-Q1..Q3; the demo reviews all three quarters.
_DEMO_WINDOW = (date(2026, 1, 1), date(2026, 9, 30))

# What the demo breaks in a copy of the worked example, to show the linter catching it.
_DEMO_BREAKAGE = (
    ("  primary: prompt\n", "  primary: prompts\n"),
    ("    owner: Arjun Rao\n    due: 2026-05-21\n", "    due: 2026-05-21\n"),
    (
        "Pre-deploy eval did not catch the regression",
        "Priya Iyer deployed the prompt without a slice check, a human error. Pre-deploy eval "
        "did not catch the regression",
    ),
)


@app.command()
def demo(
    examples: Annotated[Path, typer.Option(help="Folder of example postmortems.")] = Path(
        "examples/postmortems"
    ),
    out: Annotated[Path, typer.Option(help="Folder for the artefacts.")] = Path("out/demo"),
    worked: Annotated[str, typer.Option(help="The example to show and break.")] = "INC-2026-0512",
) -> None:
    """Run the end-to-end demo: lint the examples, show one, catch what a broken copy gets wrong,
    sync the examples into a store, write the quarterly trends review, then open an incident from
    an Alertmanager payload and investigate it into a draft postmortem with eval cases.

    Example: [bold]norecur demo --out /tmp/norecur-demo[/bold]
    """
    source = examples / f"{worked}.md"
    if not source.is_file():
        raise NorecurError("example not found (run from the repository root)", path=str(source))
    out.mkdir(parents=True, exist_ok=True)
    timings: list[tuple[str, float]] = []
    linter = Linter(_config(None, examples))

    print(f"== 1. norecur lint {examples}")
    started = time.perf_counter()
    result = linter.lint_paths([examples])
    timings.append((f"lint {result.files} examples", time.perf_counter() - started))
    sys.stdout.write(REPORTERS["text"]().report(result, linter.registry))

    print(f"\n== 2. norecur show {source}")
    started = time.perf_counter()
    parsed = read_postmortem(source)
    show_postmortem(parsed)
    html_path = out / f"{worked}.html"
    html_path.write_text(render_html(parsed.postmortem, version=__version__), encoding="utf-8")
    timings.append(("show + render HTML", time.perf_counter() - started))

    broken = out / "broken" / f"{worked}.md"
    broken.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    for old, new_text in _DEMO_BREAKAGE:
        if old not in text:
            raise NorecurError(f"the demo expects {old.strip()!r} in the example", path=str(source))
        text = text.replace(old, new_text, 1)
    broken.write_text(text, encoding="utf-8")
    print(
        f"\n== 3. norecur lint {broken}  (a copy with a typo'd cause, an unowned follow-up, blame)"
    )
    started = time.perf_counter()
    caught = linter.lint_paths([broken])
    timings.append(("lint the broken copy", time.perf_counter() - started))
    sys.stdout.write(REPORTERS["text"]().report(caught, linter.registry))

    database = out / "norecur.db"
    database.unlink(missing_ok=True)
    print(f"\n== 4. norecur sync {examples}  (into {database})")
    started = time.perf_counter()
    store = open_store(f"sqlite:///{database}")
    try:
        synced = sync(store, examples, git_history=False)
        timings.append(("sync the examples", time.perf_counter() - started))
        print(
            f"indexed {len(synced.added)} postmortems, {len(synced.errors)} errors, "
            f"{synced.history_added} follow-up status changes"
        )
        as_of = date.today()
        start, end = _DEMO_WINDOW
        print(f"\n== 5. norecur report --start {start} --end {end}  (the trends review)")
        started = time.perf_counter()
        report = build_report(
            load_signal_data(store.engine), start=start, end=end, as_of=as_of, config=linter.config
        )
    finally:
        store.dispose()
    report_html = out / "report.html"
    report_md = out / "report.md"
    report_html.write_text(render_report_html(report), encoding="utf-8")
    report_md.write_text(render_report_markdown(report), encoding="utf-8")
    timings.append(("report (JSON, Markdown, HTML)", time.perf_counter() - started))
    closure = report["closure"]["overall"]
    flagged = [t["team"] for t in report["closure"]["teams"] if t["flagged"]]
    print(
        f"closure rate {closure['rate']}, teams under the threshold: {', '.join(flagged) or 'none'}; "
        f"SLO breaches: {len(report['slo']['breaches'])}; "
        f"overdue follow-ups: {len(report['backlog']['overdue_follow_ups'])}"
    )

    rca_dir = out / "incident"
    print(
        f"\n== 6. norecur incident open {rca_dir}/alert.json; norecur investigate  "
        "(a prompt regression together with a retrieval-latency cascade, generated now)"
    )
    investigation, label, alert_to_draft = _demo_investigation(rca_dir)
    timings.append(("alert to draft postmortem", alert_to_draft))
    print(
        f"root cause {investigation.root_cause} ({investigation.cause_class}); "
        f"injected: {label['service']} ({label['cause_class']}) with a latency shift in "
        f"{label['decoy']['service']}; {investigation.eval_cases} eval cases"
    )
    print(f"alert to draft: {alert_to_draft:.1f} s (goal under 10 s)")
    print(f"the draft needs a human in {len(investigation.gaps)} place(s):")
    for finding in investigation.gaps:
        print(f"  {finding.path}:{finding.line}: {finding.code} {finding.message}")

    print("\nartefacts:")
    print(f"  {html_path}  (the worked example as one HTML page)")
    print(f"  {broken}  (the broken copy)")
    print(f"  {database}  (the store)")
    print(f"  {report_md}, {report_html}  (the quarterly trends review)")
    print(f"  {rca_dir}/alert.json  (the Alertmanager payload the incident was opened from)")
    print(f"  {investigation.draft}  (the draft postmortem)")
    for role, path in sorted(investigation.files.items()):
        print(f"  {path}  ({role.replace('_', ' ')})")
    print("timings:")
    for label, seconds in timings:
        print(f"  {label:<30} {seconds * 1000:7.0f} ms")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


_DEMO_FAULT = {
    "cause_class": "prompt",
    "fault": "prompt_template_regression",
    "topology": "llm",
    "decoy": ("latency", "retriever"),
}
"""The generated incident of the demo: a prompt-template regression in a RAG assistant, while
the retriever slows down (a second, smaller anomaly the investigation must not blame)."""


def _demo_investigation(folder: Path) -> tuple[Any, dict[str, Any], float]:
    """Generate the incident's telemetry, its change events and the Alertmanager payload, open
    the incident from the payload and investigate it. Returns the investigation, the label and
    the alert-to-draft time in seconds."""
    from norecur.faultgen import generate_case
    from norecur.investigate import open_incident
    from norecur.investigate._collect import Sources
    from norecur.investigate._investigate import investigate

    folder.mkdir(parents=True, exist_ok=True)
    case = generate_case(2026, 0, n_traces=150, **_DEMO_FAULT)  # type: ignore[arg-type]
    (folder / "incident.otlp.json").write_bytes(case.incident)
    (folder / "baseline.otlp.json").write_bytes(case.baseline)
    window = case.label["window"]
    start = datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(window["end"].replace("Z", "+00:00"))
    deploy = start - timedelta(minutes=2)
    event = {
        "time": deploy.isoformat(),
        "kind": "prompt",
        "target": case.label["service"],
        "name": "llm.prompt_template.version",
        "old": "v7",
        "new": "v8",
    }
    (folder / "changes.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
    alert = {
        "version": "4",
        "groupKey": '{}:{alertname="AnswerQualityLow"}',
        "status": "resolved",
        "receiver": "norecur",
        "groupLabels": {"alertname": "AnswerQualityLow"},
        "commonLabels": {"alertname": "AnswerQualityLow", "service": "chat-api"},
        "commonAnnotations": {"summary": "Answer quality below the SLO on chat-api"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "resolved",
                "labels": {
                    "alertname": "AnswerQualityLow",
                    "service": "chat-api",
                    "severity": "P2",
                    "team": "assistant",
                },
                "annotations": {"summary": "Answer quality below the SLO on chat-api"},
                "startsAt": (start + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endsAt": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fingerprint": "5d1c0a7e9b3f2e11",
            }
        ],
    }
    (folder / "alert.json").write_text(json.dumps(alert, indent=2), encoding="utf-8")
    began = time.perf_counter()
    incident = open_incident(folder / "alert.json")
    investigation = investigate(
        incident,
        Sources(
            telemetry=(folder / "incident.otlp.json",),
            baseline=(folder / "baseline.otlp.json",),
            events=(folder / "changes.jsonl",),
        ),
        folder / "investigation",
        today=(end + timedelta(days=1)).date(),
    )
    return investigation, case.label, time.perf_counter() - began


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        print(f"norecur {__version__}")
        raise typer.Exit(0)


__all__: list[str] = []
