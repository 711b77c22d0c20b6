"""Phase 1 of a one-shot run: train the supernet with PyTorch Lightning on the evaluator's
data and optimizer, as the method says (`_methods`): SPOS one uniformly sampled path per step;
the learned methods alternate weight steps on training batches with architecture steps on
validation batches.

At the end of every epoch a few architectures are validated on inherited weights (batch norm
recalibrated): SPOS's fixed paths, or the architecture the learned distribution derives; then
the whole training state is checkpointed atomically in the run's folder (`checkpoint.pt`:
weights, optimizers, the method's state, random states, history; `progress.json` for
readers), so a run killed at any moment resumes from its last finished epoch and continues
exactly as if it had not stopped.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytorch_lightning as pl
import torch

from nas_cli._files import atomic_write_json
from nas_cli.errors import SpaceError, TrialError
from nas_cli.evaluator import (
    TaskModule,
    TensorBatches,
    accelerator_for,
    fit_quietly,
    load_dataset,
    make_batches,
    mean_of,
    quiet_lightning,
    split_batch,
    write_csv_row,
)
from nas_cli.oneshot._files import CHECKPOINT, PROGRESS
from nas_cli.oneshot._inherit import SubnetJudge
from nas_cli.oneshot._methods import (
    LEARNED_METHODS,
    SPOS,
    Learned,
    check_method,
    frozen_norms,
    param_free,
)
from nas_cli.oneshot._supernet import Supernet

Report = Callable[[int, dict[str, float]], None]


class _SupernetModule(TaskModule):
    """The training evaluator's module, stepping as the method says."""

    def __init__(self, supernet: Supernet, cfg: Any, method: Any, epochs: tuple[int, int],
                 epoch_end: Callable[[_SupernetModule], None], optimizer_state: Any = None,
                 grad_clip: float | None = None, warmup: int = 0):
        super().__init__(supernet, cfg, report=None, trial_dir=None)
        self.method = method
        self._first, self._epochs = epochs
        self._epoch_end = epoch_end
        self._optimizer_state = optimizer_state
        self._grad_clip = grad_clip
        self._warmup = warmup
        if isinstance(method, Learned):
            self.dist = method.dist  # moves to the device with the module

    def _optimizer(self) -> torch.optim.Optimizer:
        # configure_optimizers gives one optimizer (Lightning's type allows a list)
        return cast(torch.optim.Optimizer, self.optimizers(use_pl_optimizer=False))

    def on_train_start(self) -> None:
        if self._optimizer_state is not None:  # resumed: Adam's moments continue too
            self._optimizer().load_state_dict(self._optimizer_state)
            self._optimizer_state = None
        if isinstance(self.method, Learned):
            self.method.on_device()

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self.method.epoch_start(self._first + self.current_epoch, self._epochs)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int):
        if isinstance(self.method, Learned):  # (training batch, validation batch)
            return tuple(super(_SupernetModule, self).transfer_batch_to_device(b, device, 0)
                         for b in batch)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        if not isinstance(self.method, Learned):
            self.method.weight_path()
            super().training_step(batch, batch_idx)
            return
        train, val = batch
        method = self.method
        try:
            optimizer = self._optimizer()
            if self._first + self.current_epoch >= self._warmup:
                with frozen_norms(self.model):
                    method.arch_step(self._loss, val, train=train,
                                     weight_lr=float(optimizer.param_groups[0]["lr"]))
                method.clear()
            method.weight_path()
            x, y = train
            loss = self._loss(self.model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self._grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self._grad_clip)
            optimizer.step()
        finally:
            method.clear()
        sums = self._train_sums
        sums[0] += loss.detach() * len(y)
        sums[1] += len(y)

    def on_train_epoch_end(self) -> None:  # no validation loop: the epoch end validates paths
        self._epoch_end(self)


class _Paired:
    """(training batch, validation batch) pairs for a learned method: the validation loader
    restarts whenever it runs out (and at every epoch)."""

    def __init__(self, train: Any, val: Any):
        self.train, self.val = train, val

    def __len__(self) -> int:
        return len(self.train)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        val = iter(self.val)
        for batch in self.train:
            try:
                other = next(val)
            except StopIteration:
                val = iter(self.val)
                other = next(val)
            yield split_batch(batch), split_batch(other)


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
    method: str = "spos",
    params: Any = None,
) -> dict[str, float]:
    """Train `supernet` for `epochs` epochs in all (continuing from `folder`'s checkpoint);
    returns the last epoch's metrics: the mean validation metrics of the watched paths
    (SPOS: `eval_paths` fixed ones; a learned `method`: the derived architecture) and
    `train_loss`. `params`: a learned method's strategy parameters. `report(epoch, metrics)`
    follows each epoch, after its checkpoint."""
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
    train_data, val_data = load_dataset(cfg.dataset, task=cfg.type, seed=cfg.seed or 0,
                                        base_dir=base_dir)
    batch = split_batch(next(iter(make_batches(train_data, cfg.batch_size, shuffle=False))))[0]
    if method == "spos":
        steps: Any = SPOS(supernet, seed=seed, fair=fair, eval_paths=eval_paths)
        steps.load_state_dict(state)
        checked = steps.watched
    else:
        check_method(supernet, method, params)
        checked = [supernet.sample(random.Random(seed + 1)) for _ in range(2)]
    supernet.to(device).check_exact(batch.to(device), archs=checked)
    if method != "spos":
        steps = _learned(supernet, method, params, state, batch, device)
    supernet.cpu()
    train_loader = make_batches(train_data, cfg.batch_size, shuffle=True, seed=seed)
    if isinstance(train_loader, TensorBatches) and "shuffle_rng" in state:
        train_loader._generator.set_state(state["shuffle_rng"])
    loader: Any = train_loader
    if isinstance(steps, Learned):
        val_loader = make_batches(val_data, cfg.batch_size, shuffle=True, seed=seed + 2)
        if isinstance(val_loader, TensorBatches) and "val_shuffle_rng" in state:
            val_loader._generator.set_state(state["val_shuffle_rng"])
        loader = _Paired(train_loader, val_loader)
    judge = SubnetJudge(cfg, base_dir, recalibration_batches)
    history: list[dict[str, Any]] = state["history"]
    extras: dict[str, Any] = state.get("progress_extras", {})
    first = state["epoch"]
    params_count = sum(p.numel() for p in supernet.parameters())

    def epoch_end(module: _SupernetModule) -> None:
        epoch = first + module.current_epoch + 1
        train_loss = mean_of(*module._train_sums)
        if not math.isfinite(train_loss):
            raise TrialError(f"supernet training diverged: the training loss is {train_loss} in "
                             f"epoch {epoch}; lower evaluator.learning_rate (the checkpoint of "
                             f"epoch {epoch - 1} is kept)")
        scores = [judge(supernet.subnet(arch), device) for arch in steps.watched]
        metrics = {key: sum(s[key] for s in scores) / len(scores) for key in scores[0]}
        row = {"epoch": epoch, "train_loss": train_loss, **metrics, **steps.report()}
        history.append(row)
        if isinstance(steps, Learned):
            extras.update(_learned_progress(steps, params, epoch, extras))
        if folder is not None:
            _save(folder, {
                "epoch": epoch, "seed": seed, "history": history,
                "supernet": {k: v.detach().cpu() for k, v in supernet.state_dict().items()},
                "optimizer": module._optimizer().state_dict(),
                **({"method": _method_state(steps)} if isinstance(steps, Learned)
                   else steps.state_dict()),
                "torch_rng": torch.get_rng_state(), "progress_extras": extras,
                **({"shuffle_rng": train_loader._generator.get_state()}
                   if isinstance(train_loader, TensorBatches) else {}),
                **({"val_shuffle_rng": loader.val._generator.get_state()}
                   if isinstance(loader, _Paired) and isinstance(loader.val, TensorBatches)
                   else {}),
            })
            write_csv_row(folder / "metrics.csv", {k: v for k, v in row.items()
                                                   if not isinstance(v, dict)},
                          "a" if epoch > 1 else "w")
            atomic_write_json(folder / PROGRESS, {"epochs_done": epoch, "epochs": epochs,
                                                  "params": params_count, "history": history,
                                                  "method": method, **extras})
        if report is not None:
            report(epoch, {k: v for k, v in row.items() if isinstance(v, int | float)})

    module = _SupernetModule(
        supernet, cfg, steps, (first, epochs), epoch_end, state.get("optimizer"),
        grad_clip=getattr(params, "grad_clip", None) if isinstance(steps, Learned) else None,
        warmup=getattr(params, "warmup_epochs", 0))
    accelerator, devices = accelerator_for(device)
    with quiet_lightning():
        trainer = pl.Trainer(
            accelerator=accelerator, devices=devices, max_epochs=epochs - first, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            num_sanity_val_steps=0, limit_val_batches=0,
            default_root_dir=str(folder) if folder is not None else None,
        )
        fit_quietly(trainer, module, loader, None)
    supernet.cpu()
    return dict(history[-1])


def _learned(supernet: Supernet, name: str, params: Any, state: dict[str, Any],
             batch: torch.Tensor, device: str) -> Learned:
    """The learned method, its cost table measured (or restored: latency is measured once),
    checked on one batch in its own mode (candidates that cannot be summed fail here)."""
    from nas_cli.oneshot._cost import CostTable, measure_costs

    saved = state.get("method")
    if saved is not None and saved.get("cost") is not None:
        cost: CostTable | None = CostTable.from_json(saved["cost"])
    else:
        penalty = params.penalty
        latency = None
        if penalty is not None and penalty.metric == "latency_ms":
            latency = batch[: penalty.latency_batch_size]
        cost = measure_costs(supernet, batch[:1], latency_batch=latency, device=device)
    method = LEARNED_METHODS[name](supernet, params, cost)
    if saved is not None:
        method.load_state_dict(saved)
    training = supernet.training
    supernet.eval()
    method.dist.to(device)
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            method.weight_path()
            supernet(batch[:2].to(device))
    except SpaceError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's forward, in the method's mode
        raise SpaceError(f"one-shot {name}: the supernet fails in {name}'s mode "
                         f"({type(exc).__name__}: {exc})") from None
    finally:
        method.clear()
        method.dist.cpu()
        supernet.train(training)
    return method


def _method_state(method: Learned) -> dict[str, Any]:
    return {**method.state_dict(),
            "cost": method.cost.to_json() if method.cost is not None else None}


def _learned_progress(method: Learned, params: Any, epoch: int,
                      extras: dict[str, Any]) -> dict[str, Any]:
    """What readers see of the learned distribution after `epoch`: the derived architecture
    and the most probable ones, the probabilities per label over the epochs, and how much of
    the derived architecture is parameter-free operations."""
    derived = method.dist.derived()
    top = method.dist.top(params.search_trials)
    if not top or top[0][0] != derived:  # the derived architecture always comes first
        top = [(derived, method.dist.probability(derived))] + [t for t in top if t[0] != derived]
    free = param_free(method.supernet)
    ops = [label for label in derived if label in free]
    chosen = [str(derived[label]) for label in ops
              if free[label][method.supernet.space.decisions[label].index_of(derived[label])]]
    weights = list(extras.get("arch_weights", []))
    weights.append({"epoch": epoch, "probs": method.dist.snapshot()})
    return {
        "derived": derived,
        "top": [{"arch": arch, "probability": round(p, 8)}
                for arch, p in top[: params.search_trials]],
        "arch_weights": weights,
        "param_free": {"ops": len(ops), "count": len(chosen),
                       "chosen": {name: chosen.count(name) for name in sorted(set(chosen))}},
    }


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
