"""The function evaluator: `def evaluate(model, **kwargs) -> float | dict`."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nas_cli.errors import SpecError, TrialError
from nas_cli.trial_context import final_result


def check_signature(function: Callable[..., Any], kwargs: dict[str, Any], where: str) -> None:
    """Refuse, before anything runs, a function that cannot take (model, **kwargs)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    params = dict(signature.parameters)
    extra = {"arch": None} if "arch" in params else {}
    try:
        signature.bind(None, **kwargs, **extra)
    except TypeError as exc:
        shown = f"{function.__name__}{signature}"
        raise SpecError(
            f"{where}: {shown} cannot be called as evaluate(model, **kwargs) with kwargs "
            f"{sorted(kwargs)}: {exc}"
        ) from None


def metrics_of(result: Any, metric: str) -> dict[str, float]:
    """An evaluator's return value as metrics: a float, or a dict holding `default` or the
    objective's metric."""
    if isinstance(result, bool) or result is None:
        raise TrialError(f"the evaluator returned {result!r}; return a float or a dict of floats "
                         "(or call report_final_result)")
    if isinstance(result, int | float):
        metrics = {metric: float(result)}
    elif isinstance(result, dict):
        try:
            metrics = {str(k): float(v) for k, v in result.items()}
        except (TypeError, ValueError):
            raise TrialError(f"the evaluator returned {result!r}; its values must be floats") from None
        if metric not in metrics:
            if "default" not in metrics:
                raise TrialError(
                    f"the evaluator returned {sorted(metrics)} without 'default' or '{metric}'"
                )
            metrics[metric] = metrics["default"]
    else:
        try:
            metrics = {metric: float(result)}
        except (TypeError, ValueError):
            raise TrialError(
                f"the evaluator returned a {type(result).__name__}; return a float or a dict"
            ) from None
    if not math.isfinite(metrics[metric]):
        raise TrialError(f"the evaluator returned a non-finite {metric}: {metrics[metric]}")
    return metrics


class FunctionEvaluator:
    """Calls the user's function with the frozen model (and `arch=` if it takes one)."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any] | None = None):
        self.function = function
        self.kwargs = dict(kwargs or {})

    def evaluate(self, model: Any, arch: dict[str, Any], *, metric: str,
                 report: Callable[[int, dict[str, float]], None] | None = None,
                 trial_dir: Path | None = None, device: str = "cpu",
                 hparams: Mapping[str, Any] | None = None) -> dict[str, float]:
        """`hparams`: the trial's values of the searched kwargs."""
        kwargs = {**self.kwargs, **(hparams or {})}
        try:
            takes_arch = "arch" in inspect.signature(self.function).parameters
        except (TypeError, ValueError):
            takes_arch = False
        if takes_arch:
            kwargs["arch"] = arch
        result = self.function(model, **kwargs)
        if result is None:  # NNI style: the result went to report_final_result
            result = final_result()
        return metrics_of(result, metric)
