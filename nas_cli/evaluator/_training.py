"""The built-in training evaluators (classification, regression) as trial evaluators."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nas_cli.evaluator._function import metrics_of


class TrainingEvaluator:
    """Trains the frozen model with PyTorch Lightning (see `train_and_evaluate`)."""

    def __init__(self, config: Any, base_dir: Path | None = None):
        self.config = config
        self.base_dir = base_dir

    def evaluate(self, model: Any, arch: dict[str, Any], *, metric: str,
                 report: Callable[[int, dict[str, float]], None] | None = None,
                 trial_dir: Path | None = None, device: str = "cpu") -> dict[str, float]:
        from nas_cli.evaluator._lightning import train_and_evaluate

        result = train_and_evaluate(model, self.config, report=report, trial_dir=trial_dir,
                                    base_dir=self.base_dir, device=device, seed=self.config.seed)
        return metrics_of(result, metric)
