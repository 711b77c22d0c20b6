"""Cost metrics of a frozen model, measured without training: `params`, `flops`, `latency_ms`.

They serve as objectives (`objective: [{metric: val_acc}, {metric: params, mode: minimize}]`)
and as constraints (`constraints: {max_params, max_flops, max_latency_ms}`).

- `params`: the number of parameters (`numel` summed over `model.parameters()`).
- `flops`: the floating-point operations of one forward pass of one input of `input_shape`
  (batch size 1), counted by torch's FlopCounterMode (a multiply-add counts 2).
- `latency_ms`: the median wall time of one forward pass of a batch of `batch_size` zeros of
  `input_shape`, in eval mode without gradients, on the trial's device, after warm-up passes
  (CUDA synchronized around each pass). Measured in the worker, so it shares the machine with
  the other running trials: compare latencies of one experiment, not across machines.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

COST_METRICS = ("params", "flops", "latency_ms")
LATENCY_WARMUP = 3   # forward passes before timing (allocator, kernels, caches)
LATENCY_REPEATS = 10  # timed forward passes; their median is the latency


def count_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: Any, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass of one input of `input_shape` (no batch dimension)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with counter, torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def measure_latency(model: Any, input_shape: Sequence[int], batch_size: int = 1,
                    device: str = "cpu", warmup: int = LATENCY_WARMUP,
                    repeats: int = LATENCY_REPEATS) -> float:
    """Median milliseconds of one forward pass of `batch_size` inputs on `device` (the model
    is moved there and back)."""
    import torch

    was_training = model.training
    before = next((p.device for p in model.parameters()), torch.device("cpu"))
    target = torch.device(device)
    cuda = target.type == "cuda"
    model.to(target).eval()
    batch = torch.zeros(batch_size, *input_shape, device=target)
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                if cuda:
                    torch.cuda.synchronize(target)
                start = time.perf_counter()
                model(batch)
                if cuda:
                    torch.cuda.synchronize(target)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000.0)
    finally:
        model.to(before).train(was_training)
    return statistics.median(times)


@dataclass(frozen=True)
class CostRequest:
    """A cost metric to measure in the worker, and how (`input_shape` None: the evaluator's
    dataset decides, see `measure_costs`)."""

    metric: str                               # params | flops | latency_ms
    input_shape: tuple[int, ...] | None = None
    batch_size: int = 1


def measure_costs(model: Any, requests: Sequence[CostRequest], *, device: str = "cpu",
                  default_shape: Callable[[], Sequence[int] | None] | None = None
                  ) -> dict[str, float]:
    """The requested cost metrics of `model`, by metric name."""
    out: dict[str, float] = {}
    for request in requests:
        if request.metric == "params":
            out["params"] = float(count_params(model))
            continue
        shape = request.input_shape or (default_shape() if default_shape else None)
        if not shape:
            raise ValueError(f"{request.metric} needs an input shape: give input_shape")
        if request.metric == "flops":
            out["flops"] = float(count_flops(model, shape))
        elif request.metric == "latency_ms":
            out["latency_ms"] = measure_latency(model, shape, request.batch_size, device)
    return {k: v for k, v in out.items() if math.isfinite(v)}
