"""results.json: its layout, defined once (`Results`), written by the driver and read by
`nas status`, `export`, `report` and `view` through the same model (pydantic, no torch).

The file is derived from study.db (`nas resume` rewrites it from there) and rewritten
atomically as trials finish, so a reader never sees half of it. Keys that are absent in a file
read as their defaults: files written by earlier versions read as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nas_cli._files import atomic_write_text
from nas_cli.errors import StoreError
from nas_cli.store._attrs import what_is_wrong
from nas_cli.trials import INHERITED_PHASE, ExperimentStatus, TrialRecord, TrialState, rank

RESULTS = "results.json"


class Objective(BaseModel):
    """An objective: a metric and whether more or less is better."""

    metric: str = Field(description="the metric's name, as the evaluator reports it")
    mode: Literal["maximize", "minimize"] = Field(description="`maximize` or `minimize`")


class TrialEntry(BaseModel):
    """One trial. Optional keys are written only when they apply."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    rank: int | None = Field(
        None, description="1 for the best; completed trials only (by the first objective; "
                          "retrained one-shot trials rank first)")
    trial: int = Field(description="the trial's number, from 0, in the order trials started")
    status: TrialState = Field(
        description="`running`, `complete`, `pruned`, `failed` or `interrupted`")
    arch: dict[str, Any] = Field(
        description="the architecture: decision label -> chosen value (searched "
                    "hyperparameters under their `hp/` label)")
    metric: float | None = Field(None, description="the (first) objective's value, when complete")
    metrics: dict[str, float] = Field({}, description="every metric the evaluator reported")
    params: int | None = Field(None, description="the frozen model's parameter count")
    duration_s: float | None = Field(None, description="seconds the trial ran")
    values: list[float] | None = Field(
        None, description="several objectives: each one's value, in the order of `objectives`")
    pareto: bool | None = Field(None, description="several objectives: `true` on the Pareto front")
    phase: str | None = Field(
        None, description="one-shot: `search` (scored on inherited weights) or `retrain`")
    inherited: bool | None = Field(
        None, description="one-shot: `true` when the metric was measured on weights inherited "
                          "from the supernet, untrained")
    error: str | None = Field(
        None, description="one line: why the trial failed, was pruned or interrupted")
    intermediate: list[tuple[int, float]] | None = Field(
        None, description="[step, value] pairs the trial reported as it trained")
    peak_memory: int | None = Field(
        None, description="bytes: its worker's peak resident memory while it ran")
    node: str | None = Field(None, description="on Ray: the node it ran on, `ip/node-id`")
    attempts: list[dict[str, Any]] | None = Field(
        None, description="earlier attempts lost with their worker or node and run again: "
                          "`attempt` (1, 2, ...), `error`, `duration_s`, `node`")

    @classmethod
    def of(cls, record: TrialRecord, rank: int | None = None, pareto: bool = False) -> TrialEntry:
        """A record as an entry; keys that do not apply are left out of the file."""
        entry: dict[str, Any] = {
            "trial": record.number, "status": record.state, "arch": record.arch,
            "metric": record.metric, "metrics": record.metrics, "params": record.params,
            "duration_s": None if record.duration_s is None else round(record.duration_s, 3)}
        if rank is not None:
            entry["rank"] = rank
        if pareto:
            entry["pareto"] = True
        if record.values is not None:
            entry["values"] = record.values
        if record.phase is not None:
            entry["phase"] = record.phase
            entry["inherited"] = record.phase == INHERITED_PHASE
        optional = {"error": record.error, "peak_memory": record.peak_memory,
                    "node": record.node}
        entry.update((k, v) for k, v in optional.items() if v is not None)
        if record.intermediate:
            entry["intermediate"] = record.intermediate
        if record.attempts:
            entry["attempts"] = record.attempts
        return cls(**entry)

    def record(self) -> TrialRecord:
        return TrialRecord(
            number=self.trial, arch=dict(self.arch), state=self.status, metric=self.metric,
            values=self.values, metrics=dict(self.metrics),
            intermediate=list(self.intermediate or []), params=self.params,
            duration_s=self.duration_s, error=self.error, peak_memory=self.peak_memory,
            node=self.node, attempts=list(self.attempts or []), phase=self.phase)


class SupernetSection(BaseModel):
    """One-shot phase 1: the supernet's training."""

    model_config = ConfigDict(extra="allow")

    epochs: int = Field(description="epochs it trains")
    epochs_done: int = Field(0, description="epochs done (checkpointed)")
    params: int | None = Field(None, description="the supernet's parameter count")
    path_sampling: str | None = Field(None, description="how paths are sampled per step")
    checkpoint: str | None = Field(None, description="its checkpoint, in the experiment folder")
    resumed_from: int | None = Field(None, description="epochs an earlier run had done")
    lost_attempts: list[str] | None = Field(
        None, description="why earlier attempts were lost (their worker or node)")
    history: list[dict[str, Any]] = Field(
        [], description="one entry per epoch: `epoch` and the metrics of its sampled paths")


class OneShotSection(BaseModel):
    """A one-shot experiment's phases (see the one-shot page)."""

    model_config = ConfigDict(extra="allow")

    method: str = Field(description="the one-shot method, e.g. `spos`")
    phase: str | None = Field(
        None, description="the phase it is in: `supernet`, `search` or `retrain`")
    supernet: SupernetSection = Field(description="phase 1 (keys below)")
    search: dict[str, Any] = Field({}, description="phase 2: its strategy, trials and metric")
    retrain: dict[str, Any] = Field({}, description="phase 3: how many of the best retrain")
    derived: dict[str, Any] | None = Field(
        None, description="a learned distribution (darts, gumbel_darts, proxyless, enas): the "
                          "derived architecture, label -> value")
    top: list[dict[str, Any]] | None = Field(
        None, description="a learned distribution: its most probable architectures, derived "
                          "first, each `{arch, probability}`")
    penalty: dict[str, Any] | None = Field(
        None, description="a learned distribution: the cost penalty of the spec, if any")
    param_free: dict[str, Any] | None = Field(
        None, description="a learned distribution: how many of the derived architecture's "
                          "operation choices hold no parameters (`ops`, `count`, `chosen`)")
    warning: str | None = Field(
        None, description="a learned distribution: a line when parameter-free operations "
                          "dominate the derived architecture")


class Results(BaseModel):
    """The whole file. Keys are in this order; `trials` comes last."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    experiment: str = Field(description="the experiment's id (its folder's name)")
    name: str = Field(description="the experiment's name (`experiment_name`)")
    status: str = Field(
        description="`running`, `done`, `failed`, `interrupted` (a signal) or `stopped` "
                    "(`nas stop`)")
    objective: Objective = Field(description="the (first) objective: `{metric, mode}`")
    objectives: list[Objective] | None = Field(
        None, description="several objectives: every one, in the spec's order")
    pareto_front: list[int] | None = Field(
        None, description="several objectives: the trials on the Pareto front, by number")
    created: float | None = Field(None, description="when the experiment was created (unix time)")
    updated: float | None = Field(None, description="when this file was written (unix time)")
    elapsed_s: float | None = Field(None, description="seconds the experiment has run")
    max_trial_number: int | None = Field(
        None, description="the trial limit (the spec's, or the space's size if smaller)")
    target_trials: int | None = Field(None, description="trials this run aims at")
    trial_concurrency: int | None = Field(None, description="trials run at once")
    strategy: str | None = Field(None, description="the strategy's name")
    space_size: int | None = Field(
        None, description="architectures in the space; null when infinite (continuous ranges)")
    infeasible: int = Field(
        0, description="architectures the constraints refused before training (no trial used)")
    spec_dir: str | None = Field(
        None, description="the folder the spec's relative paths are resolved in")
    stop_reason: str | None = Field(None, description="why the run stopped, in words")
    clock: Literal["wall", "virtual"] = Field(
        "wall", description="`virtual` for a simulated cluster: `elapsed_s` and every "
                            "`duration_s` are simulated seconds")
    oneshot: OneShotSection | None = Field(None, description="one-shot: its phases (keys below)")
    trials: list[TrialEntry] = Field(
        [], description="completed trials best first, then the others by number (keys below)")

    @property
    def all_objectives(self) -> list[Objective]:
        """Every objective (one or several), in the spec's order."""
        return list(self.objectives or [self.objective])


def write_results(path: Path, results: Results, records: Sequence[TrialRecord]) -> None:
    """Rewrite `path`/results.json (atomically) with `results` and its trials: completed trials
    ranked by the first objective, then the others by number; with several objectives, the
    Pareto front listed (`pareto_front`) and marked (`"pareto": true`)."""
    objectives = results.all_objectives
    several = len(objectives) > 1
    on_front = set(pareto_numbers(records, objectives)) if several else set()
    trials = []
    position = 0
    for record in rank(list(records), objectives[0].mode):
        if record.state is TrialState.COMPLETE and record.metric is not None:
            position += 1
            trials.append(TrialEntry.of(record, position, record.number in on_front))
        else:
            trials.append(TrialEntry.of(record))
    results.trials = trials
    if several:
        results.pareto_front = sorted(on_front)
    # Derived from study.db, rewritten often: atomic, but not synced to disk every time.
    atomic_write_text(path / RESULTS, results.model_dump_json(exclude_unset=True) + "\n",
                      durable=results.status != ExperimentStatus.RUNNING)


def pareto_numbers(records: Sequence[TrialRecord], objectives: Sequence[Objective]) -> list[int]:
    """Trial numbers of the Pareto front: completed trials that no other one dominates."""
    from nas_cli.pareto import front, oriented

    modes = [o.mode for o in objectives]
    done = [(r.number, r.values) for r in records
            if r.state is TrialState.COMPLETE and r.values is not None]
    return [done[i][0] for i in front([oriented(values, modes) for _, values in done])]


def read_results(path: Path) -> Results:
    """`path`/results.json; a missing, unreadable or malformed file is a one-line StoreError."""
    file = path / RESULTS
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        raise StoreError(f"{file} not found: not an experiment folder") from None
    except OSError as exc:
        raise StoreError(f"{file} is unreadable ({exc}); `nas resume` rewrites it") from None
    try:
        return Results.model_validate_json(text)
    except ValidationError as exc:
        raise StoreError(f"{file} is malformed ({what_is_wrong(exc)}); `nas resume` rewrites "
                         "it") from None
