"""results.json through its model (`Results`): files written before the model existed read
as they are and are written back the same; what the writer puts in it reads back as the
records it came from; a malformed file is named in one line."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from nas_cli.errors import StoreError
from nas_cli.store import (
    RESULTS,
    Objective,
    Results,
    TrialEntry,
    list_experiments,
    load_info,
    read_results,
    write_results,
)
from nas_cli.trials import TrialRecord, TrialState

# results.json files as nas-cli wrote them before the model (commit 4eb408d): a simulated
# table run, a two-objective run, a one-shot run (its phases), and a file with what cluster
# runs add (attempts, peak memory, node) and every trial state.
DATA = Path(__file__).parent / "data"
WRITTEN_BEFORE = sorted(DATA.glob("*.json"))


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True)  # NaN as NaN: equal to itself


def _folder(tmp_path: Path, source: Path) -> Path:
    folder = tmp_path / json.loads(source.read_text())["experiment"]
    folder.mkdir()
    shutil.copyfile(source, folder / RESULTS)
    return folder


@pytest.mark.parametrize("source", WRITTEN_BEFORE, ids=lambda p: p.stem)
def test_a_file_written_before_the_model_reads_and_writes_back_the_same(tmp_path, source):
    folder = _folder(tmp_path, source)
    results = read_results(folder)
    info = load_info(folder)
    assert [r.number for r in info.records] == [t["trial"] for t in
                                                 json.loads(source.read_text())["trials"]]
    written = json.loads(results.model_dump_json(exclude_unset=True))
    assert _canonical(written) == _canonical(json.loads(source.read_text()))
    # written again from its records, as the driver would: the same trials, in the same order
    results.trials = []
    write_results(folder, results, info.records)
    assert _canonical(json.loads((folder / RESULTS).read_text())) == \
        _canonical(json.loads(source.read_text()))


def test_every_key_of_the_files_is_in_the_model():
    """A key the model does not know would be dropped on reading: none is."""
    for source in WRITTEN_BEFORE:
        data = json.loads(source.read_text())
        assert set(data) <= set(Results.model_fields), source.name
        for entry in data["trials"]:
            assert set(entry) <= set(TrialEntry.model_fields), source.name


def test_records_read_back_as_they_were_written(tmp_path):
    records = [
        TrialRecord(0, {"hidden": 8, "shape": [1, 2]}, TrialState.COMPLETE, metric=0.5,
                    values=[0.5, 600.0], metrics={"acc": 0.5, "params": 600.0, "loss": math.inf},
                    intermediate=[(1, 0.25), (2, 0.5)], params=1200, duration_s=1.25,
                    peak_memory=2**30, node="10.0.0.7/4f2a", phase="retrain",
                    attempts=[{"attempt": 1, "error": "node lost", "duration_s": 0.5}]),
        TrialRecord(1, {"hidden": 4, "shape": "flat"}, TrialState.COMPLETE, metric=0.75,
                    values=[0.75, 900.0], metrics={"acc": 0.75, "params": 900.0}, phase="search"),
        TrialRecord(2, {"hidden": 16, "shape": "flat"}, TrialState.FAILED, error="ValueError: x"),
        TrialRecord(3, {"hidden": 16, "shape": [1, 2]}, TrialState.RUNNING),
    ]
    objectives = [Objective(metric="acc", mode="maximize"),
                  Objective(metric="params", mode="minimize")]
    write_results(tmp_path, Results(experiment="e", name="n", status="running",
                                    objective=objectives[0], objectives=objectives), records)
    info = load_info(tmp_path)
    assert sorted(info.records, key=lambda r: r.number) == records
    data = json.loads((tmp_path / RESULTS).read_text())
    assert [(t["trial"], t.get("rank"), t.get("pareto")) for t in data["trials"]] == [
        (0, 1, True), (1, 2, True), (2, None, None), (3, None, None)]  # retrained rank first
    assert data["pareto_front"] == [0, 1] and data["trials"][0]["metrics"]["loss"] == math.inf
    assert data["trials"][1]["inherited"] is True and data["trials"][0]["inherited"] is False


@pytest.mark.parametrize(("damage", "says"), [
    (lambda d: d["trials"][1].update(trial="x"), "trials.1.trial"),
    (lambda d: d["trials"][0].update(status="bogus"), "trials.0.status"),
    (lambda d: d.pop("objective"), "objective: Field required"),
    (lambda d: d["objective"].update(mode="most"), "objective.mode"),
])
def test_a_malformed_file_is_named_in_one_line(tmp_path, nas, damage, says):
    folder = _folder(tmp_path, DATA / "cluster.json")
    data = json.loads((folder / RESULTS).read_text())
    damage(data)
    (folder / RESULTS).write_text(json.dumps(data))
    with pytest.raises(StoreError) as caught:
        read_results(folder)
    assert "\n" not in str(caught.value) and says in str(caught.value)
    assert str(folder / RESULTS) in str(caught.value) and "`nas resume` rewrites it" in \
        str(caught.value)
    code, out, err = nas("status", folder.name, "--exp-dir", tmp_path)
    assert code == 1 and err.strip().splitlines() == [f"error: {caught.value}"]
    (listed,) = list_experiments(tmp_path)
    assert listed.status == "unreadable"
