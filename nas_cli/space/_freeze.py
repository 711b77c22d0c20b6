"""Freezing: a plain torch module for one architecture of a space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from nas_cli.space._context import fixed_arch
from nas_cli.space._discover import instantiate, search_space
from nas_cli.space._mutator import Mutator


def freeze(model_class: type[nn.Module], arch: Mapping[str, Any], *,
           mutators: Sequence[Mutator] = (), allow_unknown: bool = False,
           **init_kwargs: Any) -> nn.Module:
    """Build `model_class` with `arch`: no mutable is left in the returned module.

    `arch` may be one NNI wrote (its automatic labels, indices as strings); with
    `allow_unknown`, labels the space does not have are dropped with a warning.

    >>> model = freeze(Net, {"hidden": 64, "conv": 1})
    """
    canonical = search_space(model_class, init_kwargs, mutators).validate(
        arch, allow_unknown=allow_unknown)
    with fixed_arch(canonical, _validated=True):
        model = instantiate(model_class, init_kwargs)
    for mutator in mutators:
        model = mutator.apply(model, lambda label, candidates: canonical[label])
    return model
