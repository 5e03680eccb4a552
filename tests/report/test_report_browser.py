"""The HTML review in a real browser: headless Debian Chromium driven by Playwright.

Every chart must be drawn (an ``<svg>`` with visible marks, a title and two axis labels), the
numbers read back from the page's marks must equal the JSON report's, the page must not ask
the network for anything, and a full-page screenshot is saved to ``tests/report/artifacts/``.

Chromium is Debian's package (``make test`` installs it when missing); Playwright never
downloads a browser here. Without it the test fails under ``CI=true`` and is skipped, with
the reason in the summary, elsewhere.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from report_samples import CHART_IDS, empty, examples_report, expected_marks, hostile, sample

from norecur.report import render_html

CHROMIUM = Path(os.environ.get("NORECUR_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Everything the page says about its charts, gathered in the page itself.
READ_CHARTS = """
() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  return {
    chart: svg.dataset.chart,
    kind: svg.dataset.kind,
    empty: svg.dataset.empty === 'true',
    width: box.width,
    height: box.height,
    title: (svg.querySelector('.chart-title') || {}).textContent || null,
    axisLabels: Array.from(svg.querySelectorAll('.axis-label')).map(e => e.textContent),
    noData: (svg.querySelector('.no-data') || {}).textContent || null,
    marks: Array.from(svg.querySelectorAll('.mark')).map(m => {
      const b = m.getBBox();
      return {
        data: Object.assign({}, m.dataset),
        tooltip: (m.querySelector('title') || {}).textContent || null,
        width: b.width,
        height: b.height,
      };
    }),
  };
})
"""


def _require_chromium() -> Any:
    """The Playwright entry point, or a failure under CI / a loud skip elsewhere."""
    problem = None
    if not CHROMIUM.is_file():
        problem = f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is None:
        return sync_playwright
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run under CI: {problem}")
    warnings.warn(f"SKIPPING the browser test of the HTML report: {problem}", stacklevel=2)
    pytest.skip(f"browser test SKIPPED: {problem}")


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _open(browser, report: dict[str, Any], tmp_path: Path, name: str, *, screenshot: bool = True):
    """Open the rendered page from a file; return the page, its charts, and every request."""
    path = tmp_path / f"{name}.html"
    path.write_text(render_html(report, version="test"), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    charts = page.evaluate(READ_CHARTS)
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
    return page, charts, requests, path


def _marks(chart: dict[str, Any]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for mark in chart["marks"]:
        data = dict(mark["data"])
        series, value = data.pop("series"), json.loads(data.pop("value"))
        ((_key, category),) = data.items()
        assert (series, category) not in out
        out[(series, category)] = value
    return out


REPORTS = {
    "sample": sample,
    "examples": examples_report,
    "hostile": hostile,
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_chart_is_drawn_with_the_json_numbers(browser, tmp_path, name):
    report = REPORTS[name]()
    # The numbers come from the JSON form of the report, as `norecur report --format json` prints.
    report = json.loads(json.dumps(report))
    page, charts, requests, path = _open(browser, report, tmp_path, name)
    try:
        assert requests == [path.as_uri()], "the page asked for something besides itself"
        assert [c["chart"] for c in charts] == list(CHART_IDS)
        expected = expected_marks(report)
        for chart in charts:
            cid = chart["chart"]
            assert chart["width"] > 250, cid
            assert chart["height"] > 150, cid
            assert chart["title"], cid
            assert len(chart["axisLabels"]) == 2, cid
            assert all(chart["axisLabels"]), cid
            assert not chart["empty"], cid
            assert chart["marks"], f"{cid} has no marks"
            assert _marks(chart) == expected[cid], cid
            for mark in chart["marks"]:
                assert mark["tooltip"], (cid, mark)
                value = json.loads(mark["data"]["value"])
                if value:  # a non-zero value is a visible shape
                    assert mark["width"] > 0, (cid, mark)
                    assert mark["height"] > 0, (cid, mark)
        # Nothing spills sideways at a laptop's width.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    finally:
        page.close()


def test_empty_report_draws_every_chart_saying_no_data(browser, tmp_path):
    page, charts, requests, path = _open(browser, empty(), tmp_path, "empty")
    try:
        assert requests == [path.as_uri()]
        assert [c["chart"] for c in charts] == list(CHART_IDS)
        for chart in charts:
            assert chart["empty"], chart["chart"]
            assert chart["width"] > 250, chart["chart"]
            assert chart["noData"], chart["chart"]
            assert chart["title"], chart["chart"]
            assert len(chart["axisLabels"]) == 2, chart["chart"]
    finally:
        page.close()


def test_hostile_names_stay_text_in_the_browser(browser, tmp_path):
    page, _charts, _requests, _path = _open(
        browser, hostile(), tmp_path, "hostile-dom", screenshot=False
    )
    try:
        # No element came out of a name: the page holds no script, image or bold element.
        assert page.evaluate("document.querySelectorAll('script, img, b').length") == 0
        cell = page.evaluate("document.querySelector('#closure tbody tr td').textContent")
        assert cell.startswith('<script>alert("x")</script> | "quoted"')
    finally:
        page.close()
