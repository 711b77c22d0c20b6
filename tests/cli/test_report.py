"""`nas status` and `nas export` on the shared experiments, and how EXP finds an experiment:
an id, a unique id prefix, a name (the latest with it), the latest when omitted."""

from __future__ import annotations

import ast
import json

import pytest
import torch
from helpers.cli import TINY, Ran

from nas_cli.space import LayerChoice


def shortest_unique_prefix(target: str, others: list[str]) -> str:
    for length in range(1, len(target) + 1):
        prefix = target[:length]
        if not any(o.startswith(prefix) for o in others if o != target):
            return prefix
    raise AssertionError(target)


# --- status -------------------------------------------------------------------------------------


def test_status_lists_every_experiment(nas, all_exps: list[Ran]):
    code, out, err = nas("status")
    assert code == 0 and err == ""
    for ran in all_exps:
        assert ran.id in out  # ids are what users copy: never cut short
    assert out.count("alpha") == 2 and out.count("beta") == 1


def test_status_json_lists_every_experiment_oldest_first(nas, all_exps: list[Ran]):
    code, out, err = nas("status", "--json")
    assert code == 0 and err == ""
    summaries = json.loads(out)
    assert [s["experiment"] for s in summaries] == [r.id for r in all_exps]
    assert [s["name"] for s in summaries] == ["alpha", "beta", "alpha"]
    assert all(s["status"] == "done" for s in summaries)
    assert [len(s["best"]) for s in summaries] == [1, 1, 1]
    assert summaries[0]["best"][0]["arch"] == {"hidden": 16, "act": 1}


def test_status_of_one_experiment(nas, grid_exp: Ran):
    failed = next(t for t in grid_exp.results["trials"] if t["status"] == "failed")
    code, out, err = nas("status", grid_exp.id)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"experiment {grid_exp.id} (alpha): done"
    assert lines[1].startswith("trials: 6/20 finished (5 complete, 1 failed); space 6 "
                               "architectures, strategy grid, elapsed ")
    assert lines[2] == "stopped because: space exhausted"
    assert f"trial {failed['trial']} failed: ValueError: hidden=8 diverged" in lines
    assert "hidden=16, act=1" in out


def test_status_json_of_one_experiment(nas, grid_exp: Ran):
    code, out, err = nas("status", grid_exp.id, "--json", "--top", "3")
    assert code == 0 and err == ""
    summary = json.loads(out)
    assert summary["experiment"] == grid_exp.id
    assert summary["status"] == "done"
    assert summary["objective"] == {"metric": "default", "mode": "maximize"}
    assert summary["trials"]["complete"] == 5 and summary["trials"]["failed"] == 1
    assert summary["finished"] == 6 and summary["space_size"] == 6
    ranked = grid_exp.results["trials"][:3]
    assert [(b["rank"], b["trial"], b["arch"], b["metric"]) for b in summary["best"]] == \
        [(t["rank"], t["trial"], t["arch"], t["metric"]) for t in ranked]
    assert summary["failures"] == [{"trial": grid_exp.results["trials"][5]["trial"],
                                    "error": "ValueError: hidden=8 diverged"}]


def test_status_without_experiments(nas, exp_dir):
    code, out, err = nas("status")
    assert code == 0
    assert out.strip() == f"no experiments under {exp_dir}; start one with `nas run SPEC`"
    code, out, err = nas("status", "--json")
    assert code == 0 and json.loads(out) == []


def test_status_piped_keeps_ids_names_and_values_whole(nas, exp_dir, monkeypatch):
    """`nas status | cat` in a narrow terminal: nothing a user copies is cut short."""
    from nas_cli import store as st
    from nas_cli.trials import TrialRecord, TrialState

    monkeypatch.setenv("COLUMNS", "40")
    path = exp_dir / "20261201-101010-abcd"
    path.mkdir(parents=True)
    record = TrialRecord(0, {"hidden": 16, "act": 1}, TrialState.COMPLETE, metric=0.987654321,
                         params=1234567)
    st.write_results(path, st.Results(
        experiment=path.name, name="digits-quickstart-with-a-long-name", status="done",
        objective={"metric": "val_acc", "mode": "maximize"}, max_trial_number=16, created=0),
        [record])
    code, out, err = nas("status")
    assert code == 0 and err == ""
    assert path.name in out and "digits-quickstart-with-a-long-name" in out
    assert "val_acc=0.9877" in out
    code, out, err = nas("status", path.name)
    assert code == 0 and "digits-quickstart-with-a-long-name" in out
    assert "0.9877" in out and "1,234,567" in out and "hidden=16, act=1" in out


# --- export -------------------------------------------------------------------------------------


def test_export_dict_prints_one_python_dict_per_line(nas, grid_exp: Ran):
    code, out, err = nas("export", grid_exp.id, "--top", "3", "--format", "dict")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [ast.literal_eval(line) for line in lines] == \
        [t["arch"] for t in grid_exp.results["trials"][:3]]


def test_export_json_is_one_array_of_the_completed(nas, random_exp: Ran):
    code, out, err = nas("export", random_exp.id, "--top", "10", "--format", "json")
    assert code == 0 and err == ""
    assert json.loads(out) == [t["arch"] for t in random_exp.results["trials"]]


def test_export_code_builds_the_frozen_models(nas, grid_exp: Ran):
    code, out, err = nas("export", grid_exp.id, "--top", "2", "--format", "code")
    assert code == 0 and err == ""
    snippets = out.split("\n\n# trial ")
    assert len(snippets) == 2
    # the class is imported as the user's code would import it: tiny.py lies in the package
    # `helpers`, imported from the folder above it
    assert f"sys.path.insert(0, {str(TINY.parent.parent)!r})" in out
    assert "from helpers.tiny import Tiny" in out and "load_attr" not in out
    for snippet, trial in zip(snippets, grid_exp.results["trials"][:2]):
        namespace: dict = {}
        exec(("" if snippet.startswith("#") else "# trial ") + snippet, namespace)
        model = namespace["model"]
        assert isinstance(model, torch.nn.Module)
        assert not any(isinstance(m, LayerChoice) for m in model.modules())
        assert model.fc1.out_features == trial["arch"]["hidden"]
        assert isinstance(model.act, torch.nn.Tanh if trial["arch"]["act"] else torch.nn.ReLU)
        assert model(torch.ones(3, 4)).shape == (3, 1)


def test_export_to_a_file(nas, grid_exp: Ran, tmp_path):
    target = tmp_path / "best.json"
    code, out, err = nas("export", grid_exp.id, "--top", "1", "--format", "json",
                         "--output", target)
    assert code == 0 and err == ""
    assert out.strip() == f"wrote 6 lines to {target}"
    assert json.loads(target.read_text()) == [{"hidden": 16, "act": 1}]


def test_export_to_a_folder_is_refused(nas, grid_exp: Ran, tmp_path):
    code, out, err = nas("export", grid_exp.id, "--output", tmp_path)
    assert code == 2
    assert err.strip() == f"error: --output {tmp_path} is a folder; name a file"


def test_export_defaults_to_the_latest_experiment(nas, all_exps: list[Ran]):
    code, out, err = nas("export", "--format", "json", "--top", "5")
    assert code == 0
    assert json.loads(out) == [t["arch"] for t in all_exps[-1].results["trials"]]


# --- EXP: id, prefix, name ----------------------------------------------------------------------


def _exported(nas, ref: str) -> list:
    code, out, err = nas("export", ref, "--format", "json", "--top", "6")
    assert code == 0, err
    return json.loads(out)


def test_exp_by_id_and_by_unique_prefix(nas, all_exps: list[Ran]):
    ids = [r.id for r in all_exps]
    for ran in all_exps:
        expected = [t["arch"] for t in ran.results["trials"] if "rank" in t]
        assert _exported(nas, ran.id) == expected
        assert _exported(nas, shortest_unique_prefix(ran.id, ids)) == expected
        code, out, err = nas("status", shortest_unique_prefix(ran.id, ids), "--json")
        assert json.loads(out)["experiment"] == ran.id


def test_exp_by_name_means_the_latest_with_it(nas, grid_exp: Ran, random_exp: Ran,
                                              short_exp: Ran):
    code, out, err = nas("status", "alpha", "--json")
    assert json.loads(out)["experiment"] == short_exp.id
    code, out, err = nas("status", "beta", "--json")
    assert json.loads(out)["experiment"] == random_exp.id


def test_ambiguous_prefix_is_refused(nas, all_exps: list[Ran]):
    prefix = all_exps[0].id[:4]  # the year: every experiment has it
    for command in (["status"], ["export"]):
        code, out, err = nas(*command, prefix)
        assert code == 2 and out == ""
        assert err.count("\n") == 1
        assert err.startswith(f"error: experiment '{prefix}' is ambiguous: it matches ")
        assert err.rstrip().endswith("; type more of the id")
        assert all(r.id in err for r in all_exps)


@pytest.mark.parametrize("command", ["status", "export"])
def test_unknown_experiment_is_refused(nas, all_exps: list[Ran], cli_root, command):
    code, out, err = nas(command, "nope")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: no experiment 'nope' under {cli_root} (latest: ")
    assert err.rstrip().endswith("); see `nas status`")


@pytest.mark.parametrize("command", ["status", "export"])
def test_no_experiment_at_all_is_refused(nas, exp_dir, command):
    code, out, err = nas(command, "anything")
    assert code == 2
    assert err == f"error: no experiments under {exp_dir}: run one with `nas run SPEC`\n"


# --- experiments written by hand (no run needed) ------------------------------------------------


def fake_experiment(root, exp_id: str, spec: dict, records: list, status: str = "done"):
    """An experiment folder as the driver leaves it: spec.yaml and results.json."""
    import yaml

    from nas_cli.store import Results, write_results

    path = root / exp_id
    (path / "trials").mkdir(parents=True)
    (path / "spec.yaml").write_text(yaml.safe_dump(spec))
    write_results(path, Results(experiment=exp_id, name="hand", status=status,
                                objective={"metric": "default", "mode": "maximize"}, created=1.0,
                                spec_dir=str(root), max_trial_number=4), records)
    return path


def test_export_code_passes_the_init_kwargs(nas, exp_dir):
    from helpers.cli import base_spec

    from nas_cli.trials import TrialRecord, TrialState

    spec = base_spec()
    spec["model_space"]["init_kwargs"] = {"inputs": 3}
    fake_experiment(exp_dir, "20200101-000000-aaaa", spec, [
        TrialRecord(0, {"hidden": 8, "act": 0}, TrialState.COMPLETE, metric=1.0),
    ])
    code, out, err = nas("export", "--format", "code", "--top", "1")
    assert code == 0, err
    namespace: dict = {}
    exec(out, namespace)
    assert namespace["model"].fc1.in_features == 3
    assert namespace["model"](torch.ones(1, 3)).shape == (1, 1)


def test_status_of_an_experiment_whose_driver_is_gone(nas, exp_dir):
    from helpers.cli import base_spec

    from nas_cli.trials import TrialRecord, TrialState

    path = fake_experiment(exp_dir, "20200101-000000-bbbb", base_spec(), [
        TrialRecord(0, {"hidden": 8, "act": 0}, TrialState.COMPLETE, metric=8.0),
        TrialRecord(1, {"hidden": 4, "act": 0}, TrialState.RUNNING),
    ], status="running")
    (path / "run.pid").write_text("999999999\n")  # no such process
    code, out, err = nas("status", "20200101-000000-bbbb", "--json")
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    assert summary["trials"]["running"] == 1 and summary["finished"] == 1
    code, out, err = nas("status")
    assert "interrupted" in out
