"""The limits of a run, end to end: a trial past max_trial_duration, an experiment past
max_experiment_duration, and a run where every trial fails."""

from __future__ import annotations

import json
import os
import textwrap

from helpers.cli import run_new


def test_raising_dying_and_slow_trials_fail_and_all_failing_exits_1(write_spec, tmp_path,
                                                                     exp_dir, platform, nas):
    # grid without a seed goes in index order (the last decision varies fastest): trial 0 is
    # hidden=4 act=0 (raises), trial 1 hidden=4 act=1 (sleeps past the limit), trial 2
    # hidden=8 act=0 (its worker is killed)
    spec = write_spec(
        tmp_path, strategy={"name": "grid", "seed": None}, trial_concurrency=2,
        max_trial_number=3, max_trial_duration="2s", training_service={"platform": platform},
        max_trial_retries=0,  # a killed worker reads as lost: no second try here
        evaluator={"kwargs": {"fail_when": {"hidden": 4, "act": 0}, "sleep": 60,
                              "sleep_when": {"hidden": 4, "act": 1},
                              "kill_when": {"hidden": 8}}},
    )
    ran = run_new(exp_dir, spec)
    assert ran.code == 1
    # Ray knows the actor's process died, not the signal
    last = ("worker died with signal 9 (SIGKILL)" if platform == "local" else
            ran.results["trials"][2]["error"])
    assert last.startswith("worker died")
    assert ran.err == f"error: every trial failed; last error: {last}\n"
    results = ran.results
    assert results["status"] == "failed"
    errors = {t["trial"]: (t["status"], t["error"], "rank" in t) for t in results["trials"]}
    assert errors == {0: ("failed", "ValueError: hidden=4 diverged", False),
                      1: ("failed", "timed out after 2s", False),
                      2: ("failed", last, False)}
    assert results["trials"][1]["duration_s"] < 60  # stopped, not slept out
    code, out, err = nas("status", ran.id)
    assert out.splitlines()[0] == f"experiment {ran.id} (spec): failed"
    assert f"stopped because: every trial failed; last error: {last}" in out
    code, out, err = nas("export", ran.id)
    assert (code, err) == (2, f"error: experiment {ran.id} has no completed trial yet\n")


def test_max_experiment_duration_stops_the_run(write_spec, tmp_path, exp_dir, platform, nas):
    spec = write_spec(
        tmp_path, strategy={"name": "random", "dedup": False}, trial_concurrency=1,
        max_trial_number=500, max_experiment_duration="4s",
        training_service={"platform": platform}, evaluator={"kwargs": {"sleep": 0.3}},
    )
    ran = run_new(exp_dir, spec)
    assert ran.code == 0, ran.err
    results = ran.results
    assert results["status"] == "done"
    assert results["stop_reason"] == "max_experiment_duration reached"
    assert len(results["trials"]) < 500
    assert results["elapsed_s"] >= 4
    # a trial cut short by the limit is interrupted, not failed
    assert {t["status"] for t in results["trials"]} <= {"complete", "interrupted"}
    assert "(max_experiment_duration reached)" in ran.out.splitlines()[-1]
    code, out, err = nas("status", ran.id)
    assert "stopped because: max_experiment_duration reached" in out.splitlines()
    code, out, err = nas("status", ran.id, "--json")
    assert json.loads(out)["stop_reason"] == "max_experiment_duration reached"


WORKER_INIT_BUG = (
    "BUG: when the workers cannot load the payload (the space module raises on import in a "
    "worker), trial 0 fails with 'BrokenProcessPool: All workers expired' (the cause is only "
    "in pebble's log) and the next LocalBackend.submit raises RuntimeError('Unexpected error "
    "within the Pool') out of the run loop: a traceback, and a trial marked interrupted that "
    "never ran"
)


def test_workers_that_cannot_load_the_space(nas, write_spec, tmp_path, exp_dir, platform):
    (tmp_path / "driver_only_space.py").write_text(textwrap.dedent("""
        import os

        import nas_cli.nn as nn
        from nas_cli import model_wrapper

        if os.getpid() != DRIVER_PID:
            raise RuntimeError("only importable in the driver")


        @model_wrapper
        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, nn.ValueChoice([1, 2], label="out"))


        def evaluate(model):
            return 1.0
    """).replace("DRIVER_PID", str(os.getpid())))
    spec = write_spec(tmp_path, model_space={"module": "driver_only_space"},
                      evaluator={"function": "driver_only_space:evaluate"},
                      training_service={"platform": platform})
    code, out, err = nas("run", spec)
    assert code == 1
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "RuntimeError: only importable in the driver" in err
