"""The classification and regression evaluators: train one model with PyTorch Lightning.

Kept fast for many small trials: in-memory tensor data is batched by indexing (no per-sample
DataLoader work), manual optimization with plain optimizer steps skips Lightning's closure and
hook machinery, and logging, progress bars, model summaries and sanity checks are off. Metrics
are summed on the device and read once per epoch, not logged with `self.log`.
"""

from __future__ import annotations

import csv
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import Checkpoint
from torch.utils.data import DataLoader, TensorDataset

from nas_cli.errors import TrialError
from nas_cli.evaluator._datasets import load_dataset
from nas_cli.spec import TrainingEvaluatorSpec, resolved

Report = Callable[[int, dict[str, float]], None]

#: The metric that picks the best epoch (for `keep_checkpoints: best`), per evaluator type.
DEFAULT_METRIC: dict[str, tuple[str, str]] = {
    "classification": ("val_acc", "maximize"),
    "regression": ("val_mse", "minimize"),
}

_VAL_BATCH_SIZE = 1024  # validation has no gradients, so bigger batches only save overhead


def train_and_evaluate(
    model: torch.nn.Module,
    cfg: TrainingEvaluatorSpec,
    *,
    report: Report | None = None,
    trial_dir: Path | None = None,
    base_dir: Path | None = None,
    device: str = "cpu",
    seed: int | None = None,
) -> dict[str, float]:
    """Train `model` as `cfg` says; return the LAST epoch's validation metrics + `train_loss`.

    Classification: cross-entropy, `val_acc` and `val_loss`; regression: MSE, `val_mse` and
    `val_loss`. After each epoch k (from 1): `report(k, val_metrics)`, and with a `trial_dir`
    a row in `metrics.csv` plus, as `cfg.keep_checkpoints` says, `model.pt` (the state dict of
    the best epoch by val_acc max / val_mse min) and, for `all`, `epoch_<k>.pt`. Nothing is
    written without a `trial_dir`.

    `seed` (default `cfg.seed`) seeds torch and the shuffling; seed before building the model
    for a reproducible init. The built-in datasets' split uses `cfg.seed or 0`, the same for
    every trial. DataLoaders from a dataset factory are used as they are. The model ends on
    the CPU in eval mode. Exceptions (from training or `report`) propagate; Ctrl-C stays a
    KeyboardInterrupt.

    >>> cfg = TrainingEvaluatorSpec(type="classification", dataset="digits", max_epochs=2)
    >>> train_and_evaluate(model, cfg, report=print)  # doctest: +SKIP
    1 {'val_acc': 0.86, 'val_loss': 0.52}
    2 {'val_acc': 0.93, 'val_loss': 0.27}
    {'val_acc': 0.93, 'val_loss': 0.27, 'train_loss': 0.41}
    """
    seed = cfg.seed if seed is None else seed
    train_data, val_data = load_dataset(
        cfg.dataset, task=cfg.type, seed=cfg.seed or 0, base_dir=base_dir
    )
    if seed is not None:
        torch.manual_seed(seed)
    shuffle_seed = seed if seed is not None else int(torch.randint(2**62, ()).item())
    batch_size = resolved(cfg.batch_size, "batch_size")
    train_loader = make_batches(train_data, batch_size, shuffle=True, seed=shuffle_seed)
    val_loader = make_batches(val_data, max(batch_size, _VAL_BATCH_SIZE), shuffle=False)

    module = TaskModule(model, cfg, report=report, trial_dir=trial_dir)
    keep = cfg.keep_checkpoints != "none" and trial_dir is not None
    accelerator, devices = accelerator_for(device)
    with quiet_lightning():
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=devices,
            max_epochs=resolved(cfg.max_epochs, "max_epochs"),
            logger=False,
            enable_checkpointing=keep,
            callbacks=[_StateDictCheckpoint(cfg, Path(trial_dir))]
            if keep and trial_dir is not None else None,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            default_root_dir=str(trial_dir) if trial_dir is not None else None,
        )
        fit_quietly(trainer, module, train_loader, val_loader)
    model.eval()
    return {**module.history[-1], "train_loss": module.train_losses[-1]}


# --- the LightningModule --------------------------------------------------------------------


class TaskModule(pl.LightningModule):
    """Wraps the user's model: the loss, the optimizer, per-epoch metrics and reports."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: TrainingEvaluatorSpec,
        *,
        report: Report | None,
        trial_dir: Path | None,
    ):
        super().__init__()
        self.model = model
        self.automatic_optimization = False  # one plain step per batch, no closures
        self._cfg = cfg
        self._classification = cfg.type == "classification"
        self._report = report
        self._csv = Path(trial_dir) / "metrics.csv" if trial_dir is not None else None
        self._csv_mode = "w"  # the first epoch starts the file afresh (a rerun trial too)
        self.history: list[dict[str, float]] = []  # validation metrics, one dict per epoch
        self.train_losses: list[float] = []
        # Running sums, updated in place (nn.Module.__setattr__ is slow): [loss, samples] for
        # training, [loss, correct, samples, output elements] for validation.
        self._train_sums: list[Any] = [0.0, 0]
        self._val_sums: list[Any] = [0.0, 0, 0, 0]

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets this around every hook call, several times a step; nn.Module's
        # __setattr__ is slow, and a str is never a parameter, buffer or submodule.
        if name == "_current_fx_name":
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)

    def forward(self, x: Any) -> torch.Tensor:
        return self.model(x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        cfg = self._cfg
        params = self.model.parameters()
        name = resolved(cfg.optimizer, "optimizer")
        lr = resolved(cfg.learning_rate, "learning_rate")
        weight_decay = resolved(cfg.weight_decay, "weight_decay")
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
        optimizer = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
        return optimizer(params, lr=lr, weight_decay=weight_decay)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int):
        x, y = split_batch(batch)
        if x.device == device and y.device == device:
            return x, y
        return super().transfer_batch_to_device((x, y), device, dataloader_idx)

    def _loss(self, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self._classification:
            return F.cross_entropy(out, y, reduction=reduction)
        if y.shape != out.shape and y.numel() == out.numel():
            y = y.view_as(out)  # (N,) targets for an (N, 1) output
        return F.mse_loss(out, y.to(out.dtype), reduction=reduction)

    def on_train_epoch_start(self) -> None:
        self._train_sums[:] = [0.0, 0]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        # Plain PyTorch steps: the Trainer here is always 32-bit on one device, so Lightning's
        # precision/strategy wrappers (manual_backward, LightningOptimizer) would only add
        # hooks nobody listens to. One consequence: trainer.global_step stays 0, so do not
        # add step-based Trainer options (max_steps, val_check_interval in steps) without them.
        x, y = batch
        # configure_optimizers gives one optimizer (Lightning's type allows a list)
        optimizer = cast(torch.optim.Optimizer, self.optimizers(use_pl_optimizer=False))
        loss = self._loss(self.model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sums = self._train_sums
        sums[0] += loss.detach() * len(y)
        sums[1] += len(y)

    def on_validation_epoch_start(self) -> None:
        self._val_sums[:] = [0.0, 0, 0, 0]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = self.model(x)
        sums = self._val_sums
        sums[0] += self._loss(out, y, reduction="sum")
        if self._classification:
            sums[1] += (out.argmax(dim=1) == y).sum()
        sums[2] += len(y)
        sums[3] += out.numel()

    def on_train_epoch_end(self) -> None:
        # Lightning runs validation before this hook, so both halves of the epoch are done.
        epoch = self.current_epoch + 1
        train_loss = mean_of(*self._train_sums)
        loss_sum, correct, count, elements = self._val_sums
        if self._classification:
            metrics = {"val_acc": mean_of(correct, count), "val_loss": mean_of(loss_sum, count)}
        else:
            mse = mean_of(loss_sum, elements)
            metrics = {"val_mse": mse, "val_loss": mse}
        self.history.append(metrics)
        self.train_losses.append(train_loss)
        if self._csv is not None:
            write_csv_row(
                self._csv, {"epoch": epoch, "train_loss": train_loss, **metrics}, self._csv_mode
            )
            self._csv_mode = "a"
        if self._report is not None:
            self._report(epoch, dict(metrics))


def mean_of(total: torch.Tensor | float, count: int) -> float:
    """`total / count`, NaN when nothing was counted."""
    return float(total) / count if count else math.nan


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch as (inputs, targets)."""
    if isinstance(batch, tuple | list) and len(batch) == 2:
        return batch[0], batch[1]
    raise TrialError(
        f"the dataset must yield (inputs, targets) pairs, got a {type(batch).__name__}"
        + (f" of {len(batch)}" if isinstance(batch, tuple | list) else "")
    )


def write_csv_row(path: Path, row: dict[str, float], mode: str) -> None:
    """One row per epoch, flushed at once so a dashboard can follow a running trial."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if mode == "w":
            writer.writeheader()
        writer.writerow(row)


class _StateDictCheckpoint(Checkpoint):
    """Saves the user model's state dict: model.pt for the best epoch, epoch_<k>.pt for `all`.

    A `Checkpoint` callback, so Lightning calls it after the module's epoch-end hook.
    """

    def __init__(self, cfg: TrainingEvaluatorSpec, trial_dir: Path):
        self._all = cfg.keep_checkpoints == "all"
        self._metric, mode = DEFAULT_METRIC[cfg.type]
        self._sign = 1.0 if mode == "maximize" else -1.0
        self._best = -math.inf
        self._dir = trial_dir

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        module: TaskModule = pl_module  # type: ignore[assignment]
        epoch = len(module.history)
        value = self._sign * module.history[-1][self._metric]
        state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
        self._dir.mkdir(parents=True, exist_ok=True)
        if self._all:
            torch.save(state, self._dir / f"epoch_{epoch}.pt")
        if value > self._best:  # NaN never is
            self._best = value
            torch.save(state, self._dir / "model.pt")


# --- data -----------------------------------------------------------------------------------


class TensorBatches:
    """Batches of a TensorDataset by indexing its tensors: one gather per batch, not per sample.

    Shuffles with its own generator, so epochs are reproducible from the seed.
    """

    def __init__(self, dataset: TensorDataset, batch_size: int, *, shuffle: bool, seed: int):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self._generator)
        else:
            order = torch.arange(n)
        for index in order.split(self.batch_size):
            yield self.dataset[index]


def make_batches(data: Any, batch_size: int, *, shuffle: bool, seed: int = 0) -> Any:
    """A loader for `data`: DataLoaders pass through, TensorDatasets take the fast path."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, TensorDataset):
        return TensorBatches(data, batch_size, shuffle=shuffle, seed=seed)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


# --- Lightning plumbing ---------------------------------------------------------------------


def accelerator_for(device: str) -> tuple[str, Any]:
    """'cpu' | 'cuda' | 'cuda:1' | 'mps' -> Trainer's (accelerator, devices)."""
    kind, _, index = device.partition(":")
    if kind == "cpu":
        return "cpu", 1
    if kind in ("cuda", "gpu"):
        return "gpu", [int(index)] if index else 1
    if kind == "mps":
        return "mps", 1
    raise ValueError(f"unknown device {device!r}: expected cpu, cuda, cuda:<index> or mps")


def fit_quietly(trainer: pl.Trainer, module: TaskModule, train: Any, val: Any) -> None:
    """`trainer.fit`, except that Ctrl-C stays a KeyboardInterrupt.

    Lightning turns KeyboardInterrupt into `sys.exit(1)`; a worker (and `nas trial`, which
    exits 130) must see the interrupt itself.
    """
    try:
        trainer.fit(module, train_dataloaders=train, val_dataloaders=val)
    except SystemExit:
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise


_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning_fabric")


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's banners ('GPU available', tips) and its warnings while training."""
    from lightning_fabric.utilities.warnings import PossibleUserWarning

    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=PossibleUserWarning)
            warnings.filterwarnings("ignore", module=r"(pytorch_lightning|lightning_fabric)\b")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
