"""Constraints on architectures (beyond NNI): too many parameters or FLOPs -> never trained.

Checked in the driver before a trial is started: the model is frozen, its parameters counted
and, for `max_flops`, one forward pass of `input_shape` counted (`nas_cli.evaluator._cost`).
`max_latency_ms` is measured on the trial's device, so the worker checks it (see `_trial`).
"""

from __future__ import annotations

from typing import Any

from nas_cli.strategy import arch_key


class Constraints:
    def __init__(self, config: Any, payload: Any):
        self.config = config
        self.payload = payload
        self._cache: dict[str, tuple[str | None, float]] = {}

    def measure(self, arch: dict[str, Any]) -> tuple[int, int | None]:
        """(parameter count, FLOPs or None) of an architecture."""
        from nas_cli.evaluator import count_flops, count_params
        from nas_cli.space import freeze

        model = freeze(self.payload.model_class, self.payload.model_arch(arch),
                       mutators=self.payload.mutators, **self.payload.init_kwargs)
        flops = None
        if self.config.max_flops is not None and self.config.input_shape:
            flops = count_flops(model, self.config.input_shape)
        return count_params(model), flops

    def _check(self, arch: dict[str, Any]) -> tuple[str | None, float]:
        key = arch_key(self.payload.model_arch(arch))  # searched hyperparameters aside
        if key not in self._cache:
            params, flops = self.measure(arch)
            reason, excess = None, 0.0
            if self.config.max_params is not None and params > self.config.max_params:
                reason = f"{params:,} parameters > max_params {self.config.max_params:,}"
                excess = params / self.config.max_params - 1
            if flops is not None and flops > self.config.max_flops:
                reason = reason or f"{flops:,} FLOPs > max_flops {self.config.max_flops:,}"
                excess += flops / self.config.max_flops - 1
            self._cache[key] = (reason, excess)
        return self._cache[key]

    def violation(self, arch: dict[str, Any]) -> str | None:
        """Why `arch` breaks the constraints, or None when it is feasible."""
        return self._check(arch)[0]

    def excess(self, arch: dict[str, Any]) -> float:
        """How far `arch` exceeds the limits, relative (0 when feasible): the sum over limits
        of value / limit - 1."""
        return self._check(arch)[1]


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
