"""Constraints end to end: `constraints: {max_params | max_flops}` keeps architectures over
the limits from ever being trained, without spending a trial on them; `nas space` reports the
feasible share; a spec with max_flops but no input_shape is refused.

The space: Linear(4, width) -> ReLU -> Linear(width, 1) with width in 1..20, so an architecture
has 6 * width + 1 parameters and, for one input of shape [4], 10 * width FLOPs (2 per
multiply-add).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCRIPT = textwrap.dedent('''
    import torch

    import nas_cli.nn as nn
    from nas_cli import model_wrapper


    @model_wrapper
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            width = nn.ValueChoice(list(range(1, 21)), label="width")
            self.fc1 = nn.Linear(4, width)
            self.fc2 = nn.Linear(width, 1)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))


    def evaluate(model, arch):
        return float(arch["width"])
''')
WIDTHS = range(1, 21)


def params_of(width: int) -> int:
    return 6 * width + 1


def flops_of(width: int) -> int:
    return 10 * width


def write(tmp_path: Path, **overrides: Any) -> Path:
    (tmp_path / "space.py").write_text(SCRIPT)
    spec = {
        "model_space": {"module": "space.py", "class": "Net"},
        "strategy": {"name": "random", "seed": 0},
        "evaluator": {"type": "function", "function": "space.py:evaluate"},
        "objective": {"metric": "default", "mode": "maximize"},
        "trial_concurrency": 2,
        "max_trial_number": 8,
        **overrides,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def run(nas, spec: Path, root: Path) -> dict[str, Any]:
    code, out, err = nas("run", spec, "--exp-dir", root)
    assert code == 0, (out, err)
    (path,) = root.iterdir()
    return json.loads((path / "results.json").read_text())


def test_max_params_trains_only_small_enough_architectures_and_spends_no_trial_on_others(
        nas, tmp_path):
    limit = params_of(10)  # widths 1..10 feasible: 10 of 20, more than max_trial_number
    results = run(nas, write(tmp_path, constraints={"max_params": limit}), tmp_path / "exps")
    trials = results["trials"]
    assert [t["status"] for t in trials] == ["complete"] * 8  # max_trial_number, all trained
    assert sorted(t["trial"] for t in trials) == list(range(8))  # no number used up
    for trial in trials:
        assert trial["params"] == params_of(trial["arch"]["width"]) <= limit
    assert results["infeasible"] > 0  # over-limit proposals were made, and skipped
    assert results["stop_reason"] == "max_trial_number reached"
    assert trials[0]["arch"] == {"width": max(t["arch"]["width"] for t in trials)}


def test_max_params_with_fewer_feasible_architectures_than_trials_uses_up_the_feasible_ones(
        nas, tmp_path):
    limit = params_of(3)
    results = run(nas, write(tmp_path, constraints={"max_params": limit}), tmp_path / "exps")
    assert sorted(t["arch"]["width"] for t in results["trials"]) == [1, 2, 3]
    assert all(t["status"] == "complete" for t in results["trials"])
    assert results["infeasible"] == 17


def test_max_flops_with_input_shape(nas, tmp_path):
    limit = flops_of(6)  # widths 1..6
    spec = write(tmp_path, max_trial_number=4,
                 constraints={"max_flops": limit, "input_shape": [4]})
    results = run(nas, spec, tmp_path / "exps")
    trials = results["trials"]
    assert len(trials) == 4 and all(t["status"] == "complete" for t in trials)
    assert all(flops_of(t["arch"]["width"]) <= limit for t in trials)
    assert results["infeasible"] > 0


def test_the_flops_formula_matches_torchs_counter():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = torch.nn.Sequential(torch.nn.Linear(4, 7), torch.nn.ReLU(), torch.nn.Linear(7, 1))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 4))
    assert counter.get_total_flops() == flops_of(7)


def test_max_flops_without_input_shape_is_a_spec_error(nas, tmp_path):
    spec = write(tmp_path, constraints={"max_flops": 100})
    root = tmp_path / "exps"
    code, out, err = nas("run", spec, "--exp-dir", root)
    assert code == 2
    assert "constraints.input_shape: is required with max_flops" in err
    assert "Traceback" not in err + out
    assert not root.exists() or not any(root.iterdir())  # nothing ran


@pytest.mark.parametrize("constraints, feasible", [
    ({"max_params": params_of(10)}, 10),
    ({"max_flops": flops_of(5), "input_shape": [4]}, 5),
    ({"max_params": params_of(10), "max_flops": flops_of(5), "input_shape": [4]}, 5),
])
def test_space_reports_the_feasible_share(nas, tmp_path, constraints, feasible):
    spec = write(tmp_path, constraints=constraints)
    code, out, err = nas("space", spec)
    assert code == 0, err
    assert f"feasible under the constraints: {feasible} of all 20 architectures " \
           f"({100 * feasible // 20}%)" in out
    code, out, err = nas("space", spec, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["size"] == 20
    assert data["feasible"] == {"count": feasible, "checked": 20, "exact": True}


def test_space_without_constraints_reports_no_feasible_share(nas, tmp_path):
    spec = write(tmp_path)
    code, out, _ = nas("space", spec, "--json")
    assert code == 0 and "feasible" not in json.loads(out)
    code, out, _ = nas("space", spec)
    assert code == 0 and "feasible" not in out


def test_no_feasible_architecture_at_all_is_an_error(nas, tmp_path):
    spec = write(tmp_path, constraints={"max_params": params_of(1) - 1})
    code, out, err = nas("run", spec, "--exp-dir", tmp_path / "exps")
    assert code == 1
    assert "feasible" in err or "constraints" in err


def test_the_infeasible_count_survives_a_resume(nas, tmp_path):
    root = tmp_path / "exps"
    spec = write(tmp_path, max_trial_number=4, constraints={"max_params": params_of(10)})
    results = run(nas, spec, root)
    assert results["infeasible"] > 0
    (path,) = root.iterdir()
    code, out, err = nas("resume", path.name, "--exp-dir", root)  # nothing left to run
    assert code == 0, (out, err)
    resumed = json.loads((path / "results.json").read_text())
    assert [t["trial"] for t in resumed["trials"]] == [t["trial"] for t in results["trials"]]
    assert resumed["infeasible"] == results["infeasible"]


def test_a_resumed_search_never_proposes_a_refused_architecture_again(nas, tmp_path):
    """The architectures the constraints refused are kept in the study and told to the
    strategy again on `nas resume`: it does not spend proposals on them twice, and the count
    stays what an uninterrupted run would report (at most one refusal per architecture)."""
    root = tmp_path / "exps"
    # (seed 3: without the refusals kept, this resumed search refuses 7 of them again)
    spec = write(tmp_path, max_trial_number=4, constraints={"max_params": params_of(10)},
                 strategy={"name": "random", "seed": 3})
    first = run(nas, spec, root)
    (path,) = root.iterdir()
    spec_file = path / "spec.yaml"  # then every feasible architecture: all 10 widths
    spec_file.write_text(spec_file.read_text().replace("max_trial_number: 4",
                                                       "max_trial_number: 10"))
    code, out, err = nas("resume", path.name, "--exp-dir", root)
    assert code == 0, (out, err)
    resumed = json.loads((path / "results.json").read_text())
    widths = sorted(t["arch"]["width"] for t in resumed["trials"])
    assert widths == list(range(1, 11))
    assert first["infeasible"] <= resumed["infeasible"] <= 10  # widths 11..20, once each
