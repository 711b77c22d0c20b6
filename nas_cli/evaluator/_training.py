"""The built-in training evaluators (classification, regression) as trial evaluators."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
                 trial_dir: Path | None = None, device: str = "cpu",
                 hparams: Mapping[str, Any] | None = None) -> dict[str, float]:
        """`hparams`: the trial's values of the searched fields (learning_rate, ...)."""
        from nas_cli.evaluator._lightning import train_and_evaluate

        config = self.config.model_copy(update=dict(hparams)) if hparams else self.config
        result = train_and_evaluate(model, config, report=report, trial_dir=trial_dir,
                                    base_dir=self.base_dir, device=device, seed=config.seed)
        return metrics_of(result, metric)

    def input_shape(self) -> tuple[int, ...]:
        """The shape of one training input (for the flops and latency_ms cost metrics)."""
        from nas_cli.evaluator._datasets import load_dataset

        train, _ = load_dataset(self.config.dataset, task=self.config.type,
                                seed=self.config.seed or 0, base_dir=self.base_dir)
        first = train[0] if hasattr(train, "__getitem__") else next(iter(train))
        inputs = first[0]
        if hasattr(train, "batch_size") and not hasattr(train, "__getitem__"):
            return tuple(inputs.shape[1:])  # a DataLoader's batch
        return tuple(inputs.shape)
