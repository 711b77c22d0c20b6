"""The one-shot methods: what each training step of the supernet runs, and what each method
learns from validation batches.

| method        | weight step (training batch)            | architecture step (validation batch)        |
|---------------|-----------------------------------------|---------------------------------------------|
| spos          | one uniformly sampled path              | none                                        |
| darts         | every candidate, softmax weights        | gradient of the loss on the weights' logits |
| gumbel_darts  | a Gumbel-softmax sample (hard: one path)| gradient through the sample (straight-through when hard) |
| proxyless     | one path drawn from the distribution    | binary-gate gradient from every candidate's output |
| enas          | one path drawn from the controller      | REINFORCE: the path's accuracy minus a moving-average baseline |

The learned methods keep an `ArchDistribution` (one categorical per decision label: ENAS's
controller too, not an LSTM) with its own Adam optimizer. Architecture steps run with batch
norm using the batch's statistics without moving the running ones. An optional penalty adds
the expected hardware cost (see `_cost`) to the architecture's loss (ENAS: subtracts the
sampled path's cost from its reward).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_cli.errors import SpaceError
from nas_cli.oneshot._cost import CostTable
from nas_cli.oneshot._distribution import ArchDistribution
from nas_cli.oneshot._mixed import ArgumentChoice, MixedCell, MixedInput, MixedLayer
from nas_cli.oneshot._weighted import GATE, HARD, SINGLE_PATH_METHODS, SOFT, Mixture


@contextlib.contextmanager
def frozen_norms(model: nn.Module) -> Iterator[None]:
    """Batch norm normalizes with the batch's statistics but leaves the running ones as they
    are (architecture steps must not move them with validation data)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum


class SPOS:
    """Uniform single-path sampling: nothing is learned; the epoch end validates fixed paths."""

    name = "spos"
    learned = False

    def __init__(self, supernet: Any, *, seed: int, fair: bool = True, eval_paths: int = 3):
        self.supernet = supernet
        self.fair = fair
        self.rng = random.Random(seed)
        paths = random.Random(seed + 1)
        self.watched = [supernet.sample(paths, fair=fair) for _ in range(eval_paths)]

    def weight_path(self) -> None:
        self.supernet.activate(self.supernet.sample(self.rng, fair=self.fair))

    def state_dict(self) -> dict[str, Any]:
        return {"path_rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.setstate(_as_state(state["path_rng"]))

    def epoch_start(self, epoch: int, epochs: int) -> None:
        pass

    def report(self) -> dict[str, Any]:
        return {}


def _as_state(value: Any) -> Any:
    """A `random.Random` state back from its saved form (lists where tuples were)."""
    if isinstance(value, list):
        return tuple(_as_state(v) for v in value)
    return value


class Learned:
    """What DARTS, Gumbel DARTS, ProxylessNAS and ENAS share: the distribution, its optimizer,
    the penalty, and the epoch's report."""

    name = ""
    learned = True
    betas = (0.5, 0.999)  # DARTS's architecture optimizer

    def __init__(self, supernet: Any, params: Any, cost: CostTable | None):
        self.supernet = supernet
        self.params = params
        self.dist = ArchDistribution(supernet.space)
        self.optimizer = torch.optim.Adam(self.dist.parameters(), lr=params.arch_learning_rate,
                                          betas=self.betas,
                                          weight_decay=params.arch_weight_decay)
        self.cost = cost
        self.penalty = params.penalty
        self.reference: float | None = None  # the penalty's scale without a target
        if cost is not None and self.penalty is not None:
            with torch.no_grad():
                self.reference = float(cost.expected(self.dist.probs(), self.penalty.metric))
        self.last: dict[str, float] = {}      # the last architecture step's numbers
        self.pending_optimizer: Any = None    # a resumed optimizer's state, until on_device

    @property
    def watched(self) -> list[dict[str, Any]]:
        return [self.dist.derived()]

    # --- the steps --------------------------------------------------------------------------
    def weight_path(self) -> None:
        """Set the path (and mixture) a weight step trains."""
        raise NotImplementedError

    def arch_step(self, loss_of: Any, batch: tuple[torch.Tensor, torch.Tensor], *,
                  train: tuple[torch.Tensor, torch.Tensor] | None = None,
                  weight_lr: float = 0.0) -> None:
        """One step of the distribution on the validation `batch` (`train`, the weight step's
        batch, and `weight_lr`, its learning rate: for second-order DARTS)."""
        raise NotImplementedError

    def _descend(self, loss: torch.Tensor) -> None:
        """One step of the architecture optimizer on `loss` (only the logits get gradients)."""
        loss = loss + self._penalty()
        params = list(self.dist.parameters())
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for param, grad in zip(params, grads):
            param.grad = grad
        self.optimizer.step()
        self.last["arch_loss"] = float(loss.detach())

    def _penalty(self) -> torch.Tensor:
        zero = self.dist.logits[0].new_zeros(())
        if self.penalty is None or self.cost is None:
            return zero
        expected = self.cost.expected(self.dist.probs(), self.penalty.metric)
        self.last[f"expected_{self.penalty.metric}"] = float(expected.detach())
        return self.penalty_of(expected)

    def penalty_of(self, cost: Any) -> Any:
        """weight * cost / target above the target (none below it); without a target,
        weight * cost / the untrained distribution's expected cost."""
        penalty = self.penalty
        if penalty.target is not None:
            over = cost / penalty.target - 1
            return penalty.weight * (over.clamp(min=0) if isinstance(over, torch.Tensor)
                                     else max(over, 0.0))
        return penalty.weight * cost / max(self.reference or 1.0, 1e-12)

    def clear(self) -> None:
        self.supernet.path.mixture = None

    def activate(self, indices: dict[str, int]) -> dict[str, Any]:
        """Run the architecture `indices` gives; the path also holds the drawn values of the
        inactive decisions (a gate or a hard sample computing a candidate that is not taken
        runs the decisions nested in it as drawn)."""
        arch = self.supernet.activate(self.dist.arch_of(indices))
        space = self.supernet.space
        self.supernet.path.set({**{label: space.decisions[label].candidates[i]
                                   for label, i in indices.items()}, **arch})
        return arch

    # --- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"dist": self.dist.state_dict(), "optimizer": self.optimizer.state_dict(),
                "reference": self.reference, **self._extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint's state; the optimizer's once on its device (`on_device`)."""
        self.dist.load_state_dict(state["dist"])
        self.pending_optimizer = state["optimizer"]
        self.reference = state.get("reference")
        self._load_extra(state)

    def on_device(self) -> None:
        """The distribution is where it trains: restore the optimizer's moments there."""
        if self.pending_optimizer is not None:
            self.optimizer.load_state_dict(self.pending_optimizer)
            self.pending_optimizer = None

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra(self, state: dict[str, Any]) -> None:
        pass

    def epoch_start(self, epoch: int, epochs: int) -> None:
        pass

    def report(self) -> dict[str, Any]:
        """What the epoch's history row adds: the derived architecture's probability and
        table costs, and the method's own numbers."""
        derived = self.dist.derived()
        row: dict[str, Any] = {"arch_prob": round(self.dist.probability(derived), 6)}
        if self.cost is not None:
            space = self.supernet.space
            for metric in self.cost.metrics:
                row[f"derived_{metric}"] = round(self.cost.of(derived, space, metric), 4)
        row.update({k: round(v, 6) for k, v in self.last.items()})
        return row


class DARTS(Learned):
    """DARTS: the weights train on the softmax mixture; the logits follow the validation
    loss's gradient at the current weights (first order), or, with `unrolled`, at the weights
    one virtual training step ahead (second order, the DARTS paper's eq. 7-8)."""

    name = "darts"
    mode = SOFT

    def __init__(self, supernet: Any, params: Any, cost: CostTable | None):
        super().__init__(supernet, params, cost)
        self.unrolled = bool(getattr(params, "unrolled", False))

    def weights(self, *, grad: bool) -> dict[str, torch.Tensor]:
        probs = self.dist.probs()
        return probs if grad else {k: v.detach() for k, v in probs.items()}

    def weight_path(self) -> None:
        self.supernet.path.mixture = Mixture(self.mode, self.weights(grad=False))

    def arch_step(self, loss_of: Any, batch: tuple[torch.Tensor, torch.Tensor], *,
                  train: tuple[torch.Tensor, torch.Tensor] | None = None,
                  weight_lr: float = 0.0) -> None:
        if self.unrolled and train is not None:
            self._unrolled_step(loss_of, batch, train, weight_lr)
            return
        self.supernet.path.mixture = Mixture(self.mode, self.weights(grad=True))
        x, y = batch
        self._descend(loss_of(self.supernet(x), y))

    def _grads(self, loss_of: Any, batch: tuple[torch.Tensor, torch.Tensor],
               of: list[torch.Tensor], *, arch_grad: bool) -> tuple[Any, list[torch.Tensor]]:
        """The loss on `batch` and its gradient in `of` (zeros where it does not reach)."""
        self.supernet.path.mixture = Mixture(self.mode, self.weights(grad=arch_grad))
        x, y = batch
        loss = loss_of(self.supernet(x), y)
        grads = torch.autograd.grad(loss, of, allow_unused=True)
        return loss, [torch.zeros_like(p) if g is None else g for p, g in zip(of, grads)]

    def _unrolled_step(self, loss_of: Any, batch: tuple[torch.Tensor, torch.Tensor],
                       train: tuple[torch.Tensor, torch.Tensor], xi: float) -> None:
        """grad_a L_val(w', a) - xi * grad2_{a,w} L_train(w, a) . grad_w' L_val(w', a), with
        w' = w - xi * grad_w L_train(w, a) (a plain gradient step at the weights' learning
        rate) and the Hessian-vector product by central differences at w +- eps * grad_w'
        L_val (eps = 0.01 / its norm), as the DARTS paper does."""
        weights: list[torch.Tensor] = [p for p in self.supernet.parameters() if p.requires_grad]
        alphas: list[torch.Tensor] = list(self.dist.parameters())
        saved = [w.detach().clone() for w in weights]
        try:
            _, step = self._grads(loss_of, train, weights, arch_grad=False)
            with torch.no_grad():
                for w, g in zip(weights, step):
                    w.sub_(xi * g)
            loss, both = self._grads(loss_of, batch, alphas + weights, arch_grad=True)
            d_alpha, d_weights = both[:len(alphas)], both[len(alphas):]
            norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in d_weights))
            eps = 0.01 / norm if norm > 0 else 0.0
            sides = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for w, w0, g in zip(weights, saved, d_weights):
                        w.copy_(w0).add_(g, alpha=sign * eps)
                sides.append(self._grads(loss_of, train, alphas, arch_grad=True)[1])
        finally:
            with torch.no_grad():
                for w, w0 in zip(weights, saved):
                    w.copy_(w0)
        penalty = self._penalty()  # depends on the logits alone: its gradient adds as it is
        penalty_grads = (torch.autograd.grad(penalty, alphas, allow_unused=True)
                         if penalty.requires_grad else (None,) * len(alphas))
        for alpha, g, plus, minus, pg in zip(alphas, d_alpha, *sides, penalty_grads):
            grad = g - xi * (plus - minus) / (2 * eps) if eps else g
            alpha.grad = grad if pg is None else grad + pg
        self.optimizer.step()
        self.last["arch_loss"] = float((loss + penalty).detach())


class GumbelDARTS(DARTS):
    """Gumbel-softmax samples of the distribution at an annealed temperature; hard samples run
    one path (GDAS), soft ones weigh every candidate (SNAS)."""

    name = "gumbel_darts"

    def __init__(self, supernet: Any, params: Any, cost: CostTable | None):
        super().__init__(supernet, params, cost)
        self.mode = HARD if params.hard else SOFT
        self.temperature = params.initial_temperature

    def epoch_start(self, epoch: int, epochs: int) -> None:
        first, last = self.params.initial_temperature, self.params.final_temperature
        self.temperature = first + (last - first) * epoch / max(epochs - 1, 1)

    def weights(self, *, grad: bool) -> dict[str, torch.Tensor]:
        samples = {label: F.gumbel_softmax(logits, tau=self.temperature, hard=self.params.hard)
                   for label, logits in zip(self.dist.labels, self.dist.logits)}
        if self.params.hard:
            self.activate({label: int(sample.argmax()) for label, sample in samples.items()})
        return samples if grad else {k: v.detach() for k, v in samples.items()}

    def report(self) -> dict[str, Any]:
        return {**super().report(), "temperature": round(self.temperature, 6)}


class Proxyless(Learned):
    """ProxylessNAS: one path drawn from the distribution per step; the architecture step's
    gradient reaches every candidate's logit through binary gates (every candidate's output on
    the step's input, computed in the backward pass without a graph)."""

    name = "proxyless"
    betas = (0.0, 0.999)  # ProxylessNAS's architecture optimizer

    def weight_path(self) -> None:
        self.activate(self.dist.draw())
        self.supernet.path.mixture = None

    def arch_step(self, loss_of: Any, batch: tuple[torch.Tensor, torch.Tensor], *,
                  train: tuple[torch.Tensor, torch.Tensor] | None = None,
                  weight_lr: float = 0.0) -> None:
        self.activate(self.dist.draw())
        self.supernet.path.mixture = Mixture(GATE, self.dist.probs())
        x, y = batch
        self._descend(loss_of(self.supernet(x), y))


class ENAS(Learned):
    """ENAS with one categorical distribution per decision as its controller: paths drawn from
    it train the shared weights; REINFORCE on a drawn path's validation reward (accuracy, or
    minus the loss for regression) against a moving-average baseline, plus an entropy bonus."""

    name = "enas"
    betas = (0.9, 0.999)

    def __init__(self, supernet: Any, params: Any, cost: CostTable | None):
        super().__init__(supernet, params, cost)
        self.baseline: float | None = None

    def weight_path(self) -> None:
        self.activate(self.dist.draw())
        self.supernet.path.mixture = None

    def arch_step(self, loss_of: Any, batch: tuple[torch.Tensor, torch.Tensor], *,
                  train: tuple[torch.Tensor, torch.Tensor] | None = None,
                  weight_lr: float = 0.0) -> None:
        arch = self.activate(self.dist.draw())
        self.supernet.path.mixture = None
        x, y = batch
        with torch.no_grad():
            out = self.supernet(x)
            reward = (float((out.argmax(1) == y).float().mean()) if out.dim() == 2
                      and not torch.is_floating_point(y) else -float(loss_of(out, y)))
        if self.penalty is not None and self.cost is not None:
            cost = self.cost.of(arch, self.supernet.space, self.penalty.metric)
            reward -= self.penalty_of(cost)
            self.last[f"sampled_{self.penalty.metric}"] = cost
        self.baseline = reward if self.baseline is None else (
            self.params.baseline_decay * self.baseline + (1 - self.params.baseline_decay) * reward)
        loss = (-(reward - self.baseline) * self.dist.log_prob(arch)
                - self.params.entropy_weight * self.dist.entropy())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.last.update(reward=reward, baseline=self.baseline)

    def _extra_state(self) -> dict[str, Any]:
        return {"baseline": self.baseline}

    def _load_extra(self, state: dict[str, Any]) -> None:
        self.baseline = state.get("baseline")


LEARNED_METHODS: dict[str, type[Learned]] = {
    cls.name: cls for cls in (DARTS, GumbelDARTS, Proxyless, ENAS)}


def check_method(supernet: Any, name: str, params: Any) -> None:
    """Refuse (SpaceError, one line naming the label) what `name` cannot search, before any
    training: a ValueChoice read as an attribute (no gradient reaches it), a ValueChoice module
    argument under ProxylessNAS (as in NNI), and, where candidates are summed, a loose-end
    cell, a choice of any number of inputs that concatenates them, a convolution whose stride
    is chosen (outputs of different sizes). (An attribute whose label a mixed module also
    decides on learns through that module.)"""
    if name in ("spos", "enas"):
        return
    summing = name == "darts" or (name == "gumbel_darts" and not params.hard)
    label_of = f"one-shot {name}:"
    from nas_cli.oneshot._supernet import mixed_labels

    mixed = mixed_labels(supernet.model)
    for module, attribute, value in supernet._attributes:
        alone = [leaf.label for leaf in value.leaves() if leaf.label not in mixed]
        if alone:  # a label only an attribute reads: no gradient can reach it
            raise SpaceError(f"{label_of} '{alone[0]}' is a ValueChoice that "
                             f"{type(module).__name__} keeps as the attribute '{attribute}' (read "
                             "in forward); no gradient reaches it: use enas or spos")
    for module in supernet.modules():
        if name == "proxyless" and isinstance(module, ArgumentChoice):
            raise SpaceError(f"{label_of} {module.where} takes ValueChoice arguments "
                             f"({', '.join(module.labels)}), which ProxylessNAS does not handle "
                             "(as in NNI): use darts, gumbel_darts, enas or spos")
        if not summing:
            continue
        if isinstance(module, MixedCell) and module.merge_op == "loose_end":
            raise SpaceError(f"{label_of} cell '{module.label}' concatenates its loose ends, "
                             "which depend on the inputs chosen, so its candidates cannot be "
                             f"summed: use {SINGLE_PATH_METHODS}")
        if isinstance(module, MixedInput) and module.n_chosen is None and \
                module.reduction in ("concat", "none"):
            raise SpaceError(f"{label_of} '{module.label}' takes any number of inputs and "
                             f"{'concatenates' if module.reduction == 'concat' else 'returns'} "
                             f"them, so its candidates cannot be summed: use {SINGLE_PATH_METHODS}")
        if isinstance(module, ArgumentChoice) and len({
                getattr(s, "stride", None) for s in getattr(module, "_shells", {}).values()}) > 1:
            raise SpaceError(f"{label_of} {module.where} chooses its stride "
                             f"({', '.join(module.labels)}), so its candidates' outputs differ "
                             f"in size and cannot be summed: use {SINGLE_PATH_METHODS}")


def param_free(supernet: Any) -> dict[str, list[bool]]:
    """For each LayerChoice label, which of its candidates hold no parameters (skip
    connections, pooling, zero): a derived architecture made mostly of them is DARTS's known
    collapse."""
    out: dict[str, list[bool]] = {}
    for module in supernet.modules():
        if isinstance(module, MixedLayer) and module.label not in out:
            out[module.label] = [not any(True for _ in c.parameters()) for c in module.candidates]
    return out
