"""Evaluators: train (or hand to the user's function) a frozen model, and measure it.

- `train_and_evaluate`: the classification and regression evaluators (PyTorch Lightning).
- `load_dataset`: their data: built in (digits, diabetes), a user factory, or torchvision.
- `TrainingEvaluator`, `FunctionEvaluator`: the two kinds a spec's `evaluator.type` names.

Names are imported on first use, so importing this package does not import torch.
"""

from __future__ import annotations

from nas_cli._lazy import lazy_getattr

_LAZY = {
    "train_and_evaluate": "nas_cli.evaluator._lightning",
    "load_dataset": "nas_cli.evaluator._datasets",
    "clear_cache": "nas_cli.evaluator._datasets",
    "TrainingEvaluator": "nas_cli.evaluator._training",
    "FunctionEvaluator": "nas_cli.evaluator._function",
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
