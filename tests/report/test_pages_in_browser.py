"""Both pages in a real (headless) browser: they load with no console error and draw their charts.

Skipped when no Chromium/Chrome is installed. Set NAS_TEST_SCREENSHOTS=DIR to keep the
screenshots (report.png, dashboard.png, dashboard-selection.png) and look at them.
"""

from __future__ import annotations

import json

import pytest

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


PARETO_READY = """(() => {
  const drawn = ['fig-pareto', 'fig-hypervolume'].every(
    id => document.querySelector('#' + id + ' .main-svg'));
  return document.readyState === 'complete' && drawn ? {
    legend: Array.from(document.querySelectorAll('#fig-pareto .legendtext'), e => e.textContent),
    axes: Array.from(document.querySelectorAll('#fig-pareto text[class$="title"]'),
                     e => e.textContent),
    points: document.querySelectorAll('#fig-pareto .point').length,
    volume: document.querySelectorAll('#fig-hypervolume .point').length,
    header: document.querySelector('header').innerText,
  } : null;
})()"""


def _pareto_experiment(folder, k: int):
    """An experiment with `k` objectives written as the driver writes it: 12 trials on
    an anti-diagonal (every one on the front) plus 4 dominated ones."""
    from nas_cli.store import Results, write_results
    from nas_cli.trials import TrialRecord, TrialState

    objectives = [{"metric": "acc", "mode": "maximize"}, {"metric": "params", "mode": "minimize"},
                  {"metric": "latency_ms", "mode": "minimize"}][:k]
    records = []
    for n in range(16):
        step = n % 12
        dominated = n >= 12
        values = [0.5 + step / 24 - (0.2 if dominated else 0), 1000 + 100 * step,
                  5.0 + step / 2][:k]
        records.append(TrialRecord(n, {"width": 4 + step, "hp/lr": 10 ** -(1 + step / 6)},
                                   TrialState.COMPLETE, metric=values[0],
                                   metrics=dict(zip((o["metric"] for o in objectives), values)),
                                   values=values, params=int(values[1]), duration_s=1.0))
    folder.mkdir(parents=True)
    write_results(folder, Results(experiment=folder.name, name="pareto", status="done",
                                  objective=objectives[0], objectives=objectives,
                                  strategy="nsga2", space_size=None, max_trial_number=16),
                  records)
    return load_info(folder)


@pytest.mark.parametrize("k", [2, 3])
def test_pareto_report_draws_the_front_and_the_hypervolume(browser, screenshots, tmp_path, k):
    info = _pareto_experiment(tmp_path / f"exp{k}", k)
    assert info.results.pareto_front == list(range(12))
    path = write_report(info, tmp_path / "report.html")

    page = browser.load(path.as_uri(), PARETO_READY)
    browser.screenshot(screenshots / f"report-pareto-{k}.png")

    assert page.errors == []
    assert page.value, "the Pareto charts were not drawn"
    assert page.value["legend"] == ["other trials", "Pareto front"]
    assert "Pareto front12 trials" in page.value["header"]  # (a fact: name, value)
    if k == 2:
        assert sorted(page.value["axes"]) == ["acc (max)", "params (min)"]
        assert page.value["points"] == 16
    else:  # a scatter matrix (drawn in WebGL): every pair of the three objectives
        assert set(page.value["axes"]) == {"acc (max)", "params (min)", "latency_ms (min)"}
    assert page.value["volume"] >= 16  # one point per trial
