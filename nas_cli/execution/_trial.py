"""Running one trial: freeze the architecture, evaluate it, count its parameters, measure its
memory (within `max_trial_memory`), and say "out of memory" when that is what happened.

Shared by every backend (local pool workers, Ray) and by `nas trial` in this process.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_cli._files import atomic_write_json
from nas_cli.errors import TrialError
from nas_cli.evaluator import count_params, measure_costs
from nas_cli.execution import _memory as memory
from nas_cli.trial_context import TrialPruned, trial_scope
from nas_cli.trials import TrialOutcome


@dataclass
class TrialPayload:
    """What travels to the workers (with cloudpickle): the space and the evaluator."""

    model_class: Any
    init_kwargs: dict[str, Any]
    mutators: list[Any]
    evaluator: Any                      # FunctionEvaluator | TrainingEvaluator
    metric: str                         # the (first) objective's metric name
    device: str = "cpu"
    max_memory: int | None = None       # bytes a worker may use (`max_trial_memory`)
    extra: dict[str, Any] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)     # every objective's metric
    costs: list[Any] = field(default_factory=list)       # CostRequests measured before training
    latency_limit: float | None = None                   # constraints.max_latency_ms
    hparams: dict[str, str] = field(default_factory=dict)  # label -> evaluator field or kwarg

    def model_arch(self, arch: dict[str, Any]) -> dict[str, Any]:
        """The architecture without the searched hyperparameters (what `freeze` takes)."""
        return {k: v for k, v in arch.items() if k not in self.hparams}

    def hparam_values(self, arch: dict[str, Any]) -> dict[str, Any]:
        """The searched hyperparameters of `arch`, by evaluator field (or kwarg) name."""
        return {name: arch[label] for label, name in self.hparams.items() if label in arch}


def _over_latency(payload: TrialPayload, costs: dict[str, float]) -> str | None:
    """Why a model is over `constraints.max_latency_ms` (then it is not trained), or None."""
    latency = costs.get("latency_ms")
    if payload.latency_limit is None or latency is None or latency <= payload.latency_limit:
        return None
    return (f"latency_ms {latency:.4g} > max_latency_ms {payload.latency_limit:g}: "
            "not trained")


def _check_objectives(payload: TrialPayload, metrics: dict[str, float]) -> None:
    """Every objective needs a finite value."""
    for name in payload.metrics:
        if name not in metrics:
            raise TrialError(f"the evaluator returned {sorted(metrics)} without '{name}' "
                             "(an objective)")
        if not math.isfinite(metrics[name]):
            raise TrialError(f"the evaluator returned a non-finite {name}: {metrics[name]}")


def short_error(exc: BaseException) -> str:
    """'ValueError: message' on one line, cut to a readable length."""
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = text.replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


@contextlib.contextmanager
def _log_to(trial_dir: Path | None) -> Iterator[None]:
    """Send the trial's prints (and tracebacks) to trials/<n>/trial.log."""
    if trial_dir is None:
        yield
        return
    trial_dir.mkdir(parents=True, exist_ok=True)
    with open(trial_dir / "trial.log", "a", encoding="utf-8", buffering=1) as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def execute(payload: TrialPayload, number: int, arch: dict[str, Any], trial_dir: Path | None,
            report: Callable[[int, float], None] | None = None, log: bool = True,
            should_stop: Callable[[], bool] | None = None) -> TrialOutcome:
    """Run one trial; the user's errors come back in the outcome, never as exceptions (they
    would have to be unpickled by the driver). `should_stop()` is asked at every intermediate
    report: True stops the trial there (early stopping), as a pruned outcome."""
    from nas_cli.space import freeze

    started = time.perf_counter()
    intermediate: list[tuple[int, float]] = []

    def on_report(step: int, value: float) -> None:
        intermediate.append((step, value))
        if report is not None:
            report(step, value)
        if should_stop is not None and should_stop():
            raise TrialPruned(f"pruned at step {step}")

    def on_epoch(step: int, metrics: dict[str, float]) -> None:
        if payload.metric in metrics:
            on_report(step, float(metrics[payload.metric]))

    memory.reset_peak()
    memory.reset_cuda_peak(payload.device)
    context = _log_to(trial_dir) if log else contextlib.nullcontext()
    with context:
        try:
            with memory.memory_limit(payload.max_memory), trial_scope(arch, on_report):
                model, params, costs = None, None, {}
                model_arch = payload.model_arch(arch)
                build = getattr(payload.evaluator, "build_model", None)
                if build is not None:  # an evaluator that makes its own model (one-shot)
                    model = build(payload, model_arch)
                # a table looks the architecture up: no model, unless a cost is measured
                elif getattr(payload.evaluator, "needs_model", True) or payload.costs:
                    model = freeze(payload.model_class, model_arch, mutators=payload.mutators,
                                   **payload.init_kwargs)
                if model is not None:
                    params = count_params(model)
                    costs = measure_costs(model, payload.costs, device=payload.device,
                                          default_shape=getattr(payload.evaluator,
                                                                "input_shape", None))
                over = _over_latency(payload, costs)
                if over is not None:
                    return TrialOutcome(metrics=costs, params=params, error=over, pruned=True,
                                        duration_s=time.perf_counter() - started)
                hparams = payload.hparam_values(arch)
                metrics = payload.evaluator.evaluate(
                    model, model_arch, metric=payload.metric, report=on_epoch,
                    trial_dir=trial_dir, device=payload.device,
                    **({"hparams": hparams} if hparams else {}),
                )
                del model
                metrics = {**costs, **metrics}  # a cost the evaluator reports itself wins
                _check_objectives(payload, metrics)
        except TrialPruned as exc:
            return TrialOutcome(error=str(exc), pruned=True, intermediate=intermediate,
                                duration_s=time.perf_counter() - started,
                                peak_memory=memory.peak_memory())
        except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
            if isinstance(exc, KeyboardInterrupt | SystemExit) and not log:
                raise
            text = traceback.format_exc()
            if log:
                sys.stderr.write(text)
            outcome = TrialOutcome(error=short_error(exc), traceback=text,
                                   intermediate=intermediate,
                                   duration_s=time.perf_counter() - started,
                                   peak_memory=memory.peak_memory())
            device = memory.out_of_memory_device(exc, payload.device)
            if device is not None:  # one line that says so, and how much the trial held
                peak = outcome.peak_memory if device == "cpu" else memory.cuda_peak(device, exc)
                outcome.error = memory.out_of_memory_reason(device, peak, payload.max_memory)
                outcome.out_of_memory = True
            return outcome
    duration = time.perf_counter() - started
    if trial_dir is not None:
        atomic_write_json(trial_dir / "metrics.json",
                          {"metrics": metrics, "intermediate": intermediate, "params": params})
    return TrialOutcome(metrics=metrics, params=params, duration_s=duration,
                        intermediate=intermediate, peak_memory=memory.peak_memory())
