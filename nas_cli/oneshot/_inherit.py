"""Measuring a sub-network on the weights it inherits from the supernet: batch-norm statistics
re-estimated on a few training batches (the supernet's running statistics mix every path),
then the validation metrics the training evaluators report."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_cli.evaluator import load_dataset, make_batches, split_batch

RECALIBRATION_SEED = 12345  # every architecture is recalibrated on the same batches


def recalibrate(model: nn.Module, batches: Iterable[Any], count: int, device: str) -> None:
    """Re-estimate every batch-norm layer's running statistics (a cumulative average over
    `count` batches); the rest of the model runs in eval mode (no dropout)."""
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    model.eval()
    if not norms or count <= 0:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with torch.no_grad():
        for index, batch in enumerate(batches):
            if index >= count:
                break
            model(split_batch(batch)[0].to(device))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()


def validate(model: nn.Module, batches: Iterable[Any], task: str, device: str) -> dict[str, float]:
    """`val_acc`/`val_loss` (classification) or `val_mse`/`val_loss` (regression), as the
    training evaluators compute them."""
    loss_sum, correct, count, elements = 0.0, 0, 0, 0
    model.eval()
    with torch.no_grad():
        for batch in batches:
            x, y = split_batch(batch)
            x, y = x.to(device), y.to(device)
            out = model(x)
            if task == "classification":
                loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
                correct += int((out.argmax(dim=1) == y).sum())
            else:
                target = y.view_as(out) if y.shape != out.shape and y.numel() == out.numel() else y
                loss_sum += float(F.mse_loss(out, target.to(out.dtype), reduction="sum"))
            count += len(y)
            elements += out.numel()
    if task == "classification":
        return {"val_acc": correct / count if count else math.nan,
                "val_loss": loss_sum / count if count else math.nan}
    mse = loss_sum / elements if elements else math.nan
    return {"val_mse": mse, "val_loss": mse}


class SubnetJudge:
    """Recalibrates and validates sub-networks on a training evaluator's data (loaded once)."""

    def __init__(self, config: Any, base_dir: Path | None, recalibration_batches: int):
        self.config = config
        self.train, self.val = load_dataset(config.dataset, task=config.type,
                                            seed=config.seed or 0, base_dir=base_dir)
        self.recalibration_batches = recalibration_batches

    def input_shape(self) -> tuple[int, ...]:
        """The shape of one training input (no batch dimension), for counting FLOPs."""
        return tuple(split_batch(next(iter(make_batches(self.train, 1, shuffle=False))))[0].shape[1:])

    def __call__(self, model: nn.Module, device: str) -> dict[str, float]:
        batches = make_batches(self.train, self.config.batch_size, shuffle=True,
                               seed=RECALIBRATION_SEED)
        recalibrate(model, batches, self.recalibration_batches, device)
        return validate(model, make_batches(self.val, max(self.config.batch_size, 1024),
                                            shuffle=False), self.config.type, device)
