"""Several objectives: the Pareto front of a toy space, known exactly, found end to end (run,
stop, resume, status, export, study.db), with a searched hyperparameter that reaches the
evaluator; and the front, sorting, crowding and hypervolume functions against brute force.

The toy space: Linear(4, width) -> act (relu | tanh) -> Linear(width, 1), plus an `extra` Linear that the
forward pass never uses (it only adds 20 parameters). The score depends on width and act
only, so the objectives (score up, params down) have a front that a brute-force pass over the
whole space computes here without nas_cli.
"""

from __future__ import annotations

import itertools
import json
import random
import textwrap
from pathlib import Path

import pytest
import yaml

from nas_cli.pareto import crowding, dominates, front, hypervolume, nondominated_sort

SPACE = '''
import nas_cli.nn as nn
from nas_cli import model_wrapper
from nas_cli.trial_context import current_arch


@model_wrapper
class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        width = nn.ValueChoice([1, 2], label="width")
        self.fc1 = nn.Linear(4, width)
        self.act = nn.LayerChoice({"relu": nn.ReLU(), "tanh": nn.Tanh()}, label="act")
        self.fc2 = nn.Linear(width, 1)
        self.extra = nn.LayerChoice({"none": nn.Identity(), "unused": nn.Linear(4, 4)},
                                    label="extra")

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


SCORES = {"relu": [0.25, 0.75], "tanh": [0.375, 0.625]}


def evaluate(model, arch, lr):
    assert current_arch()["hp/lr"] == lr, (current_arch(), lr)  # the sampled value arrives
    return {"score": SCORES[arch["act"]][arch["width"] - 1], "lr": lr}
'''
SCORES = {"relu": [0.25, 0.75], "tanh": [0.375, 0.625]}
LRS = [0.01, 0.1]


def params_of(arch: dict) -> int:
    width = arch["width"]
    return 5 * width + width + 1 + (20 if arch["extra"] == "unused" else 0)


def exact_front() -> list[dict]:
    """Brute force over the whole space: (score, params) of every architecture and learning
    rate, and those no other one beats on both."""
    points = []
    for width, act, extra, lr in itertools.product([1, 2], SCORES, ["none", "unused"], LRS):
        arch = {"width": width, "act": act, "extra": extra, "hp/lr": lr}
        points.append((arch, SCORES[act][width - 1], params_of(arch)))
    return [arch for arch, s, p in points
            if not any(s2 >= s and p2 <= p and (s2, p2) != (s, p) for _, s2, p2 in points)]


def key(arch: dict) -> str:
    return json.dumps(arch, sort_keys=True)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory):
    """The toy experiment: nsga2 stopped (as `nas stop` does) after 6 trials, then resumed by
    `nas resume` until every one of the 16 (architecture, learning rate) pairs ran."""
    from helpers.cli import invoke, restored_signals

    from nas_cli.experiment import Listener, create_experiment, execute
    from nas_cli.spec import load_spec

    folder = tmp_path_factory.mktemp("toy")
    (folder / "toy.py").write_text(textwrap.dedent(SPACE))
    (folder / "spec.yaml").write_text(yaml.safe_dump({
        "experiment_name": "toy",
        "model_space": {"module": "toy.py", "class": "Toy"},
        "strategy": {"name": "nsga2", "seed": 0, "population_size": 4},
        "evaluator": {"type": "function", "function": "toy.py:evaluate",
                      "kwargs": {"lr": {"choice": LRS}}},
        "objective": [{"metric": "score", "mode": "maximize"}, {"metric": "params"}],
        "trial_concurrency": 2, "max_trial_number": 16,
    }))

    class StopAfter(Listener):
        def trial_finished(self, run, record):
            if run.finished_count >= 6:
                (run.path / "stop").touch()  # what `nas stop` does

    root = folder / "exps"
    with restored_signals():
        first = execute(create_experiment(load_spec(folder / "spec.yaml"), root, StopAfter()))
    stopped = json.loads((first.path / "results.json").read_text())
    code, out, err = invoke("resume", first.id, "--exp-dir", root)
    assert code == 0, (out, err)
    return first.path, stopped


def results(path: Path) -> dict:
    return json.loads((path / "results.json").read_text())


def test_the_front_is_exact(toy):
    path, _ = toy
    data = results(path)
    assert data["status"] == "done"
    assert len([t for t in data["trials"] if t["status"] == "complete"]) == 16
    by_number = {t["trial"]: t for t in data["trials"]}
    found = sorted(key(by_number[n]["arch"]) for n in data["pareto_front"])
    assert found == sorted(map(key, exact_front()))
    for entry in (t for t in data["trials"] if t["status"] == "complete"):
        assert entry["values"] == [entry["metrics"]["score"], params_of(entry["arch"])]
        assert entry.get("pareto", False) == (entry["trial"] in data["pareto_front"])
        assert entry["metrics"]["lr"] == entry["arch"]["hp/lr"]  # what the evaluator got


def test_resume_keeps_what_the_stopped_run_found(toy):
    path, stopped = toy
    assert stopped["status"] == "stopped" and stopped["pareto_front"]
    final = {t["trial"]: t for t in results(path)["trials"]}
    for entry in stopped["trials"]:
        if entry["status"] == "complete":
            assert final[entry["trial"]]["arch"] == entry["arch"]
            assert final[entry["trial"]]["values"] == entry["values"]
    exact = {key(a) for a in exact_front()}
    for number in stopped["pareto_front"]:  # on the final front, unless beaten since
        arch = final[number]["arch"]
        assert key(arch) in exact or number not in results(path)["pareto_front"]


def test_study_db_has_both_directions_and_optuna_agrees_on_the_front(toy):
    import optuna

    path, _ = toy
    study = optuna.load_study(study_name=path.name, storage=f"sqlite:///{path / 'study.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert sorted(t.number for t in study.best_trials) == results(path)["pareto_front"]
    trial = study.trials[0]
    assert isinstance(trial.distributions["hp/lr"], optuna.distributions.CategoricalDistribution)
    assert len(trial.values) == 2


def test_status_shows_the_front(toy, nas):
    path, _ = toy
    code, out, err = nas("status", path.name, "--exp-dir", path.parent)
    assert code == 0, err
    assert f"Pareto front: {len(exact_front())} trials" in out
    assert "score (max)" in out and "params (min)" in out
    code, out, _ = nas("status", path.name, "--exp-dir", path.parent, "--json", "--top", "20")
    summary = json.loads(out)
    assert summary["pareto_size"] == len(exact_front())
    assert [row["trial"] for row in summary["pareto_front"]][:1] == [
        min(summary["pareto_front"], key=lambda r: (-r["values"]["score"], r["trial"]))["trial"]]


def test_export_pareto_json_and_dict(toy, nas):
    path, _ = toy
    code, out, err = nas("export", path.name, "--exp-dir", path.parent, "--pareto",
                         "--format", "json")
    assert code == 0, err
    entries = json.loads(out)
    assert sorted(e["trial"] for e in entries) == results(path)["pareto_front"]
    for entry in entries:
        assert set(entry) == {"trial", "arch", "hparams", "values"}
        assert "hp/lr" not in entry["arch"] and entry["hparams"]["lr"] in LRS
        assert entry["values"] == {"score": SCORES[entry["arch"]["act"]][entry["arch"]["width"] - 1],
                                   "params": params_of(entry["arch"])}
    code, out, _ = nas("export", path.name, "--exp-dir", path.parent, "--pareto")
    lines = [eval(line) for line in out.splitlines()]  # noqa: S307 - our own dict lines
    assert sorted(map(key, lines)) == sorted(map(key, exact_front()))


def test_export_pareto_of_a_single_objective_experiment_is_refused(nas, tmp_path):
    from nas_cli.store import Results, write_results
    from nas_cli.trials import TrialRecord, TrialState

    folder = tmp_path / "e" / "20260101-000000-abcd"
    folder.mkdir(parents=True)
    write_results(folder, Results(experiment=folder.name, name="one", status="done",
                                  objective={"metric": "score", "mode": "maximize"}),
                  [TrialRecord(0, {"width": 1}, TrialState.COMPLETE, metric=0.5)])
    code, out, err = nas("export", "--exp-dir", tmp_path / "e", "--pareto")
    assert code == 2 and "one objective" in err and len(err.strip().splitlines()) == 1


# --- the functions, against brute force ------------------------------------------------------

def random_points(rng: random.Random, n: int, k: int) -> list[tuple[float, ...]]:
    return [tuple(float(rng.randint(0, 6)) for _ in range(k)) for _ in range(n)]


@pytest.mark.parametrize("k", [2, 3])
def test_front_and_sorting_match_brute_force(k):
    rng = random.Random(k)
    for _ in range(30):
        points = random_points(rng, 25, k)
        brute = [i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)]
        assert front(points) == brute
        ranks = nondominated_sort(points)
        for i, j in itertools.permutations(range(len(points)), 2):
            if dominates(points[i], points[j]):
                assert ranks[i] < ranks[j]
        assert [i for i, r in enumerate(ranks) if r == 0] == brute


def test_crowding_favours_isolated_points():
    points = [(0.0, 1.0), (0.1, 0.9), (0.5, 0.5), (0.9, 0.1), (1.0, 0.0)]
    distance = crowding(points)
    assert distance[0] == distance[-1] == float("inf")
    assert distance[2] > distance[1] and distance[2] > distance[3]


def grid_volume(points, reference, steps=12):
    """The dominated volume counted on a grid of cells that integer coordinates (0 to 6)
    bound exactly."""
    k = len(reference)
    cell = 6 / steps
    count = 0
    for index in itertools.product(range(steps), repeat=k):
        centre = [reference[d] + (i + 0.5) * cell for d, i in enumerate(index)]
        if any(all(p[d] >= centre[d] for d in range(k)) for p in points):
            count += 1
    return count * cell ** k


@pytest.mark.parametrize("k", [2, 3])
def test_hypervolume_matches_counting(k):
    rng = random.Random(10 + k)
    for _ in range(4 if k == 3 else 10):
        points = random_points(rng, 8, k)
        reference = (0.0,) * k
        assert hypervolume(points, reference) == pytest.approx(grid_volume(points, reference))


def test_hypervolume_ignores_points_outside_the_reference():
    assert hypervolume([(1.0, -1.0), (-2.0, 3.0)], (0.0, 0.0)) == 0.0
    assert hypervolume([(2.0, 3.0), (3.0, 2.0)], (0.0, 0.0)) == 8.0


@pytest.mark.parametrize(("strategy", "objective", "line"), [
    ("grid", {"metric": "score"},
     "strategy.name: grid needs a finite space, but hp/sleep take continuous values; search "
     "them with {choice: [...]}, or use strategy random, tpe, evolution or nsga2"),
    ("rl", [{"metric": "score"}, {"metric": "params"}],
     "strategy.name: rl needs a finite space, but hp/sleep take continuous values; search "
     "them with {choice: [...]}, or use strategy random, tpe, evolution or nsga2"),
], ids=["grid", "rl"])
def test_a_strategy_that_cannot_search_the_spec_is_refused_before_anything_runs(
        nas, tmp_path, write_spec, strategy, objective, line):
    spec = write_spec(tmp_path, strategy={"name": strategy}, objective=objective,
                      evaluator={"kwargs": {"sleep": {"uniform": [0, 0.01]}}})
    code, out, err = nas("run", spec, "--exp-dir", tmp_path / "exps")
    assert (code, err) == (2, f"error: {line}\n")
    assert not (tmp_path / "exps").exists()  # no experiment left behind


def test_over_max_latency_a_trial_ends_pruned_untrained(nas, tmp_path, write_spec):
    spec = write_spec(tmp_path, max_trial_number=2,
                      constraints={"max_latency_ms": 1e-6, "input_shape": [4]})
    code, out, err = nas("run", spec, "--exp-dir", tmp_path / "exps", "-q")
    assert code == 0, err
    (path,) = (tmp_path / "exps").iterdir()
    trials = results(path)["trials"]
    assert [t["status"] for t in trials] == ["pruned", "pruned"]
    for entry in trials:
        assert entry["error"].startswith("latency_ms ")
        assert entry["error"].endswith(" > max_latency_ms 1e-06: not trained")
        assert entry["metrics"]["latency_ms"] > 1e-6 and "score" not in entry["metrics"]
