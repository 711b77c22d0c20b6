"""The evaluators of a one-shot experiment's phases, as they travel to the workers.

Both build their own model (`build_model`) instead of the frozen architecture the engine
would build, and import their heavy machinery only in the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nas_cli.evaluator import metrics_of

Report = Callable[[int, dict[str, float]], None]


class SupernetTraining:
    """Phase 1's single job: build the supernet of the payload's space and train it as
    `method` says (see `train_supernet`). It checkpoints every epoch in the experiment's
    `supernet/` folder (`folder`) where this worker sees it (this machine, shared storage), so
    that an interrupted run resumes; elsewhere in the job's own folder, whose files come back
    when it ends."""

    def __init__(self, config: Any, base_dir: Path | None, *, epochs: int, seed: int | None,
                 fair: bool, eval_paths: int, recalibration_batches: int,
                 folder: Path | None = None, method: str = "spos", params: Any = None):
        self.config = config
        self.folder = folder
        self.base_dir = base_dir
        self.epochs = epochs
        self.seed = seed
        self.fair = fair
        self.eval_paths = eval_paths
        self.recalibration_batches = recalibration_batches
        self.method = method
        self.params = params

    def build_model(self, payload: Any, arch: dict[str, Any]) -> Any:
        from nas_cli.oneshot._supernet import Supernet

        return Supernet(payload.model_class, payload.init_kwargs, mutators=payload.mutators,
                        seed=self.seed)

    def evaluate(self, model: Any, arch: dict[str, Any], *, metric: str,
                 report: Report | None = None, trial_dir: Path | None = None,
                 device: str = "cpu") -> dict[str, float]:
        from nas_cli.oneshot._train import train_supernet

        folder = self.folder if self.folder is not None and self.folder.is_dir() else trial_dir
        metrics = train_supernet(
            model, self.config, epochs=self.epochs, folder=folder, seed=self.seed,
            fair=self.fair, eval_paths=self.eval_paths,
            recalibration_batches=self.recalibration_batches, report=report,
            base_dir=self.base_dir, device=device, method=self.method, params=self.params)
        return metrics_of({k: v for k, v in metrics.items() if k != "epoch"}, metric)


_loaded: dict[str, Any] = {}  # per worker process: the supernet, the judge


def load_supernet(payload: Any, checkpoint: Path) -> Any:
    """The supernet of `payload`'s space with the weights of `checkpoint` (built once per
    process and checkpoint version)."""
    import torch

    from nas_cli.errors import TrialError
    from nas_cli.oneshot._supernet import Supernet

    try:
        stamp = checkpoint.stat().st_mtime_ns
    except OSError:
        raise TrialError(f"the supernet checkpoint {checkpoint} is not readable here; on a Ray "
                         "cluster, one-shot search needs the experiment folder on storage "
                         "every node shares") from None
    key = f"{checkpoint}:{stamp}"
    if _loaded.get("supernet_key") != key:
        net = Supernet(payload.model_class, payload.init_kwargs, mutators=payload.mutators)
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state["supernet"])
        _loaded.update(supernet_key=key, supernet=net)
    return _loaded["supernet"]


class InheritedEvaluator:
    """Phase 2: scores an architecture without training it. The sub-network gets the weights
    it inherits from the trained supernet (loaded once per worker), its batch norm is
    recalibrated on a few training batches, then it is validated; its FLOPs (one sample) are
    counted. `known` adds metrics the driver knows per architecture (its probability under a
    learned distribution), keyed by `arch_key`."""

    def __init__(self, config: Any, base_dir: Path | None, checkpoint: Path,
                 recalibration_batches: int, known: dict[str, dict[str, float]] | None = None):
        self.config = config
        self.base_dir = base_dir
        self.checkpoint = Path(checkpoint)
        self.recalibration_batches = recalibration_batches
        self.known = dict(known or {})

    def build_model(self, payload: Any, arch: dict[str, Any]) -> Any:
        return load_supernet(payload, self.checkpoint).subnet(arch)

    def evaluate(self, model: Any, arch: dict[str, Any], *, metric: str,
                 report: Report | None = None, trial_dir: Path | None = None,
                 device: str = "cpu") -> dict[str, float]:
        from nas_cli.oneshot._inherit import SubnetJudge

        key = (repr(self.config), str(self.base_dir), self.recalibration_batches)
        if _loaded.get("judge_key") != key:
            _loaded.update(judge_key=key, judge=SubnetJudge(self.config, self.base_dir,
                                                            self.recalibration_batches))
        from nas_cli.evaluator import count_flops
        from nas_cli.strategy import arch_key

        judge = _loaded["judge"]
        model.to(device)
        metrics = judge(model, device)
        model.cpu()
        metrics["flops"] = float(count_flops(model, judge.input_shape()))
        metrics.update(self.known.get(arch_key(arch), {}))
        return metrics_of(metrics, metric)
