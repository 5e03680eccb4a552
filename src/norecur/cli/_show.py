"""Terminal rendering of a postmortem with Rich."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from norecur.document import ParsedPostmortem
from norecur.model import MILESTONES, PARTS

__all__ = ["show_postmortem"]

_GAP = Text("not filled in", style="italic red")


def show_postmortem(parsed: ParsedPostmortem, console: Console | None = None) -> None:
    """Print the postmortem: identification, milestones, then each part with its data and prose."""
    console = console or Console()
    pm = parsed.postmortem
    header = Text(pm.title or pm.id or parsed.path, style="bold")
    meta = " · ".join(
        value
        for value in (pm.id, pm.severity, pm.status.value if pm.status else None, pm.team)
        if value
    )
    console.print(Panel(Group(header, Text(meta, style="dim")), expand=True))
    console.rule(Text(PARTS[0].heading, style="bold cyan"), align="left")
    ident = Table.grid(padding=(0, 2))
    ident.add_row("services", ", ".join(pm.services) or _GAP)
    ident.add_row("authors", ", ".join(pm.authors) or _GAP)
    ident.add_row("on call", "; ".join(f"{h.role}: {h.name}" for h in pm.on_call) or _GAP)
    ident.add_row("published", str(pm.dates.published or "—"))
    for name in MILESTONES:
        value = getattr(pm.incident, name)
        ident.add_row(name.replace("_", " "), str(value) if value else Text("—", style="dim"))
    console.print(ident)
    if pm.narrative.identification:
        console.print(Markdown(pm.narrative.identification))
    for part in PARTS[1:]:
        console.rule(Text(part.heading, style="bold cyan"), align="left")
        for renderable in _structured(parsed, part.key):
            console.print(renderable)
        prose = getattr(pm.narrative, part.key)
        if prose:
            console.print(Markdown(prose))
        elif not _structured(parsed, part.key):
            console.print(_GAP)


def _structured(parsed: ParsedPostmortem, key: str) -> list:
    pm = parsed.postmortem
    out: list = []
    if key == "timeline" and pm.timeline:
        table = Table("time", "kind", "event", box=None, pad_edge=False)
        for entry in pm.timeline:
            table.add_row(str(entry.time), entry.kind.value if entry.kind else "", entry.event)
        out.append(table)
    elif key == "cause" and pm.cause is not None:
        primary = pm.cause.primary.value if pm.cause.primary else "unclassified"
        sub = f" / {pm.cause.subcategory}" if pm.cause.subcategory else ""
        out.append(Text(f"primary: {primary}{sub}", style="bold"))
        for factor in pm.cause.contributing:
            klass = factor.class_.value if factor.class_ else "?"
            out.append(Text(f"  contributing ({klass}): {factor.description or ''}"))
    elif key == "blast_radius" and pm.blast_radius is not None:
        values = pm.blast_radius.model_dump(exclude_none=True)
        out.append(Text("  ".join(f"{k}: {v}" for k, v in values.items() if v != [])))
    elif key == "eval_delta" and pm.eval_delta is not None:
        for name, value in pm.eval_delta.model_dump(exclude_none=True).items():
            out.append(Text(f"{name}: {value}"))
    elif key == "follow_ups" and pm.follow_ups:
        table = Table("id", "action", "owner", "due", "status", "type", box=None, pad_edge=False)
        for f in pm.follow_ups:
            kind = f.type.value if f.type else ""
            if f.apparatus_kind:
                kind += f" ({f.apparatus_kind.value})"
            table.add_row(
                f.id or "",
                f.action or "",
                f.owner or "—",
                str(f.due or "—"),
                f.status.value if f.status else "—",
                kind,
            )
        out.append(table)
    elif key == "apparatus_updates" and pm.apparatus_updates:
        for update in pm.apparatus_updates:
            kind = update.kind.value if update.kind else "?"
            link = f" (follow-up {update.follow_up})" if update.follow_up else ""
            out.append(Text(f"{kind}: {update.change or ''}{link}"))
    return out
