"""One-shot search: a weight-sharing supernet built from the unchanged model space, trained
once, then searched on the weights each sub-network inherits: SPOS, and the methods that learn
a distribution over architectures while the supernet trains (DARTS, Gumbel DARTS,
ProxylessNAS, ENAS).

| name         | what                                                              |
|--------------|-------------------------------------------------------------------|
| `Supernet`   | the space with every candidate; `activate(arch)`, `subnet(arch)`  |
| mixed modules| `MixedLayer`, `MixedInput`, `MixedRepeat`, `MixedCell`, `MixedOperation`, `MixedCopies` |
| `Mixture`    | how mixed modules weigh their candidates in a step (soft, hard, gate) |
| `ArchDistribution` | the learned distribution: one categorical per decision label |
| `CostTable`, `measure_costs` | each candidate's params, FLOPs and latency; expected costs |
| `train_supernet` | phase 1: the supernet (and the method's distribution) trained |
| `OneShotPhases` | runs a one-shot spec on the engine: supernet, search, retrain |

Names are imported on first use: readers of an experiment's files (`nas status`, `nas
report`) do not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_cli._lazy import lazy_getattr

if TYPE_CHECKING:
    from nas_cli.oneshot._cost import CostTable, measure_costs
    from nas_cli.oneshot._distribution import ArchDistribution
    from nas_cli.oneshot._export import InheritedWeights
    from nas_cli.oneshot._files import SUPERNET_DIR, read_progress
    from nas_cli.oneshot._mixed import (
        ActivePath,
        Mixed,
        MixedCell,
        MixedCopies,
        MixedInput,
        MixedLayer,
        MixedOperation,
        MixedRepeat,
    )
    from nas_cli.oneshot._phases import OneShotPhases
    from nas_cli.oneshot._supernet import SINGLE_PATH, Supernet, check_supernet
    from nas_cli.oneshot._train import train_supernet
    from nas_cli.oneshot._weighted import Mixture

_LAZY = {
    "CostTable": "nas_cli.oneshot._cost",
    "measure_costs": "nas_cli.oneshot._cost",
    "ArchDistribution": "nas_cli.oneshot._distribution",
    "InheritedWeights": "nas_cli.oneshot._export",
    "SUPERNET_DIR": "nas_cli.oneshot._files",  # an experiment's supernet files, for readers
    "read_progress": "nas_cli.oneshot._files",
    **{name: "nas_cli.oneshot._mixed" for name in (
        "ActivePath", "Mixed", "MixedCell", "MixedCopies", "MixedInput", "MixedLayer",
        "MixedOperation", "MixedRepeat")},
    "OneShotPhases": "nas_cli.oneshot._phases",
    "SINGLE_PATH": "nas_cli.oneshot._supernet",
    "Supernet": "nas_cli.oneshot._supernet",
    "check_supernet": "nas_cli.oneshot._supernet",
    "train_supernet": "nas_cli.oneshot._train",
    "Mixture": "nas_cli.oneshot._weighted",
}

__all__ = ["SINGLE_PATH", "SUPERNET_DIR", "ActivePath", "ArchDistribution", "CostTable",
           "InheritedWeights", "Mixed", "MixedCell",
           "MixedCopies", "MixedInput", "MixedLayer", "MixedOperation", "MixedRepeat",
           "Mixture", "OneShotPhases", "Supernet", "check_supernet", "measure_costs",
           "read_progress", "train_supernet"]

__getattr__ = lazy_getattr(__name__, _LAZY)
