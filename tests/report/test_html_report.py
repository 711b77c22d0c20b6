"""`nas report`: the HTML file a user opens (what it says, not how it is drawn; the browser tests
check the drawing)."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

from nas_cli.report import report_html
from nas_cli.store import load_info


def _rows(page: str, table: str) -> list[str]:
    body = re.search(rf'<table class="{table}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, f"no {table} in the report"
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)


def test_report_is_written_next_to_the_experiment(nas, experiment):
    code, out, err = nas("report", "--exp-dir", experiment.root)

    path = experiment.path / "report.html"
    assert (code, err) == (0, "")
    assert out.strip() == str(path)
    page = path.read_text()
    # the header: id, name, status, counts, objective
    assert experiment.id in page and "<h1>small-search</h1>" in page
    assert "<b>done</b>" in page
    assert "8 of 8: 7 complete, 1 failed" in page
    assert "score (maximize)" in page
    best = experiment.results()["trials"][0]
    assert f"best</span><b>{best['metric']:.4g} (trial {best['trial']})</b>" in page


def test_report_opens_offline(experiment):
    page = report_html(load_info(experiment.path))

    assert "<script src" not in page and "<link" not in page  # nothing to fetch
    assert "plotly.js v" in page  # plotly.js itself is inline
    assert page.count('class="plotly-graph-div"') == 3
    for anchor in ("history", "curves", "parallel", "top", "failed"):
        assert f'<section id="{anchor}">' in page


def test_top_table_lists_the_best_architectures_with_their_choices(nas, experiment,
                                                                  tmp_path: Path):
    output = tmp_path / "out" / "small.html"
    output.parent.mkdir()
    code, out, _ = nas("report", experiment.id[:15], "--exp-dir", experiment.root,
                       "--output", output, "--top", "3")

    assert (code, out.strip()) == (0, str(output))
    rows = _rows(output.read_text(), "top-table")
    ranked = [t for t in experiment.results()["trials"] if t.get("rank")]
    assert len(rows) == 3
    for row, trial in zip(rows, ranked):
        cells = re.findall(r'<td class="num">(.*?)</td>', row)
        assert cells[:3] == [str(trial["rank"]), str(trial["trial"]), f"{trial['metric']:.4g}"]
        assert f"{trial['metrics']['loss']:.4g}" in cells  # the other metrics too
        act = ["0: ReLU", "1: Tanh", "2: Sigmoid"][trial["arch"]["act"]]
        assert f"<b>act</b> {act}</span>" in row  # LayerChoice indices by name
        assert f"<b>width</b> {trial['arch']['width']}</span>" in row


def test_failed_trials_are_listed_with_their_reasons(experiment):
    page = report_html(load_info(experiment.path))

    (row,) = _rows(page, "failed-table")
    assert f'<td class="num">{experiment.failed_trial}</td><td>failed</td>' in row
    reason = "RuntimeError: sigmoid after linear diverged <at step 1>"
    assert html.escape(reason) in row and reason not in page  # escaped, never raw HTML
    assert "<b>block</b> linear" in row


def test_parallel_coordinates_name_every_choice(experiment):
    page = report_html(load_info(experiment.path))

    figure = re.search(r'Plotly.newPlot\(\s*"fig-parallel",\s*(\[.*?\]),\s*\{', page, re.S)
    (trace,) = json.loads(figure.group(1))
    axes = {d["label"]: d for d in trace["dimensions"]}
    assert list(axes) == ["width", "act", "block", "score"]  # the space's order
    assert axes["act"]["ticktext"] == ["0: ReLU", "1: Tanh", "2: Sigmoid"]
    assert axes["width"]["ticktext"] == ["4", "8", "16"]
    assert axes["width"]["tickvals"] == [0, 1, 2]
    complete = sorted((t for t in experiment.results()["trials"] if t.get("rank")),
                      key=lambda t: t["trial"])
    assert axes["score"]["values"] == [t["metric"] for t in complete]


def test_report_of_an_experiment_without_results_yet(tmp_path: Path, nas):
    exp = tmp_path / "exps" / "20250101-000000-abcd"
    exp.mkdir(parents=True)
    (exp / "results.json").write_text(json.dumps({
        "experiment": exp.name, "name": "fresh", "status": "running",
        "objective": {"metric": "val_acc", "mode": "maximize"}, "trials": [
            {"trial": 0, "arch": {"a": 1}, "status": "running", "metric": None}],
    }))
    code, out, _ = nas("report", "--exp-dir", tmp_path / "exps")

    page = (exp / "report.html").read_text()
    assert code == 0
    assert "No completed trial yet." in page and "No trial failed." in page
    assert "plotly-graph-div" not in page
    assert "<b>interrupted</b>" in page  # results.json says running but no driver is alive


def test_unknown_experiment_is_a_usage_error(nas, experiment):
    code, out, err = nas("report", "no-such-experiment", "--exp-dir", experiment.root)

    assert code == 2 and out == ""
    assert "no experiment 'no-such-experiment'" in err
    assert "Traceback" not in err


def test_output_that_is_a_folder_is_a_usage_error(nas, experiment, tmp_path: Path):
    code, _, err = nas("report", "--exp-dir", experiment.root, "--output", tmp_path)

    assert code == 2
    assert "is a folder; name a file" in err


def test_missing_plotly_is_one_clear_line(nas, experiment, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    code, _, err = nas("report", "--exp-dir", experiment.root, "--output", "unused.html")

    assert code == 1
    assert err.strip() == "error: nas report needs plotly: pip install 'nas-cli[report]'"
