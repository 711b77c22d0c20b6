"""The table evaluator: the formats it reads, bad tables refused in one line, a trial as a
look-up (curve reported, unknown architectures failed), and the tables shipped in bench/data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers.cli import run_new
from helpers.tables import every_row, row, table_spec, write_table
from helpers.tiny import Tiny

from nas_cli import search_space
from nas_cli.errors import SpecError
from nas_cli.evaluator._table import TableEvaluator, read_table
from nas_cli.execution import TrialPayload, execute

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def space():
    return search_space(Tiny)


def test_csv_json_and_sqlite_tables_read_the_same(tmp_path, space):
    rows = [row(4, 0, acc=0.5, seconds=2.5, curve=[0.1, 0.5]), row(8, 1, acc=0.75, loss=0.3)]
    csv_table = read_table(write_table(tmp_path, rows), space, "acc")
    json_table = read_table(write_table(tmp_path, rows, "table.json"), space, "acc")
    db = tmp_path / "table.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE results (hidden INTEGER, act TEXT, acc REAL, loss REAL, "
                     "seconds REAL, curve TEXT)")
        conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?)",
                         [(4, "0", 0.5, None, 2.5, "[0.1, 0.5]"), (8, "1", 0.75, 0.3, None, None)])
    sqlite_table = read_table(db, space, "acc")
    for table in (csv_table, json_table, sqlite_table):
        assert len(table) == 2 and set(table.metrics) == {"acc", "loss"}
        first = table.lookup({"hidden": 4, "act": 0})
        assert (first.metrics, first.seconds, first.curve) == ({"acc": 0.5}, 2.5, (0.1, 0.5))
        second = table.lookup({"hidden": 8, "act": 1})
        assert (second.metrics, second.seconds, second.curve) == \
            ({"acc": 0.75, "loss": 0.3}, None, ())
        assert table.lookup({"hidden": 16, "act": 0}) is None


def test_cells_read_as_nas_export_writes_them(tmp_path):
    from bench.data.space import DigitsBenchNet

    path = tmp_path / "quoted.csv"  # strings bare or quoted; the inactive block_op empty
    path.write_text("kernel,channels,norm,act,block,block_op,hidden,dropout,acc\n"
                    "'conv3x3',4,none,\"'relu'\",skip,,16,0,0.5\n")
    table = read_table(path, search_space(DigitsBenchNet), "acc")
    arch = {"kernel": "conv3x3", "channels": 4, "norm": "none", "act": "relu", "block": "skip",
            "hidden": 16, "dropout": 0.0}
    assert table.lookup(arch).metrics == {"acc": 0.5}


@pytest.mark.parametrize("rows, columns, message", [
    ([row(4, 0, acc=0.5)], "act,acc\n0,0.5\n",
     "has no column for label(s) hidden: a table needs one column per label of the space "
     "(hidden, act), one per metric, optional seconds and curve"),
    (None, "hidden,act,loss\n4,0,0.5\n",
     "has no column 'acc' (the objective's metric); its metric columns: loss"),
    (None, "hidden,act,acc\n32,0,0.5\n",
     "row 1: label 'hidden': '32' is not one of its candidates (4, 8, 16)"),
    (None, "hidden,act,acc,seconds\n4,0,0.5,-1\n",
     "row 1: seconds must be a number >= 0, got '-1'"),
    (None, "hidden,act,acc\n4,0,0.5\n8,0,0.5\n4,0,0.7\n",
     "row 3: the same architecture as row 1 ({'hidden': 4, 'act': 0})"),
    (None, "hidden,act,acc,curve\n4,0,0.5,\"[0.1, oops]\"\n",
     "row 1: curve must be a JSON list of numbers (the metric after each epoch), got "
     "'[0.1, oops]'"),
    (None, "hidden,act,acc\n4,0,high\n",
     "row 1: column 'acc' must be a number (or empty), got 'high'"),
])
def test_a_bad_table_is_refused_in_one_line(tmp_path, space, rows, columns, message):
    path = tmp_path / "bad.csv"
    path.write_text(columns)
    with pytest.raises(SpecError) as caught:
        read_table(path, space, "acc")
    assert str(caught.value).startswith(f"evaluator.path: {path} ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_nas_run_refuses_a_bad_table_before_any_trial(tmp_path):
    table = tmp_path / "bad.csv"
    table.write_text("hidden,act,acc,seconds\n4,0,0.5,-3\n")
    root = tmp_path / "experiments"
    spec = table_spec(tmp_path, table)
    from helpers.cli import invoke

    code, out, err = invoke("run", spec, "--exp-dir", root, "-q")
    assert code == 2
    assert err.strip() == (f"error: evaluator.path: {table} row 1: seconds must be a number "
                           ">= 0, got '-3'")
    assert not root.exists() or not any(root.iterdir())


def test_a_trial_is_a_look_up_that_reports_the_curve(tmp_path, space):
    table = read_table(write_table(tmp_path, [row(4, 0, acc=0.5, curve=[0.2, 0.4, 0.5])]),
                       space, "acc")
    payload = TrialPayload(Tiny, {}, [], TableEvaluator(table), "acc")
    reported = []
    outcome = execute(payload, 0, {"hidden": 4, "act": 0}, None,
                      lambda step, value: reported.append((step, value)), log=False)
    assert (outcome.error, outcome.metrics, outcome.params) == (None, {"acc": 0.5}, None)
    assert reported == outcome.intermediate == [(0, 0.2), (1, 0.4), (2, 0.5)]
    unknown = execute(payload, 1, {"hidden": 8, "act": 0}, None, log=False)
    assert unknown.error == ("TrialError: architecture not in the table table.csv: "
                             "{'hidden': 8, 'act': 0}")


def test_unknown_and_failed_rows_fail_their_trials(tmp_path):
    """A table with a failed architecture (empty metric) and two missing: grid runs all six."""
    rows = every_row()[:4]
    rows[1]["acc"] = None
    table = write_table(tmp_path, rows)
    spec = table_spec(tmp_path, table, strategy={"name": "grid", "seed": 0}, max_failed_trials=0)
    root = tmp_path / "experiments"
    ran = run_new(root, spec, "--exp-dir", root, "-q")
    assert ran.code == 0, ran.err
    trials = {(t["arch"]["hidden"], t["arch"]["act"]): t for t in ran.results["trials"]}
    assert len(trials) == 6
    assert trials[(4, 1)]["error"] == ("the table table.csv has no acc for this architecture "
                                       "(it failed when the table was built)")
    assert trials[(16, 0)]["error"] == ("architecture not in the table table.csv: "
                                        "{'hidden': 16, 'act': 0}")
    assert trials[(8, 1)]["status"] == "complete" and trials[(8, 1)]["metric"] == 8 / 16 + 0.01


def test_the_shipped_tables_match_their_spaces():
    from bench.data.space import DigitsBenchNet

    digits = read_table(REPO / "bench/data/digits_table.csv", search_space(DigitsBenchNet),
                        "val_acc")
    assert len(digits) == 648 and not digits.has_seconds
    from bench.data.mlp_space import DigitsMLPNet

    mlp_space = search_space(DigitsMLPNet)
    mlp = read_table(REPO / "bench/data/mlp_curves.csv", mlp_space, "val_acc")
    assert len(mlp) == mlp_space.size == 3024 and mlp.has_seconds
    assert all(len(r.curve) == 12 and r.curve[-1] == r.metrics["val_acc"]
               for r in mlp.rows.values())
