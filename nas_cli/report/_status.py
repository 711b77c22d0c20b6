"""`nas status`: where an experiment stands."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nas_cli.store import ExperimentInfo, OneShotSection
from nas_cli.trials import TrialState


def status_json(info: ExperimentInfo, top: int = 5) -> dict[str, Any]:
    """A JSON-ready summary: state, counts per trial state, best trials."""
    records = info.records
    counts = Counter(r.state.value for r in records)
    results = info.results
    best = [r for r in records if r.state is TrialState.COMPLETE and r.metric is not None]
    ranked = {t.trial: t.rank for t in results.trials}
    best.sort(key=lambda r: ranked.get(r.number) or 0)
    return {
        "experiment": info.id, "name": info.name, "status": info.status,
        "path": str(info.path), "objective": results.objective.model_dump(),
        "strategy": results.strategy, "space_size": results.space_size,
        "max_trial_number": results.max_trial_number,
        "trials": {state.value: counts.get(state.value, 0) for state in TrialState},
        "finished": sum(1 for r in records if r.state.is_finished),
        "elapsed_s": results.elapsed_s, "clock": results.clock,
        "stop_reason": results.stop_reason,
        "best": [{"rank": i + 1, "trial": r.number, "metric": r.metric, "arch": r.arch,
                  "params": r.params, **({"phase": r.phase} if r.phase else {})}
                 for i, r in enumerate(best[:top])],
        **({"oneshot": _oneshot(results.oneshot, records)} if results.oneshot else {}),
        "failures": [{"trial": r.number, "error": r.error} for r in records
                     if r.state is TrialState.FAILED][:top],
        # trials run again after their worker or node was lost (max_trial_retries)
        "retried": [{"trial": r.number, "status": r.state.value, "attempts": len(r.attempts) + 1,
                     "lost": [a.get("error") for a in r.attempts]}
                    for r in records if r.attempts][:top],
        **_front(info, top),
    }


def _oneshot(info: OneShotSection, records: list[Any]) -> dict[str, Any]:
    """Where a one-shot experiment's phases stand."""
    supernet = info.supernet
    history = supernet.history or [{}]
    counts = Counter(r.phase for r in records if r.state.is_finished)
    out = {"method": info.method, "phase": info.phase,
           "supernet_epochs": [supernet.epochs_done, supernet.epochs],
           "supernet_last_epoch": history[-1], "searched": counts.get("search", 0),
           "retrained": counts.get("retrain", 0)}
    if info.derived is not None:  # a learned distribution's result
        top = info.top or [{}]
        out.update(derived=info.derived, derived_probability=top[0].get("probability"),
                   penalty=info.penalty, warning=info.warning)
    return out


def _front(info: ExperimentInfo, top: int) -> dict[str, Any]:
    """Several objectives: every objective, the front's size and its first `top` trials
    (by the first objective)."""
    if len(info.objectives) < 2:
        return {}
    from nas_cli.report._export import front_trials, values_of

    front = front_trials(info)
    return {"objectives": [o.model_dump() for o in info.objectives], "pareto_size": len(front),
            "pareto_front": [{"trial": r.number, "values": values_of(info, r), "arch": r.arch}
                             for r in front[:top]]}
