"""Evaluators: train (or hand to the user's function) a frozen model, and measure it.

- `train_and_evaluate`: the classification and regression evaluators (PyTorch Lightning).
- `load_dataset`: their data: built in (digits, diabetes), a user factory, or torchvision.
- `TrainingEvaluator`, `FunctionEvaluator`, `TableEvaluator`: the kinds a spec's
  `evaluator.type` names.
- `count_params`, `count_flops`, `measure_costs`: the cost metrics (`COST_METRICS`).
- `TaskModule`, `make_batches`, `fit_quietly`, ...: the training pieces one-shot search reuses.

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
    "check_signature": "nas_cli.evaluator._function",
    "metrics_of": "nas_cli.evaluator._function",
    "check_dataset": "nas_cli.evaluator._datasets",
    "TableEvaluator": "nas_cli.evaluator._table",
    "SUFFIXES": "nas_cli.evaluator._table",
    "read_table": "nas_cli.evaluator._table",
    **dict.fromkeys(("COST_METRICS", "CostRequest", "LATENCY_REPEATS", "LATENCY_WARMUP",
                     "count_flops", "count_params", "measure_costs"), "nas_cli.evaluator._cost"),
    **dict.fromkeys(("TaskModule", "TensorBatches", "accelerator_for", "fit_quietly",
                     "make_batches", "mean_of", "quiet_lightning", "split_batch",
                     "write_csv_row"), "nas_cli.evaluator._lightning"),
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
