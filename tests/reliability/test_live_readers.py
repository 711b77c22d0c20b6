"""`nas status` and `nas export` called again and again while `nas run` rewrites results.json
and study.db: every call exits 0 and prints what it promises (JSON that parses)."""

from __future__ import annotations

import json

from reliability_support import Finished, assert_study_consistent, temp_files


def test_the_run_itself_is_undisturbed(live_exp: Finished):
    assert live_exp.code == 0, live_exp.err
    data = live_exp.results
    assert data["status"] == "done"
    assert sum(t["status"] in ("complete", "failed") for t in data["trials"]) == 12
    assert_study_consistent(live_exp.path)
    assert temp_files(live_exp.path) == []


def test_status_and_export_were_called_while_it_ran(live_exp: Finished):
    during = len(live_exp.polls) - 5  # the last 5 calls came after the end
    assert during >= 20


def test_every_call_exits_0_without_error(live_exp: Finished):
    bad = [(args, code, err) for args, code, _, err in live_exp.polls if code or err]
    assert bad == []


def test_every_json_output_parses(live_exp: Finished):
    outputs = [out for args, _, out, _ in live_exp.polls if "--json" in args or "json" in args]
    assert len(outputs) >= 5  # polled during the run and once after it, not vacuously
    for out in outputs:
        assert json.loads(out) is not None


def test_status_never_goes_backwards(live_exp: Finished):
    finished = [json.loads(out)["finished"] for args, _, out, _ in live_exp.polls
                if args[0] == "status" and args[1] == live_exp.path.name and "--json" in args]
    assert finished == sorted(finished)
    assert finished[-1] == 12
    statuses = {json.loads(out)["status"] for args, _, out, _ in live_exp.polls
                if args[0] == "status" and "--json" in args and len(args) == 3}
    assert statuses <= {"running", "done"} and "running" in statuses


def test_export_lists_only_completed_trials_best_first(live_exp: Finished):
    for args, _, out, _ in live_exp.polls:
        if args[0] == "export" and args[1] == live_exp.path.name:
            archs = json.loads(out)
            assert all(arch["fault"] == "ok" for arch in archs)  # the others failed
            reps = [arch["rep"] for arch in archs]
            assert reps == sorted(reps, reverse=True)  # the score grows with rep
