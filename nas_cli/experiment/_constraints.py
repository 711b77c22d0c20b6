"""Constraints on architectures (beyond NNI): too many parameters or FLOPs -> never trained.

Checked in the driver before a trial is started: the model is frozen, its parameters counted
and, for `max_flops`, one forward pass of `input_shape` counted by torch's FlopCounterMode.
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy import arch_key


class Constraints:
    def __init__(self, config: Any, payload: Any):
        self.config = config
        self.payload = payload
        self._cache: dict[str, str | None] = {}

    def measure(self, arch: dict[str, Any]) -> tuple[int, int | None]:
        """(parameter count, FLOPs or None) of an architecture."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from nas_cli.space import freeze

        model = freeze(self.payload.model_class, arch, mutators=self.payload.mutators,
                       **self.payload.init_kwargs)
        params = sum(p.numel() for p in model.parameters())
        flops = None
        if self.config.max_flops is not None and self.config.input_shape:
            model.eval()
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(torch.zeros(1, *self.config.input_shape))
            flops = int(counter.get_total_flops())
        return params, flops

    def violation(self, arch: dict[str, Any]) -> str | None:
        """Why `arch` breaks the constraints, or None when it is feasible."""
        key = arch_key(arch)
        if key not in self._cache:
            params, flops = self.measure(arch)
            reason = None
            if self.config.max_params is not None and params > self.config.max_params:
                reason = f"{params:,} parameters > max_params {self.config.max_params:,}"
            elif flops is not None and flops > self.config.max_flops:
                reason = f"{flops:,} FLOPs > max_flops {self.config.max_flops:,}"
            self._cache[key] = reason
        return self._cache[key]


def feasible_share(space: Any, constraints: Constraints, sample: int = 200,
                   seed: int = 0) -> tuple[int, int, bool]:
    """(feasible, checked, exact): every architecture when the space is small, else a sample."""
    import random

    if space.size <= sample:
        archs, exact = list(space), True
    else:
        rng = random.Random(seed)
        archs, exact = [space.sample(rng) for _ in range(sample)], False
    feasible = sum(1 for arch in archs if constraints.violation(arch) is None)
    return feasible, len(archs), exact
