"""What each candidate of a supernet costs: a table measured once, before training, from which
the expected cost of an architecture distribution is computed (differentiably) at every
architecture step, and the cost of one architecture exactly where shapes do not depend on it.

The table is a tree. Profiling runs the supernet once on one input (eval mode, no gradients)
with every mixed module running *all* its candidates, one after the other, and passing the
active path's output on. Each run of a mixed module is a `Call`; for each of its candidates
it records the candidate's *own* cost (what runs inside it, minus the mixed modules nested in
it, which are calls of their own under that candidate):

- params: the candidate's parameters outside nested mixed modules (an argument set: its slice);
- flops: counted by torch's FlopCounterMode (matrix products and convolutions) for one sample;
- latency_ms: milliseconds of the candidate on this machine's training device, `batch_size`
  samples, the median of 10 timed passes after 3 warm-up passes (CUDA synchronized), as the
  cost metric `latency_ms` of a frozen model is measured.

An argument set's FLOPs are measured on its own input width (the input sliced or zero-padded
to it); elsewhere a candidate's cost is measured on the input the reference path gives it, so
where a choice upstream changes a later input's size (a stride, a pooling), the later costs are
those of the reference path's size.

    E[cost] = fixed + sum over top calls of E[call]
    E[call] = sum_i P(candidate i) * (own_i + sum over the calls nested in i of E[nested])
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nas_cli.evaluator import LATENCY_REPEATS, LATENCY_WARMUP
from nas_cli.oneshot._mixed import (
    ArgumentChoice,
    Mixed,
    MixedCell,
    MixedCopies,
    MixedLayer,
    MixedOperation,
    MixedRepeat,
)
from nas_cli.oneshot._weighted import Mixture, key_weights

METRICS = ("params", "flops", "latency_ms")


@dataclass
class Call:
    """One run of a mixed module: per candidate, its own cost and the calls nested in it.
    `labels`: the decision (one label), an argument set's labels (with `key_index`, see
    `ArgumentChoice.key_index`), or none (a cell's frame: one candidate, always taken)."""

    labels: list[str]
    own: list[dict[str, float]]
    children: list[list[Call]]
    key_index: list[int] | None = None

    def weights(self, probs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if not self.labels:
            return torch.ones(1)
        if self.key_index is None:
            return probs[self.labels[0]]
        index = torch.tensor(self.key_index, device=probs[self.labels[0]].device)
        return key_weights([probs[label] for label in self.labels], index, len(self.own))

    def expected(self, probs: Mapping[str, torch.Tensor], metric: str) -> torch.Tensor:
        weights = self.weights(probs)
        total = weights.new_zeros(())
        for i, (own, nested) in enumerate(zip(self.own, self.children)):
            cost = own[metric] + sum((c.expected(probs, metric) for c in nested),
                                     weights.new_zeros(()))
            total = total + weights[i] * cost
        return total

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": self.labels, "own": self.own,
                               "children": [[c.to_json() for c in cs] for cs in self.children]}
        if self.key_index is not None:
            out["key_index"] = self.key_index
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Call:
        return cls(list(data["labels"]), [dict(o) for o in data["own"]],
                   [[Call.from_json(c) for c in cs] for cs in data["children"]],
                   data.get("key_index"))


@dataclass
class CostTable:
    """The cost tree of a supernet (see the module's docstring)."""

    fixed: dict[str, float]
    calls: list[Call]
    metrics: list[str] = field(default_factory=lambda: ["params", "flops"])

    def expected(self, probs: Mapping[str, torch.Tensor], metric: str) -> torch.Tensor:
        """The expected cost under independent per-label distributions (differentiable)."""
        device = next(iter(probs.values())).device
        total = torch.tensor(float(self.fixed[metric]), device=device)
        for call in self.calls:
            total = total + call.expected(probs, metric)
        return total

    def of(self, arch: Mapping[str, Any], space: Any, metric: str) -> float:
        """The cost of one architecture (its labels one-hot; inactive ones never count)."""
        probs = {}
        for label, decision in space.decisions.items():
            n = len(decision.candidates)
            if label in arch:
                probs[label] = torch.nn.functional.one_hot(
                    torch.tensor(decision.index_of(arch[label])), n).float()
            else:
                probs[label] = torch.full((n,), 1.0 / n)
        return float(self.expected(probs, metric))

    def to_json(self) -> dict[str, Any]:
        return {"fixed": self.fixed, "metrics": self.metrics,
                "calls": [c.to_json() for c in self.calls]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostTable:
        return cls(dict(data["fixed"]), [Call.from_json(c) for c in data["calls"]],
                   list(data.get("metrics", ["params", "flops"])))


# --- parameters, counted from the modules ------------------------------------------------------
def own_params(module: nn.Module) -> int:
    """Parameters of `module` outside the mixed modules in it (a mixed module has none of
    its own here: its candidates count them); a module used twice counts once."""
    return 0 if isinstance(module, Mixed) else _params_under(module, set())


def _params_under(module: nn.Module, seen: set[int]) -> int:
    count = 0
    for param in module._parameters.values():
        if param is not None and id(param) not in seen:
            seen.add(id(param))
            count += param.numel()
    for child in module._modules.values():
        if child is not None and not isinstance(child, Mixed) and id(child) not in seen:
            seen.add(id(child))
            count += _params_under(child, seen)
    return count


def _candidate_params(module: Any, index: int) -> int:
    if isinstance(module, MixedLayer):
        return own_params(module.candidates[index])
    if isinstance(module, MixedRepeat):
        return sum(own_params(block) for block in module.blocks[: module.depths[index]])
    if isinstance(module, MixedCell):  # its pre- and postprocessor
        return _params_under(module, set())
    if isinstance(module, MixedOperation):
        key = list(module.arguments)[index]
        shapes = module._shapes.get(key, {})
        return sum(int(torch.Size(shapes[name]).numel()) for name in module._params
                   if name in shapes)
    if isinstance(module, MixedCopies):
        return own_params(module.copies[module._index[list(module.arguments)[index]]])
    return 0  # an InputChoice, a cell's input


# --- profiling ---------------------------------------------------------------------------------
class _Frame:
    def __init__(self, calls: list[Call]):
        self.calls = calls          # where calls started inside this frame go
        self.inclusive: dict[Call, tuple[float, float]] = {}


class Profiler(Mixture):
    """The mixture of a profiling pass: every candidate of every mixed module runs, measured."""

    profiling = True

    def __init__(self, space: Any, counter: Any = None, timer: Callable[[], float] | None = None):
        super().__init__("profile", {})
        self.space = space
        self.counter = counter      # a FlopCounterMode, or None
        self.timer = timer          # seconds, synchronized with the device, or None
        self.calls: list[Call] = []
        self.stack: list[list[Call]] = [self.calls]
        self.counted: dict[int, set[int]] = {}  # id(frame) -> modules whose params it counted
        self.totals: dict[int, tuple[float, float]] = {}  # id(call) -> (flops, seconds)

    def _now(self) -> tuple[float, float]:
        flops = float(self.counter.get_total_flops()) if self.counter is not None else 0.0
        return flops, (self.timer() if self.timer is not None else 0.0)

    def _measure(self, call: Call, run: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
        """Run one candidate of `call`: its output and own cost (nested calls subtracted)."""
        nested: list[Call] = []
        self.stack.append(nested)
        start = self._now()
        try:
            out = run()
        finally:
            self.stack.pop()
        end = self._now()
        flops, seconds = end[0] - start[0], end[1] - start[1]
        for child in nested:
            child_flops, child_seconds = self.totals[id(child)]
            flops, seconds = flops - child_flops, seconds - child_seconds
        call.children.append(nested)
        return out, {"flops": max(flops, 0.0), "latency_ms": max(seconds, 0.0) * 1000.0}

    def _run(self, call: Call, module: Any, chosen: int, n: int,
             one: Callable[[int], Any]) -> Any:
        frame = self.stack[-1]
        frame.append(call)
        counted = self.counted.setdefault(id(frame), set())
        again = id(module) in counted  # a module run twice in one frame: its params count once
        counted.add(id(module))
        start = self._now()
        result = None
        for i in range(n):
            out, own = self._measure(call, functools.partial(one, i))
            own["params"] = 0.0 if again else float(_candidate_params(module, i))
            call.own.append(own)
            if i == chosen:
                result = out
        end = self._now()
        self.totals[id(call)] = (end[0] - start[0], end[1] - start[1])
        return result

    def profile(self, module: Any, label: str | None, chosen: int,
                one: Callable[[int], Any]) -> Any:
        n = len(self.space.decisions[label].candidates) if label is not None else 1
        return self._run(Call([label] if label is not None else [], [], []), module, chosen,
                         n, one)

    def profile_arguments(self, op: ArgumentChoice, args: tuple, kwargs: dict) -> Any:
        keys = list(op.arguments)
        active = keys.index(op.active_key())

        def one(i: int) -> Any:
            if i == active:
                return op.forward_at(keys[i], *args, **kwargs)
            try:
                return op.forward_at(keys[i], *op.fit_input(keys[i], args), **kwargs)
            except Exception:  # noqa: BLE001 - an input this set cannot take: cost of the path's
                return op.forward_at(keys[active], *args, **kwargs)

        return self._run(Call(op.labels, [], [], op.key_index), op, active, len(keys), one)


def _profile_once(supernet: Any, x: Any, counter: Any, timer: Any) -> tuple[list[Call],
                                                                            tuple[float, float]]:
    profiler = Profiler(supernet.space, counter, timer)
    path = supernet.path
    path.mixture = profiler
    try:
        start = profiler._now()
        supernet(x)
        end = profiler._now()
    finally:
        path.mixture = None
    flops, seconds = end[0] - start[0], end[1] - start[1]
    for call in profiler.calls:
        flops -= profiler.totals[id(call)][0]
        seconds -= profiler.totals[id(call)][1]
    return profiler.calls, (max(flops, 0.0), max(seconds, 0.0) * 1000.0)


def measure_costs(supernet: Any, sample: torch.Tensor, *, latency_batch: torch.Tensor | None = None,
                  device: str = "cpu") -> CostTable:
    """Profile `supernet` (see the module docstring): params and FLOPs on `sample` (one
    input), latency on `latency_batch` when given. The supernet's mode, path and random state
    are left as they were."""
    from torch.utils.flop_counter import FlopCounterMode

    training = supernet.training
    supernet.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            counter = FlopCounterMode(display=False)
            with counter:
                calls, (fixed_flops, _) = _profile_once(supernet, sample.to(device), counter, None)
            fixed = {"params": float(own_params(supernet.model)), "flops": fixed_flops}
            metrics = ["params", "flops"]
            if latency_batch is not None:
                fixed["latency_ms"] = _time_calls(supernet, latency_batch.to(device), calls, device)
                metrics.append("latency_ms")
    finally:
        supernet.train(training)
    return CostTable(fixed, calls, metrics)


def _time_calls(supernet: Any, batch: torch.Tensor, calls: list[Call], device: str) -> float:
    """Time every candidate of every call (medians over timed passes) into `calls`; returns
    the fixed part's milliseconds."""
    cuda = device.startswith("cuda")

    def timer() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    for _ in range(LATENCY_WARMUP):
        _profile_once(supernet, batch, None, timer)
    passes = [_profile_once(supernet, batch, None, timer) for _ in range(LATENCY_REPEATS)]
    flat = [list(_walk(timed)) for timed, _ in passes]
    for position, call in enumerate(_walk(calls)):
        for i, own in enumerate(call.own):
            own["latency_ms"] = statistics.median(f[position].own[i]["latency_ms"] for f in flat)
    return statistics.median(fixed[1] for _, fixed in passes)


def _walk(calls: list[Call]) -> Any:
    for call in calls:
        yield call
        for nested in call.children:
            yield from _walk(nested)

