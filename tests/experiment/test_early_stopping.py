"""Early stopping end to end: `nas run` with `early_stopping:` prunes the trials whose
intermediate results are clearly bad; they end "pruned" with a reason and free their worker
early, and the completed trials are still ranked.

The space has 10 architectures (`width` 1..10). Odd widths are "bad": they report 0.1 at every
step, even widths report 0.9 (the same value for all, so no good trial is ever below a median of
good ones); the final metric adds width / 1000 so the ranking is known.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

STEPS = 10
SLEEP = 0.2

SCRIPT = textwrap.dedent('''
    import time

    import torch

    import nas_cli.nn as nn
    from nas_cli import model_wrapper, report_intermediate_result


    @model_wrapper
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, nn.ValueChoice(list(range(1, 11)), label="width"))

        def forward(self, x):
            return self.fc(x)


    def evaluate(model, arch, steps=10, sleep=0.2):
        value = 0.9 if arch["width"] % 2 == 0 else 0.1
        for _ in range(steps):
            time.sleep(sleep)
            report_intermediate_result(value)
        return value + arch["width"] / 1000
''')


def run_with(nas, tmp_path: Path, platform: str, early_stopping: dict[str, Any]) -> dict:
    (tmp_path / "space.py").write_text(SCRIPT)
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({  # JSON is YAML
        "model_space": {"module": "space.py", "class": "Net"},
        "strategy": {"name": "grid"},  # no seed: widths 1, 2, 3, ... (bad, good, bad, ...)
        "evaluator": {"type": "function", "function": "space.py:evaluate",
                      "kwargs": {"steps": STEPS, "sleep": SLEEP}},
        "objective": {"metric": "default", "mode": "maximize"},
        "trial_concurrency": 2,
        "max_trial_number": 10,
        "training_service": {"platform": platform},
        "early_stopping": early_stopping,
    }))
    root = tmp_path / "experiments"
    code, out, err = nas("run", spec, "--exp-dir", root)
    assert code == 0, (out, err)
    (path,) = root.iterdir()
    return json.loads((path / "results.json").read_text())


def check_pruning(results: dict, *, at_least: int) -> None:
    trials = results["trials"]
    assert len(trials) == 10 and results["status"] == "done"
    pruned = [t for t in trials if t["status"] == "pruned"]
    complete = [t for t in trials if t["status"] == "complete"]
    assert len(pruned) >= at_least, [(t["arch"], t["status"]) for t in trials]
    assert len(pruned) + len(complete) == 10

    # Only bad architectures are pruned, each with a reason, after fewer reports than a full run.
    for trial in pruned:
        assert trial["arch"]["width"] % 2 == 1
        assert trial["error"].startswith("pruned at step "), trial["error"]
        assert "rank" not in trial and trial["metric"] is None
        # it stopped itself at a report: a kill after the grace period (10 s) would have
        # let it report every step (a full trial takes STEPS * SLEEP = 2 s)
        assert len(trial.get("intermediate", [])) < STEPS
    # Every good architecture completes: it is never below the median of the others.
    assert {t["arch"]["width"] for t in complete} >= {2, 4, 6, 8, 10}


    # Completed trials are ranked best first, then the pruned ones follow without a rank.
    ranked = [t for t in trials if "rank" in t]
    assert ranked == trials[:len(complete)]
    assert [t["rank"] for t in ranked] == list(range(1, len(complete) + 1))
    metrics = [t["metric"] for t in ranked]
    assert metrics == sorted(metrics, reverse=True)
    assert ranked[0]["arch"] == {"width": 10}


def test_median_rule_prunes_bad_trials(nas, tmp_path, platform):
    results = run_with(nas, tmp_path, platform, {"type": "median", "n_startup_trials": 2})
    # Width 1 runs with width 2 before two trials are complete: it completes; 3, 5, 7, 9 do not.
    check_pruning(results, at_least=4)
    assert {t["arch"]["width"] for t in results["trials"] if t["status"] == "pruned"} == {3, 5, 7, 9}


def test_asha_prunes_bad_trials(nas, tmp_path, platform):
    results = run_with(nas, tmp_path, platform, {"type": "asha"})
    check_pruning(results, at_least=3)

