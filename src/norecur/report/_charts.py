"""Charts as inline SVG, drawn in Python: no scripts, no external assets, byte-for-byte deterministic.

Every chart is one ``<svg class="chart">`` carrying ``data-chart`` (its id) and ``data-kind``, a
visible title, axis labels and a legend when it has more than one series. Every mark (a bar, a
bar segment, a point) is readable by a machine and by a person:

* ``class="mark"``, ``data-series`` (the series key), ``data-<x>`` (its category: ``data-quarter``,
  ``data-team``, ``data-week``...) and ``data-value``: the exact number from the report as JSON
  (``3``, ``0.8333333333333334``, ``null`` when the report has no value);
* a ``<title>`` child, which browsers show as a tooltip.

A chart with nothing to draw says so ("No data in this window", ``data-empty="true"``) instead of
vanishing. Text and attribute values are escaped, so a team called ``<script>`` stays text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "Series",
    "grouped_bars",
    "horizontal_bars",
    "line_chart",
    "stacked_bars",
]

Value = int | float | None
Formatter = Callable[[float], str]

WIDTH = 640
"""Default width of a chart in pixels (its viewBox; the page scales it down on narrow screens)."""
_FONT = 12
_CHAR = 6.6
"""Average width of one character at 12 px in the page's sans-serif, to lay out labels."""
_TITLE_Y = 20
_AXIS = "#5b6475"
_GRID = "#e3e6ec"
_TEXT = "#1d2330"
_MISSING = "#8a93a3"
_HALO = {"stroke": "#ffffff", "stroke-width": 3, "paint-order": "stroke"}
"""A white outline behind a label, so it stays readable across grid and threshold lines."""
_ID = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Series:
    """One series of a chart: a machine key, a legend label, a colour, one value per category.

    ``notes`` (optional, one per category) are appended to a mark's tooltip, e.g. ``"5 of 6"``.
    """

    key: str
    label: str
    colour: str
    values: tuple[Value, ...]
    notes: tuple[str | None, ...] = ()
    dashed: bool = False
    """Draw a line series dashed (so it stays visible where it runs over another)."""

    def note(self, index: int) -> str | None:
        return self.notes[index] if index < len(self.notes) else None


def _num(x: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros, never ``-0``."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _json(value: Value) -> str:
    return json.dumps(value)


def _attrs(attrs: dict[str, object]) -> str:
    return "".join(f' {name}="{escape(str(value))}"' for name, value in attrs.items())


def _el(tag: str, attrs: dict[str, object], body: str = "") -> str:
    return f"<{tag}{_attrs(attrs)}>{body}</{tag}>"


def _text(x: float, y: float, text: str, **attrs: object) -> str:
    return _el("text", {"x": _num(x), "y": _num(y), **attrs}, str(escape(text)))


def _fit(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels, on one line."""
    text = " ".join(text.split())
    room = max(int(width / _CHAR), 2)
    return text if len(text) <= room else text[: room - 1] + "…"


def nice_scale(top: float, *, integer: bool = False, ticks: int = 5) -> tuple[float, float]:
    """A round upper bound at or above ``top`` and a round tick step (1, 2, 2.5 or 5 × 10ⁿ)."""
    if top <= 0 or not math.isfinite(top):
        return (1.0, 1.0) if integer else (1.0, 0.25)
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    bound = math.ceil(top / step - 1e-9) * step
    return bound, step


def _tick_values(bound: float, step: float) -> list[float]:
    count = round(bound / step)
    return [round(i * step, 10) for i in range(count + 1)]


def _mark(
    tag: str,
    attrs: dict[str, object],
    *,
    series: str,
    x_key: str,
    category: str,
    value: Value,
    tooltip: str,
) -> str:
    data = {
        "class": "mark",
        "data-series": series,
        f"data-{x_key}": category,
        "data-value": _json(value),
    }
    return _el(tag, {**data, **attrs}, _el("title", {}, str(escape(tooltip))))


def _tooltip(label: str, category: str, shown: str, note: str | None) -> str:
    tip = f"{label}, {category}: {shown}"
    return f"{tip} ({note})" if note else tip


class _Frame:
    """The parts every chart shares: the root element, title, legend, axis labels."""

    def __init__(
        self, chart_id: str, kind: str, title: str, height: float, width: float = WIDTH
    ) -> None:
        if not _ID.match(chart_id):
            raise ValueError(f"chart id must be a lowercase slug, got {chart_id!r}")
        self.chart_id = chart_id
        self.kind = kind
        self.title = title
        self.height = height
        self.width = width
        self.parts: list[str] = []

    def legend(self, series: Sequence[Series], y: float) -> float:
        """Legend items left to right, wrapping; returns the y below the legend."""
        x = 0.0
        for item in series:
            width = 18 + len(item.label) * _CHAR + 16
            if x and x + width > self.width:
                x, y = 0.0, y + 18
            self.parts.append(
                _el(
                    "g",
                    {"class": "legend-item", "data-series": item.key},
                    _el(
                        "rect",
                        {
                            "x": _num(x),
                            "y": _num(y - 10),
                            "width": 12,
                            "height": 12,
                            "rx": 2,
                            "fill": item.colour,
                        },
                    )
                    + _text(x + 18, y, item.label, fill=_TEXT),
                )
            )
            x += width
        return y + 14

    def render(self, *, empty: bool = False) -> Markup:
        cid = self.chart_id
        head = _el("title", {"id": f"{cid}-title"}, str(escape(self.title)))
        heading = _text(0, _TITLE_Y, self.title, **{"class": "chart-title", "fill": _TEXT})
        attrs: dict[str, object] = {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "chart",
            "viewBox": f"0 0 {_num(self.width)} {_num(self.height)}",
            "width": _num(self.width),
            "height": _num(self.height),
            "role": "img",
            "aria-labelledby": f"{cid}-title",
            "data-chart": cid,
            "data-kind": self.kind,
            "font-size": _FONT,
            "style": f"max-width: {_num(self.width)}px",
        }
        if empty:
            attrs["data-empty"] = "true"
        return Markup(_el("svg", attrs, head + heading + "".join(self.parts)))


def _no_data(frame: _Frame, top: float, x_label: str, y_label: str, message: str) -> Markup:
    """An explicit empty chart: the frame, its axis labels and the message."""
    left, bottom = 56.0, frame.height - 44
    frame.parts.append(
        _el(
            "rect",
            {
                "x": _num(left),
                "y": _num(top),
                "width": _num(frame.width - left - 8),
                "height": _num(bottom - top),
                "fill": "#f7f8fa",
                "stroke": _GRID,
            },
        )
    )
    frame.parts.append(
        _text(
            left + (frame.width - left - 8) / 2,
            top + (bottom - top) / 2 + 4,
            message,
            **{"class": "no-data", "text-anchor": "middle", "fill": _AXIS},
        )
    )
    _axis_labels(frame, left, top, bottom, x_label, y_label)
    return frame.render(empty=True)


def _axis_labels(
    frame: _Frame, left: float, top: float, bottom: float, x_label: str, y_label: str
) -> None:
    frame.parts.append(
        _text(
            left + (frame.width - left) / 2,
            frame.height - 6,
            x_label,
            **{"class": "axis-label", "text-anchor": "middle", "fill": _AXIS},
        )
    )
    middle = top + (bottom - top) / 2
    frame.parts.append(
        _text(
            14,
            middle,
            y_label,
            **{
                "class": "axis-label",
                "text-anchor": "middle",
                "fill": _AXIS,
                "transform": f"rotate(-90 14 {_num(middle)})",
            },
        )
    )


def _y_axis(
    frame: _Frame,
    left: float,
    top: float,
    bottom: float,
    bound: float,
    step: float,
    fmt: Formatter,
) -> Callable[[float], float]:
    """Horizontal grid lines with tick labels; returns value → y."""

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * (value / bound)

    for tick in _tick_values(bound, step):
        y = y_of(tick)
        frame.parts.append(
            _el(
                "line",
                {
                    "class": "grid",
                    "x1": _num(left),
                    "x2": _num(frame.width - 8),
                    "y1": _num(y),
                    "y2": _num(y),
                    "stroke": _AXIS if tick == 0 else _GRID,
                },
            )
        )
        frame.parts.append(
            _text(left - 6, y + 4, fmt(tick), **{"text-anchor": "end", "fill": _AXIS})
        )
    return y_of


def _x_labels(
    frame: _Frame, centres: Sequence[float], labels: Sequence[str], y: float, band: float
) -> None:
    # Thin the labels out when they would collide; every mark still names its category.
    widest = max((len(label) for label in labels), default=0) * _CHAR + 8
    every = max(1, math.ceil(widest / band)) if band > 0 else 1
    for index, (centre, label) in enumerate(zip(centres, labels, strict=True)):
        if index % every:
            continue
        frame.parts.append(
            _text(
                centre,
                y,
                _fit(label, band * every),
                **{"class": "tick", "text-anchor": "middle", "fill": _AXIS},
            )
        )


def _all_missing(series: Sequence[Series]) -> bool:
    return all(value is None for item in series for value in item.values)


def _top(series: Sequence[Series]) -> float:
    return max((v for item in series for v in item.values if v is not None), default=0.0)


def _plot_top(frame: _Frame, series: Sequence[Series]) -> float:
    """Draw the legend when there is more than one series; the y where the plot starts."""
    if len(series) > 1:
        return frame.legend(series, _TITLE_Y + 24) + 10
    return _TITLE_Y + 20


def stacked_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_key: str,
    x_label: str,
    y_label: str,
    fmt: Formatter = lambda v: f"{v:g}",
    totals_note: Callable[[int], str] | None = None,
    empty_message: str = "No data in this window",
    width: float = WIDTH,
) -> Markup:
    """Vertical bars per category, one segment per series stacked bottom to top.

    ``totals_note(i)`` labels the top of bar ``i`` (e.g. ``"7 incidents"``).
    """
    frame = _Frame(chart_id, "stacked-bar", title, 340, width)
    top = _plot_top(frame, series)
    if not categories or _all_missing(series):
        return _no_data(frame, top, x_label, y_label, empty_message)
    left, bottom = 56.0, frame.height - 44
    totals = [
        sum(item.values[i] or 0 for item in series if i < len(item.values))
        for i in range(len(categories))
    ]
    bound, step = nice_scale(max(totals, default=0), integer=True)
    y_of = _y_axis(frame, left, top + 14, bottom, bound, step, fmt)
    band = (frame.width - 8 - left) / len(categories)
    bar = min(band * 0.6, 72)
    centres = [left + band * (i + 0.5) for i in range(len(categories))]
    for i, category in enumerate(categories):
        base = 0.0
        x = centres[i] - bar / 2
        for item in series:
            value = item.values[i] if i < len(item.values) else None
            amount = value or 0
            y1, y0 = y_of(base + amount), y_of(base)
            _bar(frame, item, i, category, value, x_key, fmt, x=x, y=y1, width=bar, height=y0 - y1)
            base += amount
        if totals_note is not None:
            frame.parts.append(
                _text(
                    centres[i],
                    y_of(base) - 5,
                    totals_note(i),
                    **{"class": "bar-total", "text-anchor": "middle", "fill": _TEXT},
                )
            )
    _x_labels(frame, centres, categories, bottom + 16, band)
    _axis_labels(frame, left, top, bottom, x_label, y_label)
    return frame.render()


def _bar(
    frame: _Frame,
    item: Series,
    index: int,
    category: str,
    value: Value,
    x_key: str,
    fmt: Formatter,
    *,
    x: float,
    y: float,
    width: float,
    height: float,
) -> None:
    """One bar (or bar segment) of ``item`` at ``category``, with its data-* values and tooltip."""
    shown = fmt(value) if value is not None else "no data"
    frame.parts.append(
        _mark(
            "rect",
            {
                "x": _num(x),
                "y": _num(y),
                "width": _num(width),
                "height": _num(height),
                "fill": item.colour,
            },
            series=item.key,
            x_key=x_key,
            category=category,
            value=value,
            tooltip=_tooltip(item.label, category, shown, item.note(index)),
        )
    )


def grouped_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_key: str,
    x_label: str,
    y_label: str,
    fmt: Formatter = lambda v: f"{v:g}",
    empty_message: str = "No data in this window",
    width: float = WIDTH,
) -> Markup:
    """Vertical bars per category, one bar per series side by side."""
    frame = _Frame(chart_id, "grouped-bar", title, 320, width)
    top = _plot_top(frame, series)
    if not categories or _all_missing(series):
        return _no_data(frame, top, x_label, y_label, empty_message)
    left, bottom = 56.0, frame.height - 44
    bound, step = nice_scale(_top(series), integer=True)
    y_of = _y_axis(frame, left, top + 12, bottom, bound, step, fmt)
    band = (frame.width - 8 - left) / len(categories)
    group = min(band * 0.78, 36.0 * len(series))
    bar = group / max(len(series), 1)
    centres = [left + band * (i + 0.5) for i in range(len(categories))]
    for i, category in enumerate(categories):
        for j, item in enumerate(series):
            value = item.values[i] if i < len(item.values) else None
            x = centres[i] - group / 2 + j * bar
            y1 = y_of(value or 0)
            width_ = max(bar - 2, 1)
            _bar(
                frame,
                item,
                i,
                category,
                value,
                x_key,
                fmt,
                x=x + 1,
                y=y1,
                width=width_,
                height=bottom - y1,
            )
            if value:
                frame.parts.append(
                    _text(
                        x + bar / 2,
                        y1 - 4,
                        fmt(value),
                        **{"class": "bar-value", "text-anchor": "middle", "fill": _TEXT},
                    )
                )
    _x_labels(frame, centres, categories, bottom + 16, band)
    _axis_labels(frame, left, top, bottom, x_label, y_label)
    return frame.render()


def horizontal_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    values: Sequence[Value],
    *,
    series: str,
    series_label: str,
    x_key: str,
    x_label: str,
    y_label: str,
    colours: Sequence[str],
    maximum: float,
    fmt: Formatter,
    notes: Sequence[str | None] = (),
    threshold: float | None = None,
    threshold_label: str = "",
    empty_message: str = "No data in this window",
    width: float = WIDTH,
) -> Markup:
    """One horizontal bar per category on a fixed scale 0..``maximum``, with an optional threshold.

    ``colours`` gives each bar its colour (flagged bars differ); a ``None`` value is drawn as a
    dashed outline labelled "no data" so a missing value is visible, not a zero.
    """
    rows = max(len(categories), 1)
    height = _TITLE_Y + 44 + rows * 30 + 48
    frame = _Frame(chart_id, "horizontal-bar", title, height, width)
    top = _TITLE_Y + 30.0
    if not categories or all(value is None for value in values):
        frame.height = max(height, 200)
        return _no_data(frame, top, x_label, y_label, empty_message)
    longest = max(len(" ".join(c.split())) for c in categories)
    left = 30 + min(max(longest, 6), 24) * _CHAR + 8
    right = frame.width - 180.0
    bottom = top + 14 + rows * 30

    def x_of(value: float) -> float:
        return left + (right - left) * min(max(value / maximum, 0.0), 1.0)

    for tick in _tick_values(maximum, maximum / 4):
        x = x_of(tick)
        frame.parts.append(
            _el(
                "line",
                {
                    "class": "grid",
                    "x1": _num(x),
                    "x2": _num(x),
                    "y1": _num(top + 8),
                    "y2": _num(bottom),
                    "stroke": _AXIS if tick == 0 else _GRID,
                },
            )
        )
        frame.parts.append(
            _text(x, bottom + 16, fmt(tick), **{"text-anchor": "middle", "fill": _AXIS})
        )
    labels: list[str] = []
    for i, category in enumerate(categories):
        value = values[i]
        note = notes[i] if i < len(notes) else None
        y = top + 14 + i * 30 + 5
        frame.parts.append(
            _text(
                left - 8,
                y + 14,
                _fit(category, left - 38),
                **{"class": "tick", "text-anchor": "end", "fill": _TEXT},
            )
        )
        if value is None:
            # The whole track, faint and dashed: unknown, not zero and not some share.
            shape: dict[str, object] = {
                "x": _num(left),
                "y": _num(y),
                "width": _num(right - left),
                "height": 20,
                "fill": "#f3f4f6",
                "stroke": _MISSING,
                "stroke-dasharray": "4 3",
            }
            shown, end = "no data", left + 2
        else:
            shape = {
                "x": _num(left),
                "y": _num(y),
                "width": _num(x_of(value) - left),
                "height": 20,
                "rx": 2,
                "fill": colours[i],
            }
            shown, end = fmt(value), x_of(value)
        frame.parts.append(
            _mark(
                "rect",
                shape,
                series=series,
                x_key=x_key,
                category=category,
                value=value,
                tooltip=_tooltip(series_label, category, shown, note),
            )
        )
        labels.append(
            _text(
                end + 6,
                y + 14,
                f"{shown} · {note}" if note else shown,
                **{"class": "bar-value", "fill": _TEXT, **_HALO},
            )
        )
    if threshold is not None:
        x = x_of(threshold)
        frame.parts.append(
            _el(
                "line",
                {
                    "class": "threshold",
                    "data-threshold": _json(threshold),
                    "x1": _num(x),
                    "x2": _num(x),
                    "y1": _num(top + 2),
                    "y2": _num(bottom + 4),
                    "stroke": "#b42318",
                    "stroke-width": 2,
                    "stroke-dasharray": "6 4",
                },
                _el("title", {}, str(escape(threshold_label))),
            )
        )
        frame.parts.append(
            _text(
                x,
                top,
                threshold_label,
                **{"class": "threshold-label", "text-anchor": "middle", "fill": "#b42318"},
            )
        )
    frame.parts.extend(labels)
    frame.parts.append(
        _text(
            left + (right - left) / 2,
            frame.height - 8,
            x_label,
            **{"class": "axis-label", "text-anchor": "middle", "fill": _AXIS},
        )
    )
    frame.parts.append(
        _text(8, top + 4, y_label, **{"class": "axis-label", "fill": _AXIS}),
    )
    return frame.render()


def line_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_key: str,
    x_label: str,
    y_label: str,
    fmt: Formatter = lambda v: f"{v:g}",
    scale: float = 1.0,
    tick_labels: Sequence[str] | None = None,
    area: bool = False,
    integer: bool = False,
    tooltip_fmt: Formatter | None = None,
    empty_message: str = "No data in this window",
    width: float = WIDTH,
) -> Markup:
    """One line per series over the categories; a point mark on every category.

    Values are drawn divided by ``scale`` (e.g. 60 to draw minutes in hours) while ``data-value``
    keeps the report's number (and ``tooltip_fmt``, when given, formats it for the tooltip). A missing value breaks the line and draws a hollow marker on the
    axis. ``area`` fills under a single series.
    """
    frame = _Frame(chart_id, "area" if area else "line", title, 320, width)
    top = _plot_top(frame, series)
    if not categories or _all_missing(series):
        return _no_data(frame, top, x_label, y_label, empty_message)
    left, bottom = 56.0, frame.height - 44
    bound, step = nice_scale(_top(series) / scale, integer=integer)
    y_of = _y_axis(frame, left, top + 12, bottom, bound, step, fmt)
    inset = 18.0
    span = frame.width - 8 - left - 2 * inset
    count = len(categories)

    def x_of(i: int) -> float:
        return left + inset + (span * i / (count - 1) if count > 1 else span / 2)

    centres = [x_of(i) for i in range(count)]
    for item in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(item.values[:count]):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((centres[i], y_of(value / scale)))
        for run in (r for r in runs if r):
            points = " ".join(f"{_num(x)},{_num(y)}" for x, y in run)
            if area and len(series) == 1:
                outline = (
                    f"M{_num(run[0][0])},{_num(bottom)} L"
                    + " L".join(f"{_num(x)},{_num(y)}" for x, y in run)
                    + f" L{_num(run[-1][0])},{_num(bottom)} Z"
                )
                frame.parts.append(
                    _el(
                        "path",
                        {"class": "area", "d": outline, "fill": item.colour, "fill-opacity": 0.14},
                    )
                )
            frame.parts.append(
                _el(
                    "polyline",
                    {
                        "class": "line",
                        "data-series": item.key,
                        "points": points,
                        "fill": "none",
                        "stroke": item.colour,
                        "stroke-width": 2.5,
                        "stroke-linejoin": "round",
                        **({"stroke-dasharray": "6 4"} if item.dashed else {}),
                    },
                )
            )
        for i, category in enumerate(categories):
            value = item.values[i] if i < len(item.values) else None
            if value is None:
                attrs: dict[str, object] = {
                    "cx": _num(centres[i]),
                    "cy": _num(bottom),
                    "r": 3.5,
                    "fill": "#ffffff",
                    "stroke": _MISSING,
                    "stroke-width": 1.5,
                }
                shown = "no data"
            else:
                attrs = {
                    "cx": _num(centres[i]),
                    "cy": _num(y_of(value / scale)),
                    "r": 4,
                    "fill": item.colour,
                    "stroke": "#ffffff",
                    "stroke-width": 1.5,
                }
                shown = tooltip_fmt(value) if tooltip_fmt else fmt(value / scale)
            frame.parts.append(
                _mark(
                    "circle",
                    attrs,
                    series=item.key,
                    x_key=x_key,
                    category=category,
                    value=value,
                    tooltip=_tooltip(item.label, category, shown, item.note(i)),
                )
            )
    band = span / max(count - 1, 1)
    _x_labels(frame, centres, tick_labels or categories, bottom + 16, band)
    _axis_labels(frame, left, top, bottom, x_label, y_label)
    return frame.render()
