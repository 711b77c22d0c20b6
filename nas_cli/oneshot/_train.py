"""Phase 1 of SPOS: train the supernet with PyTorch Lightning, one uniformly sampled path per
step, on the evaluator's data and optimizer.

At the end of every epoch a few fixed paths are validated (inherited weights, batch norm
recalibrated) and the whole training state is checkpointed atomically in the run's folder
(`checkpoint.pt`: weights, optimizer, random states, history; `progress.json` for readers),
so a run killed at any moment resumes from its last finished epoch and continues exactly as
if it had not stopped.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from nas_cli._files import atomic_write_json
from nas_cli.errors import TrialError
from nas_cli.evaluator._datasets import load_dataset
from nas_cli.evaluator._lightning import (
    _accelerator,
    _batches,
    _fit,
    _mean,
    _pair,
    _quiet,
    _TaskModule,
    _TensorBatches,
    _write_csv_row,
)
from nas_cli.oneshot._files import CHECKPOINT, PROGRESS
from nas_cli.oneshot._inherit import SubnetJudge
from nas_cli.oneshot._supernet import Supernet

Report = Callable[[int, dict[str, float]], None]


class _SupernetModule(_TaskModule):
    """The training evaluator's module, with a freshly sampled path before every step."""

    def __init__(self, supernet: Supernet, cfg: Any, sample: Callable[[], dict[str, Any]],
                 epoch_end: Callable[[_SupernetModule], None], optimizer_state: Any = None):
        super().__init__(supernet, cfg, report=None, trial_dir=None)
        self._sample = sample
        self._epoch_end = epoch_end
        self._optimizer_state = optimizer_state

    def on_train_start(self) -> None:
        if self._optimizer_state is not None:  # resumed: Adam's moments continue too
            self.optimizers(use_pl_optimizer=False).load_state_dict(self._optimizer_state)
            self._optimizer_state = None

    def training_step(self, batch: Any, batch_idx: int) -> None:
        self.model.activate(self._sample())
        super().training_step(batch, batch_idx)

    def on_train_epoch_end(self) -> None:  # no validation loop: the epoch end validates paths
        self._epoch_end(self)


def train_supernet(
    supernet: Supernet,
    cfg: Any,
    *,
    epochs: int,
    folder: Path | None = None,
    seed: int | None = None,
    fair: bool = True,
    eval_paths: int = 3,
    recalibration_batches: int = 10,
    report: Report | None = None,
    base_dir: Path | None = None,
    device: str = "cpu",
) -> dict[str, float]:
    """Train `supernet` for `epochs` epochs in all (continuing from `folder`'s checkpoint);
    returns the last epoch's metrics: the mean validation metrics of `eval_paths` fixed paths
    and `train_loss`. `report(epoch, metrics)` follows each epoch, after its checkpoint."""
    state = _load(folder)
    if state is None:
        seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        torch.manual_seed(seed)
        state = {"epoch": 0, "seed": seed, "history": [],
                 "path_rng": random.Random(seed).getstate()}
    else:
        supernet.load_state_dict(state["supernet"])
        torch.set_rng_state(state["torch_rng"])
    seed = state["seed"]
    if state["epoch"] >= epochs:
        return dict(state["history"][-1]) if state["history"] else {}
    paths = random.Random(seed + 1)
    watched = [supernet.sample(paths, fair=fair) for _ in range(eval_paths)]
    path_rng = random.Random()
    path_rng.setstate(_as_state(state["path_rng"]))
    train_data, _ = load_dataset(cfg.dataset, task=cfg.type, seed=cfg.seed or 0, base_dir=base_dir)
    batch = _pair(next(iter(_batches(train_data, cfg.batch_size, shuffle=False))))[0]
    supernet.to(device).check_exact(batch.to(device), archs=watched)
    supernet.cpu()
    train_loader = _batches(train_data, cfg.batch_size, shuffle=True, seed=seed)
    if isinstance(train_loader, _TensorBatches) and "shuffle_rng" in state:
        train_loader._generator.set_state(state["shuffle_rng"])
    judge = SubnetJudge(cfg, base_dir, recalibration_batches)
    history: list[dict[str, Any]] = state["history"]
    first = state["epoch"]
    params = sum(p.numel() for p in supernet.parameters())

    def epoch_end(module: _SupernetModule) -> None:
        epoch = first + module.current_epoch + 1
        train_loss = _mean(*module._train_sums)
        if not math.isfinite(train_loss):
            raise TrialError(f"supernet training diverged: the training loss is {train_loss} in "
                             f"epoch {epoch}; lower evaluator.learning_rate (the checkpoint of "
                             f"epoch {epoch - 1} is kept)")
        scores = [judge(supernet.subnet(arch), device) for arch in watched]
        metrics = {key: sum(s[key] for s in scores) / len(scores) for key in scores[0]}
        row = {"epoch": epoch, "train_loss": train_loss, **metrics}
        history.append(row)
        if folder is not None:
            _save(folder, {
                "epoch": epoch, "seed": seed, "history": history,
                "supernet": {k: v.detach().cpu() for k, v in supernet.state_dict().items()},
                "optimizer": module.optimizers(use_pl_optimizer=False).state_dict(),
                "path_rng": path_rng.getstate(), "torch_rng": torch.get_rng_state(),
                **({"shuffle_rng": train_loader._generator.get_state()}
                   if isinstance(train_loader, _TensorBatches) else {}),
            })
            _write_csv_row(folder / "metrics.csv", row, "a" if epoch > 1 else "w")
            atomic_write_json(folder / PROGRESS, {"epochs_done": epoch, "epochs": epochs,
                                                  "params": params, "history": history})
        if report is not None:
            report(epoch, dict(row))

    def sample() -> dict[str, Any]:
        return supernet.sample(path_rng, fair=fair)

    module = _SupernetModule(supernet, cfg, sample, epoch_end, state.get("optimizer"))
    accelerator, devices = _accelerator(device)
    with _quiet():
        trainer = pl.Trainer(
            accelerator=accelerator, devices=devices, max_epochs=epochs - first, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            num_sanity_val_steps=0, limit_val_batches=0,
            default_root_dir=str(folder) if folder is not None else None,
        )
        _fit(trainer, module, train_loader, None)
    supernet.cpu()
    return dict(history[-1])


def _as_state(value: Any) -> Any:
    """A `random.Random` state back from its saved form (lists where tuples were)."""
    if isinstance(value, list):
        return tuple(_as_state(v) for v in value)
    return value


def _load(folder: Path | None) -> dict[str, Any] | None:
    if folder is None or not (Path(folder) / CHECKPOINT).is_file():
        return None
    try:
        return torch.load(Path(folder) / CHECKPOINT, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a damaged file: say so rather than start over
        raise TrialError(f"cannot read the supernet checkpoint {Path(folder) / CHECKPOINT} "
                         f"({type(exc).__name__}: {exc}); delete it to train from scratch") from None


def _save(folder: Path, state: dict[str, Any]) -> None:
    """The checkpoint through a temp file and a rename: a kill leaves the previous one."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{CHECKPOINT}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / CHECKPOINT)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
