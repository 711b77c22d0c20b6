"""Weights of a one-shot search trial for `nas export --format model`: the sub-network with
the weights it inherits from the experiment's trained supernet, batch norm recalibrated as the
trial did (same batches), so the exported model scores what the trial scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas_cli.errors import UsageError
from nas_cli.oneshot._files import CHECKPOINT, SUPERNET_DIR


class InheritedWeights:
    """Builds the supernet of experiment `path` once; `save(arch, file)` writes a state dict."""

    def __init__(self, path: Path):
        from nas_cli.experiment import build_payload
        from nas_cli.spec import load_spec, one_shot_params
        from nas_cli.store import SPEC, read_results

        checkpoint = path / SUPERNET_DIR / CHECKPOINT
        if not checkpoint.is_file():
            raise UsageError(f"experiment {path.name} has no trained supernet ({checkpoint} is "
                             "missing): finish it with `nas resume` first")
        spec_dir = read_results(path).spec_dir
        spec = load_spec(path / SPEC, base_dir=Path(spec_dir) if spec_dir else None)
        self.payload, _ = build_payload(spec)
        self.checkpoint = checkpoint
        self.config = spec.evaluator
        self.base_dir = spec.base_dir
        self.batches = one_shot_params(spec).bn_recalibration_batches
        self._judge: Any = None

    def save(self, arch: dict[str, Any], file: Path) -> None:
        import torch

        from nas_cli.oneshot._evaluators import load_supernet
        from nas_cli.oneshot._inherit import SubnetJudge

        if self._judge is None:
            self._judge = SubnetJudge(self.config, self.base_dir, self.batches)
        model = load_supernet(self.payload, self.checkpoint).subnet(arch)
        self._judge(model, "cpu")
        torch.save(model.state_dict(), file)
