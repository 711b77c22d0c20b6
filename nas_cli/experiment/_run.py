"""The experiment loop: ask the strategy, run trials on a backend, keep every result.

The driver is the only writer of the store and of results.json. It stops on the trial limit,
the time limit, an exhausted space, too many failures at the start, a signal or `nas stop`.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_cli import store as st
from nas_cli._files import atomic_write_text
from nas_cli.errors import ClusterLost, ExperimentError, NasError, StoreError
from nas_cli.execution import Backend, Finished, Intermediate, short_error
from nas_cli.experiment._constraints import Constraints
from nas_cli.experiment._early import EarlyStopping
from nas_cli.experiment._load import prepare_run
from nas_cli.experiment._signals import stop_on_signals
from nas_cli.pareto import dominates, oriented
from nas_cli.spec import (
    ONE_SHOT,
    ExperimentSpec,
    dump_spec,
    early_stopping_params,
    proposing_strategy,
    trial_limit,
)
from nas_cli.strategy import STRATEGIES, Proposer, Strategy
from nas_cli.strategy import create as create_strategy
from nas_cli.trials import RETRAIN_PHASE, ExperimentStatus, TrialRecord, TrialState

if TYPE_CHECKING:
    from nas_cli.space import SearchSpace

log = logging.getLogger("nas_cli")


class Listener:
    """Progress callbacks (the CLI's live display implements them); all optional."""

    def started(self, run: Run) -> None: ...
    def trial_started(self, run: Run, record: TrialRecord) -> None: ...
    def trial_intermediate(self, run: Run, record: TrialRecord, step: int, value: float) -> None: ...
    def trial_finished(self, run: Run, record: TrialRecord) -> None: ...
    def trial_retried(self, run: Run, record: TrialRecord) -> None: ...  # lost, runs again
    def phase_started(self, run: Run, phase: str) -> None: ...    # one-shot phases
    def supernet_epoch(self, run: Run, metrics: dict[str, float]) -> None: ...
    def stopping(self, run: Run) -> None: ...   # a first Ctrl-C / SIGTERM: stopping cleanly
    def finished(self, run: Run) -> None: ...


@dataclass
class Run:
    """One execution of an experiment (a first run or a resume)."""

    spec: ExperimentSpec
    path: Path
    listener: Listener = field(default_factory=Listener)
    backend_factory: Callable[[ExperimentSpec], Backend] | None = None
    records: dict[int, TrialRecord] = field(default_factory=dict)
    status: ExperimentStatus = ExperimentStatus.RUNNING
    stop_reason: str | None = None
    stop_requested: ExperimentStatus | None = None  # INTERRUPTED (a signal) or STOPPED (`nas stop`)
    started: float = field(default_factory=time.time)
    created: float = field(default_factory=time.time)
    elapsed_before: float = 0.0
    space_size: int = 0
    looping: bool = False               # trials run: a stop request ends the loop soon
    closing: bool = False               # cleanup started: signals no longer interrupt it
    created_root: bool = False          # the experiments folder was made for this run
    # interrupted trial -> the trial that reran it (None: claimed, the driver died before it ran)
    reruns: dict[int, int | None] = field(default_factory=dict)
    results_written: float = 0.0       # wall time of the last results.json write
    results_every: float = 0.5          # seconds between writes (grows with the write's cost)
    results_dirty: bool = False
    infeasible: int = 0                 # proposals refused by the constraints (no trial used)
    refused: list[tuple[dict[str, Any], float]] = field(default_factory=list)  # (arch, excess)
    pruning: dict[int, tuple[float, str]] = field(default_factory=dict)  # number -> (kill at, why)
    early_stopping: EarlyStopping | None = None
    constraints: Constraints | None = None
    # The time trials run on: the wall clock, or a simulated backend's virtual clock (then
    # elapsed time, durations and the time limit are virtual, and results.json says so).
    clock: Callable[[], float] = field(default=time.time, repr=False)
    virtual: bool = False
    # (space, payload bytes, payload) of `prepare_run`, made once for many runs (`nas bench`)
    prepared: tuple[Any, bytes, Any] | None = field(default=None, repr=False)
    # Kept up to date as trials start and end, so each trial costs the same at 100,000 trials
    # as at 10 (no rescan of every record).
    _running: dict[int, TrialRecord] = field(default_factory=dict, repr=False)
    _finished: int = 0
    _failed: int = 0
    _first_failed: TrialRecord | None = field(default=None, repr=False)
    _best: TrialRecord | None = field(default=None, repr=False)
    _finished_in: dict[str | None, int] = field(default_factory=dict, repr=False)  # by phase
    phase: str | None = None            # one-shot: the phase new trials belong to
    extra: dict[str, Any] = field(default_factory=dict)  # more for results.json (one-shot)
    _front: list[TrialRecord] = field(default_factory=list, repr=False)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def mode(self) -> str:
        return self.spec.objective.mode

    @property
    def target(self) -> int:
        """How many trials this run will finish at most (fewer when the space is smaller)."""
        limit = trial_limit(self.spec)
        name, _, dedup, _ = proposing_strategy(self.spec)
        if dedup or name == "grid":
            limit = min(limit, self.space_size or limit)
        return limit

    @property
    def finished_count(self) -> int:
        return self._finished

    @property
    def running(self) -> list[TrialRecord]:
        return list(self._running.values())

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def best(self) -> TrialRecord | None:
        """The best complete trial (ties: the earlier one; retrained one-shot trials first)."""
        return self._best

    @property
    def front(self) -> list[TrialRecord]:
        """Several objectives: the complete trials no other one dominates, by number."""
        return sorted(self._front, key=lambda r: r.number)

    def add(self, record: TrialRecord) -> None:
        """Keep a new (or restored) record."""
        self.records[record.number] = record
        if record.state is TrialState.RUNNING:
            self._running[record.number] = record
        else:
            self._count(record)

    def settle(self, record: TrialRecord) -> None:
        """A running record reached its final (or interrupted) state."""
        if self._running.pop(record.number, None) is not None:
            self._count(record)

    def _count(self, record: TrialRecord) -> None:
        if not record.state.is_finished:
            return
        self._finished += 1
        self._finished_in[record.phase] = self._finished_in.get(record.phase, 0) + 1
        if record.state is TrialState.FAILED:
            self._failed += 1
            if self._first_failed is None or record.number < self._first_failed.number:
                self._first_failed = record
        elif record.state is TrialState.COMPLETE and record.metric is not None:
            best = self._best
            if best is None or self._rank_key(record) > self._rank_key(best):
                self._best = record
            if record.values is not None:
                self._add_to_front(record)

    def _add_to_front(self, record: TrialRecord) -> None:
        """Keep the front up to date in O(front size) per trial."""
        point = self._point(record)
        if any(dominates(self._point(other), point) for other in self._front):
            return
        self._front = [r for r in self._front if not dominates(point, self._point(r))]
        self._front.append(record)

    def _point(self, record: TrialRecord) -> tuple[float, ...]:
        """A complete trial's objective values, each oriented higher-is-better."""
        return oriented(record.values or (), [o.mode for o in self.spec.objectives])

    def _rank_key(self, record: TrialRecord) -> tuple[bool, float, int]:
        score = self.score(record)
        return record.phase == RETRAIN_PHASE, -math.inf if score is None else score, -record.number

    def finished_in(self, phase: str | None) -> int:
        """Finished trials of a one-shot phase (None: of a multi-trial run)."""
        return self._finished_in.get(phase, 0)

    def elapsed(self) -> float:
        return self.elapsed_before + self.clock() - self.started

    def score(self, record: TrialRecord) -> float | None:
        """The first objective's value, higher is better; None without a result."""
        if record.state is not TrialState.COMPLETE or record.metric is None:
            return None
        return record.metric if self.mode == "maximize" else -record.metric

    def told(self, record: TrialRecord) -> float | tuple[float, ...] | None:
        """What the strategy is told: the score, or with several objectives each value
        oriented higher-is-better; None without a result."""
        if not self.spec.multi_objective:
            return self.score(record)
        if record.state is not TrialState.COMPLETE or record.values is None:
            return None
        return oriented(record.values, [o.mode for o in self.spec.objectives])

    def request_stop(self, why: ExperimentStatus | str = ExperimentStatus.INTERRUPTED) -> None:
        """Stop the run cleanly: INTERRUPTED (a signal) or STOPPED (`nas stop`)."""
        self.stop_requested = ExperimentStatus(why)


# The loop that proposes and runs trials (`run_trials`; a one-shot run's phases have their own).
Loop = Callable[[Run, Strategy, Backend, st.TrialStore, list[tuple[int, dict[str, Any]]]], None]


def default_backend(spec: ExperimentSpec) -> Backend:
    """The spec's training service: a Ray cluster, a simulated one, or the local pool (GPU
    slots included)."""
    from nas_cli.execution import local_backend, ray_backend, simulated_backend

    if spec.training_service.platform == "ray":
        return ray_backend(spec)
    if spec.training_service.platform == "simulated":
        return simulated_backend(spec)
    return local_backend(spec)


def create_experiment(spec: ExperimentSpec, root: Path, listener: Listener | None = None) -> Run:
    """Make the experiment folder and its store; nothing runs yet."""
    name = st.check_name(spec.experiment_name or "experiment")
    created_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / st.new_experiment_id()
    while path.exists():
        path = root / st.new_experiment_id()
    path.mkdir()
    (path / "trials").mkdir()
    atomic_write_text(path / st.SPEC, dump_spec(spec))
    run = Run(spec=spec, path=path, listener=listener or Listener())
    run.spec.experiment_name = name
    run.created_root = created_root
    return run


def resume_experiment(path: Path, listener: Listener | None = None) -> Run:
    """Continue an experiment up to its limits (after a crash, a signal or `nas stop`)."""
    return execute(open_experiment(path, listener), resume=True)


def open_experiment(path: Path, listener: Listener | None = None) -> Run:
    """An existing experiment, ready for `execute(run, resume=True)`."""
    from nas_cli.spec import load_spec

    try:
        base_dir = st.read_results(path).spec_dir
    except StoreError:  # damaged results.json: study.db knows the spec's folder too
        base_dir = st.study_meta(path).spec_dir
    spec = load_spec(path / st.SPEC, base_dir=Path(base_dir) if base_dir else None)
    if st.driver_alive(path):
        from nas_cli.errors import UsageError

        raise UsageError(f"experiment {path.name} is still running; stop it first (nas stop {path.name})")
    return Run(spec=spec, path=path, listener=listener or Listener())


def _prepare(run: Run, space: SearchSpace, payload: Any, store: st.TrialStore,
             resume: bool) -> tuple[Strategy, list[tuple[int, dict[str, Any]]]]:
    """The strategy (its history restored on resume), early stopping, constraints, and the
    interrupted trials to rerun."""
    spec = run.spec
    name, seed, dedup, params = proposing_strategy(spec)
    strategy = create_strategy(name, space, seed=seed, dedup=dedup, params=params,
                               objectives=len(spec.objectives))
    if spec.early_stopping is not None:
        run.early_stopping = EarlyStopping(spec.early_stopping.type, early_stopping_params(spec),
                                           store)
    if spec.constraints is not None and (spec.constraints.max_params or spec.constraints.max_flops):
        run.constraints = Constraints(spec.constraints, payload)
    requeue: list[tuple[int, dict[str, Any]]] = []  # (interrupted trial, its arch) to rerun
    if resume:
        for stale in run.path.rglob(".*.tmp"):  # half-written by a process killed mid-write
            stale.unlink(missing_ok=True)
        meta = store.meta()
        if meta.space is None:
            raise StoreError(f"{store.path} holds no search space: start a new experiment")
        store.set_space(meta.space)
        run.elapsed_before = meta.elapsed or 0.0
        run.created = meta.created if meta.created is not None else run.created
        run.infeasible = meta.infeasible or 0
        run.refused = [(arch, float(excess)) for arch, excess in meta.refused or []]
        run.reruns = dict(meta.reruns or {})
        history = []
        for record in store.records():
            if record.state in (TrialState.RUNNING, TrialState.INTERRUPTED):
                if record.state is TrialState.RUNNING:
                    record.end(TrialState.INTERRUPTED, "the driver stopped")
                    store.finish(record)
                if record.number not in run.reruns:
                    requeue.append((record.number, record.arch))
                    strategy.mark(record.arch)
                elif run.reruns[record.number] is not None:
                    record.error = f"interrupted; rerun as trial {run.reruns[record.number]}"
            elif record.phase != RETRAIN_PHASE:  # retrained trials were not its proposals
                history.append((record.arch, run.told(record), record.state))
            run.add(record)
        strategy.restore(history)
        for arch, excess in run.refused:  # not proposed again, and learned from as before
            strategy.mark(arch)
            strategy.infeasible(arch, excess)
    else:
        store.set_space(space.to_json())
        store.save_meta(st.StudyMeta(name=spec.experiment_name, spec=dump_spec(spec),
                                     spec_dir=str(spec.base_dir), created=run.created))
    return strategy, requeue


def execute(run: Run, *, resume: bool = False) -> Run:
    """Run the experiment to its end (or until stopped); returns the finished run.

    The first Ctrl-C or SIGTERM stops it cleanly (`run.status` is then INTERRUPTED), a
    second one at once; the signal handlers in place before come back when it returns.
    """
    with stop_on_signals(run):
        return _execute(run, resume)


def _execute(run: Run, resume: bool) -> Run:
    spec = run.spec
    backend = None
    loop: Loop = run_trials
    try:
        backend = (run.backend_factory or default_backend)(spec)
        backend.prepare()  # workers import torch while this process builds the space
        if run.prepared is None:  # (`nas bench` prepares once for its many runs)
            # a space known from an earlier run: neither the user's code nor torch imported here
            run.prepared = prepare_run(spec, shared_files=spec.training_service.platform != "ray")
        space, payload_bytes, payload = run.prepared
        # refuse, before anything runs, a strategy that cannot search this space
        STRATEGIES[proposing_strategy(spec)[0]].check(space, len(spec.objectives))
        if spec.strategy.name in ONE_SHOT:  # phases: supernet, search, retrain
            from nas_cli.oneshot import OneShotPhases

            phases = OneShotPhases(run, payload)
            payload_bytes, loop = phases.first_payload(), phases.loop
    except Exception:
        if backend is not None:
            backend.shutdown()
        if not resume:
            _discard(run)
        raise
    run.space_size = space.size
    backend.start(payload_bytes)  # workers boot (import torch) while the store is prepared
    store = None
    try:
        store = st.TrialStore(run.path / st.STUDY, study_name=run.id,
                              direction=[o.mode for o in spec.objectives], create=not resume,
                              group_s=_GROUP_COMMIT_S if backend.virtual else 0.0)
        strategy, requeue = _prepare(run, space, payload, store, resume)
    except BaseException:
        backend.shutdown()
        if store is not None:
            store.close()
        if not resume:  # e.g. a study.db schema the store does not know
            _discard(run)
        raise
    atomic_write_text(run.path / st.PID, f"{os.getpid()}\n")
    stop_file(run).unlink(missing_ok=True)
    run.clock, run.virtual = backend.clock, backend.virtual
    if run.virtual and spec.max_experiment_duration:  # the clock stops at the time limit
        backend.horizon = spec.max_experiment_duration - run.elapsed_before
    run.status, run.started = ExperimentStatus.RUNNING, run.clock()
    run.looping = True
    save_results(run)
    run.listener.started(run)
    failure: BaseException | None = None
    try:
        loop(run, strategy, backend, store, requeue)
    except KeyboardInterrupt:
        run.request_stop(ExperimentStatus.INTERRUPTED)
    except ClusterLost as exc:  # the Ray cluster's head is gone: resume when it is back
        failure = ClusterLost(f"{exc.message}; `nas resume {run.id}` continues the experiment "
                              "once the cluster is back")
        run.request_stop(ExperimentStatus.INTERRUPTED)
        run.stop_reason = f"stopped: {exc.message}"
    except (NasError, OSError) as exc:  # the store or results.json cannot be written
        failure = exc
        run.request_stop(ExperimentStatus.INTERRUPTED)
        run.stop_reason = f"stopped: {exc}"
    except Exception as exc:  # a bug: the run stops interrupted (`nas resume` continues it)
        run.request_stop(ExperimentStatus.INTERRUPTED)
        run.stop_reason = f"stopped: {type(exc).__name__}: {exc}"
        raise
    finally:
        _close(run, backend, store, reported=None if failure is None else str(failure))
    if failure is not None:
        raise failure if isinstance(failure, NasError) else StoreError(str(failure))
    if run.status is ExperimentStatus.FAILED:
        raise ExperimentError(run.stop_reason or "every trial failed")
    return run


def _discard(run: Run) -> None:
    """A new experiment that could not start (nothing ran): leave no empty experiment behind."""
    shutil.rmtree(run.path, ignore_errors=True)
    if run.created_root:
        shutil.rmtree(run.path.parent, ignore_errors=True)


def _close(run: Run, backend: Backend, store: st.TrialStore, reported: str | None = None) -> None:
    """Stop the workers and leave the store and results.json consistent; each step is tried
    even if an earlier one fails (a full disk must not leave workers behind). A step that
    fails is a warning, unless its error is `reported`, the one the run stops with (a full
    disk fails every write: the user reads it once)."""
    run.closing = True  # a further Ctrl-C now waits for this (it takes a few seconds at most)
    steps = [
        backend.shutdown,
        lambda: _interrupt_running(run, store, run.stop_requested or ExperimentStatus.INTERRUPTED,
                                   reported),
        lambda: setattr(run, "status", _final_status(run)),
        lambda: store.save_meta(st.StudyMeta(elapsed=run.elapsed(), status=run.status,
                                             infeasible=run.infeasible,
                                             refused=[list(r) for r in run.refused] or None)),
        store.close,
        lambda: save_results(run),
        lambda: (run.path / st.PID).unlink(missing_ok=True),
        lambda: run.listener.finished(run),
    ]
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - keep closing; the first error is reported
            if str(exc) != reported:
                log.warning("experiment %s: while closing: %s", run.id, short_error(exc))


def _final_status(run: Run) -> ExperimentStatus:
    if run.status is ExperimentStatus.FAILED:
        return ExperimentStatus.FAILED
    if run.stop_requested:
        return run.stop_requested
    finished = [r for r in run.records.values() if r.state.is_finished]
    if not finished and run.infeasible:
        run.stop_reason = (f"no architecture meets the constraints ({run.infeasible} proposals "
                           "refused); relax constraints.max_params / max_flops")
        return ExperimentStatus.FAILED
    if finished and all(r.state is TrialState.FAILED for r in finished):
        last = max(finished, key=lambda r: r.number)
        run.stop_reason = f"every trial failed; last error: {last.error}"
        return ExperimentStatus.FAILED
    return ExperimentStatus.DONE


def stop_file(run: Run) -> Path:
    """The file `nas stop` writes to ask the run to stop."""
    return run.path / st.STOP


def run_trials(run: Run, strategy: Proposer, backend: Backend, store: st.TrialStore,
               requeue: list[tuple[int, dict[str, Any]]], limit: int | None = None) -> None:
    """Propose and run trials until `limit` (default max_trial_number) of the run's current
    phase have finished, the space is exhausted, or the run stops."""
    limit = run.spec.max_trial_number if limit is None else limit
    exhausted = False
    while not _stop_requested(run) and not _out_of_time(run, strategy, backend, store):
        if not exhausted:
            exhausted = _start_trials(run, strategy, backend, store, requeue, limit)
        if not run.running_count:
            if not run.stop_reason or not exhausted:
                run.stop_reason = "space exhausted" if exhausted else "max_trial_number reached"
            return
        _drain(run, strategy, backend, store)
        if run.results_dirty:
            save_results(run, soon=True)
        _cancel_overdue_prunes(run, backend)
        if _failing_from_start(run):
            _fail_from_start(run)
            return


def _stop_requested(run: Run) -> bool:
    """Whether the run was asked to stop (Ctrl-C, SIGTERM, `nas stop`'s file)."""
    if run.stop_requested is None and stop_file(run).exists():
        run.request_stop(ExperimentStatus.STOPPED)
    if run.stop_requested:
        run.stop_reason = run.stop_reason or f"{run.stop_requested} by request"
        return True
    return False


def _out_of_time(run: Run, strategy: Proposer, backend: Backend, store: st.TrialStore) -> bool:
    """At max_experiment_duration: the running trials are interrupted and waited for."""
    limit = run.spec.max_experiment_duration
    if not limit or run.elapsed() < limit:
        return False
    run.stop_reason = "max_experiment_duration reached"
    for record in run.running:
        backend.cancel(record.number, TrialState.INTERRUPTED, "experiment time limit")
    _drain(run, strategy, backend, store, wait_all=True)
    return True


def _start_trials(run: Run, strategy: Proposer, backend: Backend, store: st.TrialStore,
                  requeue: list[tuple[int, dict[str, Any]]], limit: int) -> bool:
    """Start trials while workers are free and the phase wants more: interrupted ones to run
    again first, then the strategy's proposals. True when the space is exhausted."""
    while run.running_count < backend.capacity and \
            run.finished_in(run.phase) + run.running_count < limit:
        rerun_of: int | None = None
        arch: dict[str, Any] | None
        if requeue:
            rerun_of, arch = requeue.pop(0)
            run.reruns[rerun_of] = None  # claimed before it starts: never run twice
            _save_reruns(run, store)
        else:
            arch = _propose(run, strategy)
        if arch is None:
            return True
        _start_trial(run, backend, store, arch, rerun_of)
    return False


def _start_trial(run: Run, backend: Backend, store: st.TrialStore, arch: dict[str, Any],
                 rerun_of: int | None) -> None:
    """A new trial of `arch` in the store and on a worker (`rerun_of`: the interrupted trial
    it runs again)."""
    number = store.start_trial(arch, run.phase)
    if rerun_of is not None:
        run.reruns[rerun_of] = number
        _save_reruns(run, store)
        run.records[rerun_of].error = f"interrupted; rerun as trial {number}"
    record = TrialRecord(number, arch, TrialState.RUNNING, started_at=run.clock(),
                         phase=run.phase)
    run.add(record)
    trial_dir = run.path / "trials" / str(number)
    if not run.virtual:  # a simulated trial writes no files
        trial_dir.mkdir(parents=True, exist_ok=True)
    backend.submit(number, arch, trial_dir, run.spec.max_trial_duration)
    run.listener.trial_started(run, record)


def _cancel_overdue_prunes(run: Run, backend: Backend) -> None:
    """A trial asked to stop at its next report that has not within the grace time is
    cancelled."""
    now = run.clock()
    for number, (deadline, reason) in list(run.pruning.items()):
        if now > deadline and run.records[number].state is TrialState.RUNNING:
            backend.cancel(number, TrialState.PRUNED, reason)


def _fail_from_start(run: Run) -> None:
    """The first `max_failed_trials` trials all failed: the run fails, naming the first."""
    run.status = ExperimentStatus.FAILED
    first = run._first_failed
    assert first is not None  # the run has failed trials
    run.stop_reason = (f"the first {run.spec.max_failed_trials} trials all failed; stopping "
                       f"(trial {first.number}: {first.error})")


def _save_reruns(run: Run, store: st.TrialStore) -> None:
    store.save_meta(st.StudyMeta(reruns=run.reruns))


_FEASIBLE_TRIES = 1000
_GROUP_COMMIT_S = 0.2  # simulated runs commit study.db in groups (thousands of trials a second)
_PRUNE_GRACE_S = 10.0


def _propose(run: Run, strategy: Proposer) -> dict[str, Any] | None:
    """The strategy's next architecture that meets the constraints (others use no trial)."""
    for _ in range(_FEASIBLE_TRIES):
        arch = strategy.propose()
        if arch is None or run.constraints is None:
            return arch
        if run.constraints.violation(arch) is None:
            return arch
        run.infeasible += 1
        excess = run.constraints.excess(arch)
        run.refused.append((arch, excess))
        strategy.infeasible(arch, excess)
    run.stop_reason = f"no feasible architecture in {_FEASIBLE_TRIES} proposals"
    return None


def _maybe_prune(run: Run, backend: Backend, record: TrialRecord, step: int,
                 value: float) -> None:
    if run.early_stopping is None or record.number in run.pruning:
        return
    if run.early_stopping.should_stop(record.number):
        reason = f"pruned at step {step} ({run.spec.objective.metric}={value:.4g})"
        run.pruning[record.number] = (run.clock() + _PRUNE_GRACE_S, reason)
        backend.prune(record.number, run.path / "trials" / str(record.number), reason)


def _failing_from_start(run: Run) -> bool:
    n = run.spec.max_failed_trials
    return 0 < n <= run.finished_count and run._failed == run.finished_count


def _drain(run: Run, strategy: Proposer, backend: Backend, store: st.TrialStore,
           wait_all: bool = False) -> None:
    """Handle the events that arrive within a short wait (or until nothing runs)."""
    deadline = time.time() + 10 if wait_all else 0
    while True:
        events = backend.events(timeout=0.25)
        for event in events:
            record = run.records.get(event.number)
            if record is None or record.state is not TrialState.RUNNING:
                continue
            if isinstance(event, Intermediate):
                record.intermediate.append((event.step, event.value))
                store.report(record.number, event.step, event.value)
                run.listener.trial_intermediate(run, record, event.step, event.value)
                _maybe_prune(run, backend, record, event.step, event.value)
            elif isinstance(event, Finished):
                if not (event.lost and _retry(run, record, event, backend, store)):
                    _finish(run, record, event, strategy, store)
        if not wait_all or not run.running_count or time.time() > deadline:
            return


def _retry(run: Run, record: TrialRecord, event: Finished, backend: Backend,
           store: st.TrialStore) -> bool:
    """Run a trial lost with its worker or node again, as the same trial, while it has
    retries left (`max_trial_retries`); its earlier attempts are kept with it. A trial being
    pruned, or lost while the run stops, is not retried."""
    if len(record.attempts) >= run.spec.max_trial_retries or run.stop_requested or \
            record.number in run.pruning:
        return False
    now = run.clock()
    attempt = {"attempt": len(record.attempts) + 1, "error": event.reason,
               "duration_s": round(now - (record.started_at or now), 3)}
    if event.outcome.node is not None:
        attempt["node"] = event.outcome.node
    record.attempts.append(attempt)
    record.intermediate, record.started_at = [], now
    store.retry(record)
    trial_dir = run.path / "trials" / str(record.number)
    if not run.virtual:
        with open(trial_dir / "trial.log", "a", encoding="utf-8") as log:
            log.write(f"\n--- attempt {len(record.attempts) + 1} (attempt "
                      f"{len(record.attempts)}: {event.reason}) ---\n")
    backend.submit(record.number, record.arch, trial_dir, run.spec.max_trial_duration)
    run.listener.trial_retried(run, record)
    save_results(run, soon=True)
    return True


def _finish(run: Run, record: TrialRecord, event: Finished, strategy: Proposer,
            store: st.TrialStore) -> None:
    outcome = event.outcome
    record.peak_memory, record.node = outcome.peak_memory, outcome.node
    record.duration_s = outcome.duration_s
    if record.duration_s is None:  # ended from outside: the time since it started
        record.duration_s = run.clock() - (record.started_at or run.clock())
    record.params = outcome.params
    record.metrics = dict(outcome.metrics)
    reported = {step for step, _ in record.intermediate}
    for step, value in outcome.intermediate:  # those the finish overtook
        if step not in reported:
            store.report(record.number, step, value)
    if outcome.intermediate:  # all of them (an outcome from outside has none: keep the streamed)
        record.intermediate = [(step, value) for step, value in outcome.intermediate]
    state, error = event.state, event.reason
    if event.lost and record.attempts:
        error = f"{event.reason}; gave up after {len(record.attempts) + 1} attempts"
    pruned = run.pruning.pop(record.number, None)
    if pruned is not None and event.state is not TrialState.COMPLETE:
        state, error = TrialState.PRUNED, pruned[1]
    elif outcome.pruned and event.state is TrialState.FAILED:  # it stopped itself: over
        state = TrialState.PRUNED                               # max_latency_ms, not trained
    record.end(state, error)
    if event.state is TrialState.COMPLETE:
        record.metric = record.metrics.get(run.spec.objective.metric)
        if run.spec.multi_objective:  # the worker made sure every objective is there
            record.values = [record.metrics[o.metric] for o in run.spec.objectives]
    run.settle(record)
    store.finish(record)
    if run.early_stopping is not None:
        run.early_stopping.finished(record.number)
    if record.state.is_finished:
        strategy.tell(record.arch, run.told(record), record.state)
    save_results(run, soon=True)
    run.listener.trial_finished(run, record)


def _interrupt_running(run: Run, store: st.TrialStore, why: ExperimentStatus,
                       reported: str | None = None) -> None:
    for record in run.running:
        record.end(TrialState.INTERRUPTED, f"{why} while running; `nas resume` reruns it")
        record.duration_s = run.clock() - (record.started_at or run.clock())
        run.settle(record)
        try:
            store.finish(record)
        except Exception as exc:  # noqa: BLE001 - results.json still says it
            if str(exc) != reported:
                log.warning("trial %d: cannot mark it interrupted in the store: %s",
                            record.number, short_error(exc))


_RESULTS_EVERY_S = 0.5
_RESULTS_SHARE = 0.05  # of the driver's wall time, at most, spent rewriting results.json


def save_results(run: Run, *, soon: bool = False) -> None:
    """Rewrite results.json; with `soon`, at most every `run.results_every` seconds (the loop
    flushes it, and the end of the run always writes it). A write costs time in proportion
    to the trials, so the interval grows with that cost: a run of 100,000 trials spends no
    larger share of its time on results.json than one of 100."""
    now = time.time()
    if soon and now - run.results_written < run.results_every:
        run.results_dirty = True
        return
    run.results_dirty = False
    _write_results_now(run)
    run.results_written = time.time()
    cost = run.results_written - now
    run.results_every = max(_RESULTS_EVERY_S, cost / _RESULTS_SHARE)


def _write_results_now(run: Run) -> None:
    spec = run.spec
    objectives = [st.Objective(metric=o.metric, mode=o.mode) for o in spec.objectives]
    st.write_results(run.path, st.Results(
        experiment=run.id, name=spec.experiment_name or run.id, status=run.status,
        objective=objectives[0], **({"objectives": objectives} if len(objectives) > 1 else {}),
        created=run.created, updated=time.time(), elapsed_s=round(run.elapsed(), 2),
        max_trial_number=trial_limit(spec), target_trials=run.target,
        trial_concurrency=spec.trial_concurrency, strategy=spec.strategy.name,
        space_size=None if run.space_size == math.inf else run.space_size,
        infeasible=run.infeasible, spec_dir=str(spec.base_dir), stop_reason=run.stop_reason,
        # simulated backends: elapsed_s and every duration_s are in virtual seconds
        clock="virtual" if run.virtual else "wall", **run.extra,
    ), list(run.records.values()))
