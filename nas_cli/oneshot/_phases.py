"""A one-shot experiment on the engine, in three phases:

1. `supernet`: one job in a worker (or a Ray actor) trains the supernet, checkpointing every
   epoch in `<experiment>/supernet/`; a resumed experiment continues from the last epoch.
2. `search`: the spec's `search` strategy proposes architectures (a method that learns a
   distribution: its most probable ones, the derived architecture first); each is a trial
   scored on the weights it inherits from the supernet (warm workers load the supernet once).
3. `retrain`: the `retrain_top` best of the search (a learned distribution: the most probable)
   are trained from scratch as ordinary trials; retrained trials rank first.

The driver never trains: it submits, listens, and records, as for multi-trial search.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nas_cli.oneshot._files import CHECKPOINT, SUPERNET_DIR, collapse_warning, read_progress
from nas_cli.spec import LEARNED, SPOSParams, one_shot_params
from nas_cli.strategy import Score, arch_key
from nas_cli.trials import INHERITED_PHASE, RETRAIN_PHASE, ExperimentStatus, TrialState, rank

SUPERNET_PHASE = "supernet"
SUPERNET_JOB = -1  # the backend's number for phase 1's job (trials count from 0)


class _TopArchitectures:
    """The retrain phase's "strategy": the given architectures, in order, once each."""

    def __init__(self, archs: list[dict[str, Any]]):
        self.archs = list(archs)

    def propose(self) -> dict[str, Any] | None:
        return self.archs.pop(0) if self.archs else None

    def tell(self, arch: dict[str, Any], score: Score | None, state: TrialState) -> None:
        pass

    def infeasible(self, arch: dict[str, Any], excess: float) -> None:
        pass  # refused by the constraints: not retrained


class OneShotPhases:
    """Drives the phases of a one-shot run; `loop` takes the place of the multi-trial loop."""

    def __init__(self, run: Any, payload: Any):
        from nas_cli.evaluator import TrainingEvaluator
        from nas_cli.oneshot._evaluators import InheritedEvaluator, SupernetTraining

        self.run = run
        spec = run.spec
        self.params = params = one_shot_params(spec)
        self.method = spec.strategy.name
        self.learned = self.method in LEARNED  # proposes from its learned distribution
        self.folder = run.path / SUPERNET_DIR
        config = spec.evaluator
        recalibration = params.bn_recalibration_batches
        retrain_config = config if config.keep_checkpoints != "none" else \
            config.model_copy(update={"keep_checkpoints": "best"})  # retrained weights export
        self.payload = payload
        self.inherited = lambda known: InheritedEvaluator(
            config, spec.base_dir, self.folder / CHECKPOINT, recalibration, known)
        self.payloads = {
            SUPERNET_PHASE: SupernetTraining(
                config, spec.base_dir, epochs=params.supernet_epochs, seed=spec.strategy.seed,
                fair=getattr(params, "path_sampling", "") == "per_decision",
                eval_paths=getattr(params, "eval_paths", 1), recalibration_batches=recalibration,
                folder=self.folder, method=self.method,
                params=params if self.learned else None),
            RETRAIN_PHASE: TrainingEvaluator(retrain_config, spec.base_dir),
        }
        self.payloads = {phase: dataclasses.replace(payload, evaluator=evaluator)
                         for phase, evaluator in self.payloads.items()}
        self.progress = read_progress(self.folder)
        self.resumed_from = self.progress.get("epochs_done", 0)  # epochs an earlier run did
        self.lost: list[str] = []  # why earlier attempts of phase 1 were lost (worker, node)
        if not self._trained():
            from nas_cli.oneshot._supernet import check_supernet

            check_supernet(payload.model_class, payload.init_kwargs, payload.mutators,
                           self.method, params)
        self._describe()

    # --- what the workers get --------------------------------------------------------------
    def _bytes(self, phase: str) -> bytes:
        from nas_cli.experiment import pickle_payload

        if phase == INHERITED_PHASE:  # built when it starts: it knows the probabilities then
            known = {arch_key(t["arch"]): {"arch_prob": t["probability"]} for t in self._top()}
            return pickle_payload(dataclasses.replace(self.payload,
                                                      evaluator=self.inherited(known)))
        return pickle_payload(self.payloads[phase])

    def _top(self) -> list[dict[str, Any]]:
        """A learned distribution's most probable architectures, derived first (with their
        probabilities), as the supernet's last epoch left them; [] for SPOS."""
        return list(self.progress.get("top", []))[: getattr(self.params, "search_trials", 0)] \
            if self.learned else []

    def first_payload(self) -> bytes:
        """The payload the workers start with: the supernet's, unless it is trained."""
        return self._bytes(INHERITED_PHASE if self._trained() else SUPERNET_PHASE)

    def _trained(self) -> bool:
        return self.progress.get("epochs_done", 0) >= self.params.supernet_epochs

    def _describe(self) -> None:
        """What results.json says about the phases (rewritten with every results.json)."""
        progress, params = self.progress, self.params
        self.run.extra["oneshot"] = {
            "method": self.run.spec.strategy.name,
            "phase": self.run.phase,
            "supernet": {
                "epochs": params.supernet_epochs, "epochs_done": progress.get("epochs_done", 0),
                "params": progress.get("params"),
                "path_sampling": getattr(params, "path_sampling", None),
                "checkpoint": f"{SUPERNET_DIR}/{CHECKPOINT}", "resumed_from": self.resumed_from,
                **({"lost_attempts": list(self.lost)} if self.lost else {}),
                "history": progress.get("history", []),
            },
            "search": {"strategy": params.search.name if isinstance(params, SPOSParams) else None,
                       "trials": params.search_trials,
                       "metric": "inherited: the sub-network on the supernet's weights, batch "
                                 f"norm recalibrated on {params.bn_recalibration_batches} "
                                 "training batches, not trained"},
            "retrain": {"top": params.retrain_top,
                        "metric": "trained from scratch by the evaluator"},
        }
        if self.learned:
            self.run.extra["oneshot"].update(self._learned_info())

    def _learned_info(self) -> dict[str, Any]:
        """What a learned distribution left: the derived architecture and the most probable,
        the penalty, and a warning when parameter-free operations dominate the derived one."""
        progress, params = self.progress, self.params
        penalty = getattr(params, "penalty", None)
        penalty = penalty.model_dump() if penalty is not None else None
        info: dict[str, Any] = {"derived": progress.get("derived"), "top": self._top(),
                                "penalty": penalty, "param_free": progress.get("param_free")}
        warning = collapse_warning(progress.get("param_free"))
        if warning:
            info["warning"] = warning
        return info

    def _enter(self, phase: str) -> None:
        self.run.phase = phase
        self._describe()
        self.run.listener.phase_started(self.run, phase)

    # --- the phases ------------------------------------------------------------------------
    def loop(self, run: Any, strategy: Any, backend: Any, store: Any,
             requeue: list[tuple[int, dict[str, Any]]]) -> None:
        from nas_cli.experiment import run_trials

        def of(phase: str) -> list[tuple[int, dict[str, Any]]]:
            return [item for item in requeue if run.records[item[0]].phase == phase]

        if not self._trained():
            self._enter(SUPERNET_PHASE)
            if not self._train(backend):
                return
            backend.start(self._bytes(INHERITED_PHASE))
        self._enter(INHERITED_PHASE)
        if self.learned:  # the most probable architectures, once each
            strategy, limit = self._unsearched(run, of(INHERITED_PHASE)), len(self._top())
        else:
            limit = self.params.search_trials
        run_trials(run, strategy, backend, store, of(INHERITED_PHASE), limit=limit)
        if run.stop_requested or run.status is ExperimentStatus.FAILED:
            return
        searched = sum(1 for r in run.records.values()
                       if r.phase == INHERITED_PHASE and r.state.is_finished)
        retrain = self._to_retrain(run, of(RETRAIN_PHASE))
        if self.params.retrain_top and (retrain or of(RETRAIN_PHASE)):
            run.stop_reason = None
            backend.start(self._bytes(RETRAIN_PHASE))
            self._enter(RETRAIN_PHASE)
            run_trials(run, _TopArchitectures(retrain), backend, store, of(RETRAIN_PHASE),
                       limit=min(self.params.retrain_top, len(retrain) + self._retrained(run)
                                 + len(of(RETRAIN_PHASE))))
            if run.stop_requested or run.status is ExperimentStatus.FAILED:
                return
        retrained = self._retrained(run)
        if self.learned:
            top = self._top()
            chance = f"{top[0]['probability']:.3g}" if top else "?"
            run.stop_reason = (f"done: supernet and {self.method}'s distribution trained "
                               f"{self.params.supernet_epochs} epochs; the derived architecture "
                               f"has probability {chance}; {searched} most probable scored on "
                               "inherited weights" + (f", {retrained} retrained" if retrained
                                                      else ""))
            warning = run.extra["oneshot"].get("warning")
            if warning:
                run.stop_reason += f"; warning: {warning}"
            return
        run.stop_reason = (f"done: supernet trained {self.params.supernet_epochs} epochs, "
                           f"{searched} architectures scored on inherited weights"
                           + (f", {retrained} retrained" if retrained else ""))

    def _unsearched(self, run: Any, requeued: list[tuple[int, dict[str, Any]]]) -> Any:
        """The search phase's proposals of a learned method: its most probable architectures
        not yet scored (or queued to be)."""
        done = {arch_key(r.arch) for r in run.records.values()
                if r.phase == INHERITED_PHASE and r.state.is_finished}
        done |= {arch_key(arch) for _, arch in requeued}
        return _TopArchitectures([t["arch"] for t in self._top()
                                  if arch_key(t["arch"]) not in done])

    def _to_retrain(self, run: Any, requeued: list[tuple[int, dict[str, Any]]]) -> list[dict]:
        """The best distinct architectures of the search (a learned distribution: the most
        probable) not retrained (or queued) yet."""
        searched = [r for r in rank(list(run.records.values()), run.mode)
                    if r.phase == INHERITED_PHASE and r.state is TrialState.COMPLETE]
        top: list[dict[str, Any]] = [t["arch"] for t in self._top()[: self.params.retrain_top]]
        for record in searched if not self.learned else []:
            if all(arch_key(record.arch) != arch_key(a) for a in top):
                top.append(record.arch)
            if len(top) == self.params.retrain_top:
                break
        done = {arch_key(r.arch) for r in run.records.values()
                if r.phase == RETRAIN_PHASE and r.state.is_finished}
        done |= {arch_key(arch) for _, arch in requeued}
        return [a for a in top if arch_key(a) not in done]

    @staticmethod
    def _retrained(run: Any) -> int:
        return sum(1 for r in run.records.values()
                   if r.phase == RETRAIN_PHASE and r.state.is_finished)

    def _train(self, backend: Any) -> bool:
        """Phase 1: submit the supernet job and follow it; False when the run must end."""
        from nas_cli.execution import Finished, Intermediate
        from nas_cli.experiment import save_results, stop_file

        run = self.run
        self.folder.mkdir(exist_ok=True)
        backend.submit(SUPERNET_JOB, {}, self.folder, None)
        limit = run.spec.max_experiment_duration
        while True:
            if run.stop_requested is None and stop_file(run).exists():
                run.request_stop(ExperimentStatus.STOPPED)
            out_of_time = limit is not None and run.elapsed() >= limit
            if run.stop_requested or out_of_time:
                backend.cancel(SUPERNET_JOB, TrialState.INTERRUPTED, "stopped")
                done = self.progress.get("epochs_done", 0)
                where = (f"during supernet training (epoch {done} of "
                         f"{self.params.supernet_epochs} finished)")
                run.stop_reason = (f"max_experiment_duration reached {where}" if out_of_time
                                   else f"{run.stop_requested} by request {where}")
                return False
            for event in backend.events(timeout=0.25):
                if event.number != SUPERNET_JOB:
                    continue
                if isinstance(event, Intermediate):
                    self.progress = read_progress(self.folder) or self.progress
                    history = self.progress.get("history") or []
                    if not history or history[-1].get("epoch") != event.step:  # not visible here
                        history = [{"epoch": event.step, run.spec.objective.metric: event.value}]
                    self._describe()
                    save_results(run, soon=True)
                    run.listener.supernet_epoch(run, dict(history[-1]))
                elif isinstance(event, Finished):
                    if event.lost and len(self.lost) < run.spec.max_trial_retries \
                            and not run.stop_requested:  # its worker or node was lost: again
                        self.lost.append(event.reason or "lost")
                        backend.submit(SUPERNET_JOB, {}, self.folder, None)
                        continue
                    self.progress = read_progress(self.folder)
                    self._describe()
                    if event.state is TrialState.COMPLETE:
                        save_results(run)
                        return True
                    done = self.progress.get("epochs_done", 0)
                    run.status = ExperimentStatus.FAILED
                    run.stop_reason = (f"supernet training failed: {event.reason} (see "
                                       f"{self.folder / 'trial.log'})" + (
                                           f"; `nas resume {run.id}` continues after epoch {done}"
                                           if done else ""))
                    return False
            if run.results_dirty:
                save_results(run, soon=True)
