"""How a mixed module combines its candidates when a method weighs them instead of running
one path (the methods that learn a distribution over architectures).

A `Mixture` on the supernet's active path holds, for each decision label, a weight per
candidate (in the order of the decision's candidates) and a mode:

- `soft` (DARTS, soft Gumbel-softmax): every candidate runs; the output is their weighted sum.
- `hard` (hard Gumbel-softmax): the path's candidate runs; its output is multiplied by its
  weight, which is 1 in value and carries the straight-through gradient.
- `gate` (ProxylessNAS's binary gates): the path's candidate runs; in the backward pass every
  candidate's output on the same input gives its weight the gradient dL/dw_i = <dL/dy, y_i>.

Without a mixture (or for a label it does not weigh) a mixed module runs its path's candidate,
as SPOS does. A `Profiler` (see `_cost`) is a mixture too: it runs every candidate once to
measure what each costs, and passes the path's output on.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch

from nas_cli.errors import SpaceError

SOFT, HARD, GATE = "soft", "hard", "gate"
SUMMING = "darts and gumbel_darts with hard: false"  # the methods that sum candidates
SINGLE_PATH_METHODS = "gumbel_darts (hard: true), enas or spos"


class Mixture:
    """One step's weights: `weights[label]` is a tensor over that decision's candidates."""

    profiling = False

    def __init__(self, mode: str, weights: dict[str, torch.Tensor]):
        self.mode = mode
        self.weights = weights

    # A profiling mixture (`profiling` True: nas_cli.oneshot._cost.Profiler) measures every
    # candidate instead; mixed modules hand it their run.
    def profile(self, module: Any, label: str | None, chosen: int,
                one: Callable[[int], Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not profile")

    def profile_arguments(self, op: Any, args: tuple, kwargs: dict) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not profile")


def combine(mixture: Mixture | None, label: str | None, chosen: int,
            one: Callable[[int], Any], every: Callable[[], list[Any]] | None = None,
            *, module: Any = None) -> Any:
    """The output of a choice among candidates: `one(i)` computes candidate i, `every()` all
    of them (default: `one` for each); `chosen` is the active path's candidate."""
    if mixture is not None and mixture.profiling:
        return mixture.profile(module, label, chosen, one)
    weights = None if mixture is None or label is None else mixture.weights.get(label)
    if mixture is None or label is None or weights is None:
        return one(chosen)
    if mixture.mode == SOFT:
        outputs = every() if every is not None else [one(i) for i in range(len(weights))]
        return weighted_sum(outputs, weights, label)
    out = one(chosen)
    if mixture.mode == HARD:
        return scaled(out, weights[chosen])
    return gated(out, weights, every or (lambda: [one(i) for i in range(len(weights))]))


def key_weights(weights: Sequence[torch.Tensor], key_index: torch.Tensor,
                n_keys: int) -> torch.Tensor:
    """Weights over a module's argument sets from its labels' weights: the products of the
    labels' weights for each combination of their candidates (row-major), summed per set
    (`key_index[combination]` is the set's index)."""
    outer = weights[0]
    for w in weights[1:]:
        outer = outer.unsqueeze(-1) * w
    return outer.new_zeros(n_keys).index_add(0, key_index, outer.reshape(-1))


def weighted_sum(outputs: Sequence[Any], weights: torch.Tensor, label: str) -> Any:
    """sum_i weights[i] * outputs[i], for tensors or (nested) lists of them of equal shapes."""
    first = outputs[0]
    if isinstance(first, list | tuple):
        if any(not isinstance(o, list | tuple) or len(o) != len(first) for o in outputs):
            raise _unsummable(label, "lists of different lengths")
        return type(first)(weighted_sum([o[j] for o in outputs], weights, label)
                           for j in range(len(first)))
    shapes = {tuple(o.shape) for o in outputs}
    if len(shapes) > 1:
        raise _unsummable(label, "shapes " + ", ".join(str(list(s)) for s in sorted(shapes)))
    total = first * weights[0]
    for i in range(1, len(outputs)):
        total = total + outputs[i] * weights[i]
    return total


def _unsummable(label: str, what: str) -> SpaceError:
    return SpaceError(f"one-shot: the candidates of '{label}' give outputs of different {what}, "
                      f"which {SUMMING} cannot sum: use {SINGLE_PATH_METHODS}")


def scaled(out: Any, weight: torch.Tensor) -> Any:
    """`out` times a scalar weight (1 in value for a straight-through sample)."""
    if isinstance(out, list | tuple):
        return type(out)(scaled(o, weight) for o in out)
    return out * weight


def _flat(out: Any) -> list[torch.Tensor]:
    if isinstance(out, list | tuple):
        return [t for o in out for t in _flat(o)]
    return [out]


def _inner(grads: Sequence[torch.Tensor | None], outs: list[torch.Tensor]) -> torch.Tensor:
    """The inner product of an output's gradients with a candidate's outputs."""
    terms = [(g * o).sum() for g, o in zip(grads, outs) if g is not None]
    return functools.reduce(operator.add, terms) if terms else torch.zeros(())


def _rebuild(like: Any, flat: list[torch.Tensor]) -> Any:
    if isinstance(like, list | tuple):
        items = []
        for item in like:
            n = len(_flat(item))
            items.append(_rebuild(item, flat[:n]))
            flat = flat[n:]
        return type(like)(items)
    return flat[0]


class _BinaryGates(torch.autograd.Function):
    """Zeros in the forward pass; in the backward pass, the gradient of each candidate's gate:
    the inner product of the output's gradient with that candidate's output (computed then,
    without a graph: the memory of one path)."""

    @staticmethod
    def forward(ctx: Any, weights: torch.Tensor, every: Any, *outputs: torch.Tensor) -> Any:
        ctx.every = every
        zeros = tuple(torch.zeros_like(o) for o in outputs)
        return zeros if len(zeros) > 1 else zeros[0]

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> Any:
        with torch.no_grad():
            candidates = [_flat(o) for o in ctx.every()]
        gate = torch.stack([_inner(grads, outs) for outs in candidates])
        ctx.every = None
        return (gate, None, *(None for _ in grads))


def gated(out: Any, weights: torch.Tensor, every: Callable[[], list[Any]]) -> Any:
    """`out` unchanged in value, with ProxylessNAS's gate gradients flowing to `weights`."""
    flat = _flat(out)
    zeros = _BinaryGates.apply(weights, every, *(t.detach() for t in flat))
    zeros = zeros if isinstance(zeros, tuple) else (zeros,)
    return _rebuild(out, [t + z for t, z in zip(flat, zeros)])
