"""Both pages in a real (headless) browser: they load with no console error and draw their charts.

Skipped when no Chromium/Chrome is installed. Set NAS_TEST_SCREENSHOTS=DIR to keep the
screenshots (report.png, dashboard.png, dashboard-selection.png) and look at them.
"""

from __future__ import annotations

import json

from nas_cli.report import write_report
from nas_cli.store import load_info

CHARTS = ("fig-history", "fig-curves", "fig-parallel")

REPORT_READY = """(() => {
  const drawn = CHARTS.every(id => document.querySelector('#' + id + ' .main-svg'));
  const lines = document.querySelector('#fig-parallel canvas');
  return document.readyState === 'complete' && drawn && lines ? {
    svgs: document.querySelectorAll('.main-svg').length,
    parallelAxes: Array.from(document.querySelectorAll('#fig-parallel .axis-title'),
                             e => e.textContent),
    parallelTicks: document.querySelector('#fig-parallel').textContent,
    curves: Array.from(document.querySelectorAll('#fig-curves .legendtext'), e => e.textContent),
    topRows: document.querySelectorAll('table.top-table tbody tr').length,
    failedRows: Array.from(document.querySelectorAll('table.failed-table tbody tr'),
                           e => e.innerText),
  } : null;
})()""".replace("CHARTS", json.dumps(CHARTS))


def test_report_page_draws_its_charts(browser, experiment, screenshots, tmp_path):
    path = write_report(load_info(experiment.path), tmp_path / "report.html", top=5)

    page = browser.load(path.as_uri(), REPORT_READY)
    browser.screenshot(screenshots / "report.png")

    assert page.errors == []
    assert page.value, "the report's charts were not drawn"
    assert page.value["parallelAxes"] == ["width", "act", "block", "score"]
    assert "2: Sigmoid" in page.value["parallelTicks"]
    top = [t for t in experiment.results()["trials"] if t.get("rank")][:5]
    assert page.value["curves"] == [f"trial {t['trial']} (#{t['rank']})" for t in top] + [
        "other trials", "failed or stopped"]  # the failed trial reported before it failed
    assert page.value["topRows"] == 5
    (failed,) = page.value["failedRows"]
    assert "sigmoid after linear diverged <at step 1>" in failed


def _shows(*texts: str) -> str:
    """JavaScript: the page's text once it shows every one of `texts` (else false)."""
    return " && ".join([f"document.body.innerText.includes({json.dumps(t)})" for t in texts]
                       + ["document.body.innerText"])


def test_dashboard_renders_the_study(browser, view, experiment, screenshots):
    best = experiment.results()["trials"][0]
    page = browser.load(
        view.url + "/dashboard/studies/1",
        "document.querySelectorAll('.main-svg').length >= 4 && " + _shows(
            experiment.id, f"Best Trial (number={best['trial']})", "Hyperparameter Importance",
            "Intermediate values", "18 architectures, 3 decisions", "choices: "),
        timeout=45, settle=1.5,
    )
    browser.screenshot(screenshots / "dashboard.png")

    assert page.errors == []
    assert page.value, "the dashboard did not render the study"
    assert "choices: width\t(value) 4 | 8 | 16" in page.value  # the study's attrs, readable


def test_dashboard_trial_table_and_parallel_coordinates(browser, view, experiment, screenshots):
    page = browser.load(
        view.url + "/dashboard/studies/1/smartSelection",
        "document.querySelectorAll('.main-svg').length >= 2 && " + _shows(
            "Parallel Coordinate", "Param act", "diverged"),
        timeout=45, settle=1.5,
    )
    browser.screenshot(screenshots / "dashboard-selection.png")

    assert page.errors == []
    assert page.value, "the dashboard did not render the trial table"
    text = page.value
    assert "Param act" in text and "2: Sigmoid" in text
    assert "RuntimeError: sigmoid after linear diverged <at step 1>" in text
    assert text.count("Complete") >= 7 and "Fail" in text
